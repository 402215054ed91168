import type { Address } from "./types.js";

export type ParsedAddress = { ok: true; address: Address } | { ok: false; problem: string };

const PORT_RE = /^\d{1,5}$/;

/** Parses "host:port", "[ipv6]:port" or { host, port }; never throws. */
export function parseAddress(input: unknown): ParsedAddress {
  if (typeof input === "string") return parseAddressString(input);
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const extra = Object.keys(input).filter((k) => k !== "host" && k !== "port");
    if (extra.length) return { ok: false, problem: `unknown field(s) ${extra.map((k) => `'${k}'`).join(", ")}` };
    const { host, port } = input as { host?: unknown; port?: unknown };
    return check(host, port);
  }
  return { ok: false, problem: `must be "host:port" or { host, port } (got ${describe(input)})` };
}

function parseAddressString(text: string): ParsedAddress {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) return check(bracketed[1], portFromText(bracketed[2] ?? ""));
  const colon = text.lastIndexOf(":");
  if (colon === -1) return { ok: false, problem: `"${text}" has no port (expected "host:port")` };
  const host = text.slice(0, colon);
  if (host.includes(":")) return { ok: false, problem: `"${text}": write IPv6 hosts as "[addr]:port"` };
  return check(host, portFromText(text.slice(colon + 1)));
}

function portFromText(text: string): unknown {
  return PORT_RE.test(text) ? Number(text) : text;
}

function check(host: unknown, port: unknown): ParsedAddress {
  if (typeof host !== "string" || host.trim() === "" || /\s/.test(host)) {
    return { ok: false, problem: `host must be a non-empty string without spaces (got ${describe(host)})` };
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, problem: `port must be an integer from 1 to 65535 (got ${describe(port)})` };
  }
  return { ok: true, address: Object.freeze({ host, port }) };
}

/** "host:port", with brackets for IPv6; the key nodes are known by. */
export function formatAddress(address: Address): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
