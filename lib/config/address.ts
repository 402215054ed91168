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
  // ioredis takes "redis://user:password@host:port": here that would read as a host named after the password.
  if (text.includes("://") || text.includes("@")) {
    return { ok: false, problem: `${quote(text)} is a URL: write "host:port", and give credentials in redis.username and redis.password (or redis.credentials), TLS in redis.tls` };
  }
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) return check(bracketed[1], portFromText(bracketed[2] ?? ""));
  const colon = text.lastIndexOf(":");
  if (colon === -1) return { ok: false, problem: `${quote(text)} has no port (expected "host:port")` };
  const host = text.slice(0, colon);
  if (host.includes(":")) return { ok: false, problem: `${quote(text)}: write IPv6 hosts as "[addr]:port"` };
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

/** A value for a message, shortened; a string's credentials (a URL's "user:password@") are never shown. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    const text = withoutCredentials(value);
    return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  }
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** A string for a message, whole, in quotes, without credentials. */
export function quote(text: string): string {
  return JSON.stringify(withoutCredentials(text));
}

/** "redis://user:secret@host:6379" -> "redis://***@host:6379"; "secret@host" -> "***@host". */
export function withoutCredentials(text: string): string {
  const at = text.lastIndexOf("@");
  if (at === -1) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? "";
  return `${scheme}***${text.slice(at)}`;
}
