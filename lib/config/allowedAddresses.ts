/**
 * The patterns of `allowedAddresses`: `host`, `host:port` or `host:*`, where
 * the host may use `*` for one whole label (`10.0.0.*`, `*.cache.example`)
 * and no port means any port. A `*` never spans a dot, so `10.0.0.*` cannot
 * be met by a hostname such as `10.0.0.1.attacker.example`. IPv6 hosts are
 * written in brackets and match exactly. Hosts compare case-insensitively.
 */
import type { Address } from "./types.js";
import { describe } from "./address.js";

export type ParsedPattern = { ok: true; pattern: string } | { ok: false; problem: string };

const LABEL = /^(\*|[a-z0-9_-]+)$/;
const PORT = /^(\*|\d{1,5})$/;

/** Checks one entry and returns it normalized: lower-case host, explicit port (`*` for any). */
export function parsePattern(entry: unknown): ParsedPattern {
  if (typeof entry !== "string" || entry === "") return { ok: false, problem: `must be "host", "host:port" or "host:*" (got ${describe(entry)})` };
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(entry);
  const [host, port = "*"] = bracketed ? [`[${bracketed[1]!.toLowerCase()}]`, bracketed[2]] : splitPort(entry.toLowerCase());
  if (!PORT.test(port) || (port !== "*" && (Number(port) < 1 || Number(port) > 65535))) {
    return { ok: false, problem: `${describe(entry)}: the port must be 1-65535 or * (got ${describe(port)})` };
  }
  if (!bracketed) {
    const labels = host.split(".");
    if (host === "" || !labels.every((label) => LABEL.test(label))) {
      return { ok: false, problem: `${describe(entry)}: the host must be a name or address, with * for whole labels only ("10.0.0.*", "*.cache.example")` };
    }
    if (labels.every((label) => label === "*")) {
      return { ok: false, problem: `${describe(entry)} would match any host: leave allowedAddresses unset to allow every address` };
    }
  }
  return { ok: true, pattern: `${host}:${port}` };
}

function splitPort(text: string): [string, string | undefined] {
  const colon = text.lastIndexOf(":");
  return colon === -1 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
}

/** Whether `address` is one a normalized pattern allows. */
export function allows(pattern: string, address: Address): boolean {
  const colon = pattern.lastIndexOf(":");
  const port = pattern.slice(colon + 1);
  if (port !== "*" && Number(port) !== address.port) return false;
  const host = pattern.slice(0, colon);
  const actual = address.host.toLowerCase();
  if (host.startsWith("[")) return host === `[${actual}]`;
  const want = host.split(".");
  const have = actual.split(".");
  return want.length === have.length && want.every((label, i) => label === "*" || label === have[i]);
}
