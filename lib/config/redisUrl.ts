/**
 * ioredis's connection URLs as addresses: a shard's master or replica, or a
 * cluster seed, may be `redis://[user:password@]host[:port][/db][?option=value...]`
 * (`rediss://` for TLS), read as ioredis reads it. The address is the URL's
 * host and port (6379 when left out); the credentials, the db, TLS and the
 * query's options are connection options, which in shardis apply to every
 * node of the client: they go under `redis`, and a URL whose options differ
 * from another URL's or from `redis` cannot be honoured (a problem for the
 * ConfigError, never echoing a password). So is a query option shardis does
 * not have. Options without a URL are returned as they are.
 */
import { describe, formatAddress, quote } from "./address.js";
import { isPlainObject, type Check } from "./checks.js";

const URL_RE = /^rediss?:\/\//i;
const NUMBERS = new Set(["protocol", "db", "family", "connectTimeout", "keepAlive"]);
const BOOLEANS = new Set(["noDelay", "enableReadyCheck", "disableClientInfo", "stringNumbers"]);
/** Never taken from a URL's query: they are functions, objects, or come from the URL's own parts. */
const NOT_IN_QUERY = new Set(["credentials", "reauthenticateEveryMs", "tls", "username", "password"]);
const SECRETS = new Set(["password"]);

interface Found {
  readonly where: string;
  readonly options: Record<string, unknown>;
}

/**
 * The options with every URL address replaced by "host:port" and its
 * connection options folded into `redis`. `isConnectionField` names the
 * fields `redis` takes (REDIS_FIELDS and the accepted-and-ignored ones).
 */
export function fromUrls(input: Record<string, unknown>, isConnectionField: (key: string) => boolean, checks: Record<string, Check>, problems: string[]): Record<string, unknown> {
  const found: Found[] = [];
  const address = (value: unknown, where: string): unknown => {
    if (typeof value !== "string" || !URL_RE.test(value)) return value;
    const parsed = parseUrl(value, where, isConnectionField, checks, problems);
    if (!parsed) return value;
    found.push({ where, options: parsed.options });
    return parsed.address;
  };
  const shards = Array.isArray(input.shards)
    ? input.shards.map((shard: unknown, i) => {
        if (!isPlainObject(shard)) return shard;
        const where = `shards[${i}]`;
        const replicas = Array.isArray(shard.replicas) ? shard.replicas.map((r: unknown, j) => address(r, `${where}.replicas[${j}]`)) : shard.replicas;
        return { ...shard, master: address(shard.master, `${where}.master`), ...(shard.replicas !== undefined && { replicas }) };
      })
    : input.shards;
  const cluster = isPlainObject(input.cluster) && Array.isArray(input.cluster.seeds)
    ? { ...input.cluster, seeds: input.cluster.seeds.map((s: unknown, i) => address(s, `cluster.seeds[${i}]`)) }
    : input.cluster;
  if (found.length === 0) return input;

  const redis: Record<string, unknown> = isPlainObject(input.redis) ? { ...input.redis } : {};
  const from: Record<string, string> = {};
  for (const { where, options } of found) {
    for (const [key, value] of Object.entries(options)) {
      const before = redis[key];
      if (before === undefined || (key === "tls" && before !== false)) {
        redis[key] = key === "tls" && before !== undefined ? before : value;
        from[key] = where;
      } else if (before !== value) {
        const shown = SECRETS.has(key) ? "" : ` ${describe(value)}`;
        problems.push(`${where}: the URL's ${key}${shown} differs from ${from[key] ?? "redis"}'s: connection options apply to every node of a client, so URLs must agree with each other and with redis`);
      }
    }
  }
  return { ...input, ...(input.shards !== undefined && { shards }), ...(input.cluster !== undefined && { cluster }), redis };
}

function parseUrl(
  text: string,
  where: string,
  isConnectionField: (key: string) => boolean,
  checks: Record<string, Check>,
  problems: string[],
): { address: string; options: Record<string, unknown> } | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(`${where} ${quote(text)} is not a valid redis:// URL`);
    return undefined;
  }
  const options: Record<string, unknown> = {};
  if (url.username || url.password) {
    if (url.username) options.username = decodeURIComponent(url.username);
    options.password = decodeURIComponent(url.password);
  }
  if (url.pathname.length > 1) options.db = Number(url.pathname.slice(1));
  if (url.protocol.toLowerCase() === "rediss:") options.tls = true;
  for (const [key, raw] of url.searchParams) {
    if (NOT_IN_QUERY.has(key) || !isConnectionField(key)) {
      problems.push(`${where}: URL parameter '${key}' is not a connection option shardis can honour${NOT_IN_QUERY.has(key) ? " in a query (give it in redis, or in the URL's own parts)" : ""}`);
      continue;
    }
    options[key] = NUMBERS.has(key) && /^\d+$/.test(raw) ? Number(raw) : BOOLEANS.has(key) && (raw === "true" || raw === "false") ? raw === "true" : raw;
  }
  for (const [key, value] of Object.entries(options)) {
    const problem = key === "tls" ? undefined : checks[key]?.(value);
    if (problem) problems.push(`${where}: the URL's ${key} ${problem}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { address: formatAddress({ host, port: url.port === "" ? 6379 : Number(url.port) }), options };
}
