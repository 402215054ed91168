/**
 * Validation of the high-availability options: sentinels and how to reach
 * them, which addresses a sentinel may send the client to, read policy,
 * replica health and write concern.
 */
import { DEFAULTS, MAX_TIMEOUT_MS } from "./defaults.js";
import { describe, formatAddress, parseAddress, quote } from "./address.js";
import { parsePattern } from "./allowedAddresses.js";
import { checkCredentials, intRange, isFunction, isPlainObject, isString, oneOf, tlsOption, unknownKeys, type Check } from "./checks.js";
import type { ResolvedShard } from "./shards.js";
import type { Address, NatMap, ReadPolicy, SentinelConnectionOptions, WriteConcern } from "./types.js";

export interface ResolvedHa {
  readonly sentinels: readonly Address[];
  readonly sentinelOptions: Readonly<SentinelConnectionOptions> & { readonly connectTimeout: number };
  readonly readFrom: ReadPolicy;
  readonly maxReplicaLagMs: number;
  readonly healthCheckIntervalMs: number;
  readonly topologyRefreshMs: number;
  readonly natMap: NatMap | undefined;
  /** Normalized "host:port" / "host:*" patterns (`*` labels in the host, see allowedAddresses.ts); undefined allows any address. */
  readonly allowedAddresses: readonly string[] | undefined;
  readonly writeConcern: Readonly<WriteConcern> | undefined;
}

export const HA_FIELDS = [
  "sentinels", "sentinelOptions", "readFrom", "maxReplicaLagMs", "healthCheckIntervalMs", "topologyRefreshMs",
  "natMap", "allowedAddresses", "writeConcern",
];

export const READ_POLICIES: readonly ReadPolicy[] = ["master", "replicaPreferred", "replica", "nearest", "any"];

const SENTINEL_FIELDS: Record<string, Check> = {
  username: isString,
  password: isString,
  credentials: isFunction,
  reauthenticateEveryMs: intRange(1000, MAX_TIMEOUT_MS),
  tls: (v) => (typeof v === "boolean" || isPlainObject(v) ? undefined : "must be true, false or tls options"),
  connectTimeout: intRange(1, MAX_TIMEOUT_MS),
};

export function resolveHa(options: Record<string, unknown>, shards: readonly ResolvedShard[], problems: string[]): ResolvedHa {
  const usesSentinel = shards.some((s) => s.masterName !== undefined);
  const sentinels: Address[] = [];
  if (options.sentinels === undefined) {
    if (usesSentinel) problems.push("sentinels must list at least one sentinel when a shard has a masterName");
  } else if (!Array.isArray(options.sentinels) || options.sentinels.length === 0) {
    problems.push(`sentinels must be a non-empty array of addresses (got ${describe(options.sentinels)})`);
  } else {
    if (!usesSentinel) problems.push("sentinels are given but no shard has a masterName");
    const seen = new Set<string>();
    options.sentinels.forEach((input: unknown, i) => {
      const parsed = parseAddress(input);
      if (!parsed.ok) problems.push(`sentinels[${i}] ${parsed.problem}`);
      else if (seen.has(formatAddress(parsed.address))) problems.push(`sentinels[${i}] ${formatAddress(parsed.address)} is listed twice`);
      else {
        seen.add(formatAddress(parsed.address));
        sentinels.push(parsed.address);
      }
    });
  }

  const sentinelOptions: Record<string, unknown> = { connectTimeout: DEFAULTS.sentinel.connectTimeout };
  if (options.sentinelOptions !== undefined) {
    if (!isPlainObject(options.sentinelOptions)) problems.push("sentinelOptions must be an object");
    else {
      for (const [key, v] of Object.entries(options.sentinelOptions)) {
        if (v === undefined) continue;
        const check = Object.hasOwn(SENTINEL_FIELDS, key) ? SENTINEL_FIELDS[key] : undefined;
        const problem = check ? check(v) : undefined;
        if (!check) problems.push(`unknown option 'sentinelOptions.${key}'`);
        else if (problem) problems.push(`sentinelOptions.${key} ${problem}`);
        else if (key !== "tls") sentinelOptions[key] = v;
        else if (v !== false) sentinelOptions.tls = tlsOption(v);
      }
      checkCredentials("sentinelOptions", options.sentinelOptions, problems);
    }
  }

  const number = (key: string, check: Check, fallback: number): number => {
    const value = options[key] ?? fallback;
    const problem = check(value);
    if (problem) problems.push(`${key} ${problem}`);
    return problem ? fallback : (value as number);
  };
  const readFrom = (options.readFrom ?? DEFAULTS.readFrom) as ReadPolicy;
  const readProblem = oneOf(...READ_POLICIES)(readFrom);
  if (readProblem) problems.push(`readFrom ${readProblem}`);

  return {
    sentinels,
    sentinelOptions: sentinelOptions as ResolvedHa["sentinelOptions"],
    readFrom: readProblem ? DEFAULTS.readFrom : readFrom,
    maxReplicaLagMs: number("maxReplicaLagMs", intRange(1, MAX_TIMEOUT_MS), DEFAULTS.maxReplicaLagMs),
    healthCheckIntervalMs: number("healthCheckIntervalMs", intRange(10, MAX_TIMEOUT_MS), DEFAULTS.healthCheckIntervalMs),
    topologyRefreshMs: number("topologyRefreshMs", intRange(100, MAX_TIMEOUT_MS), DEFAULTS.topologyRefreshMs),
    natMap: resolveNatMap(options.natMap, problems),
    allowedAddresses: resolveAllowed(options.allowedAddresses, problems),
    writeConcern: resolveWriteConcern(options.writeConcern, "writeConcern", problems),
  };
}

function resolveNatMap(value: unknown, problems: string[]): NatMap | undefined {
  if (value === undefined || typeof value === "function") return value as NatMap | undefined;
  if (!isPlainObject(value)) {
    problems.push(`natMap must be { "host:port": "host:port" } or a function (got ${describe(value)})`);
    return undefined;
  }
  const map: Record<string, string> = {};
  for (const [from, to] of Object.entries(value)) {
    const a = parseAddress(from);
    const b = parseAddress(to);
    if (!a.ok) problems.push(`natMap key ${quote(from)}: ${a.problem}`);
    else if (!b.ok) problems.push(`natMap[${quote(from)}] ${b.problem}`);
    else map[formatAddress(a.address)] = formatAddress(b.address);
  }
  return map;
}

function resolveAllowed(value: unknown, problems: string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    problems.push(`allowedAddresses must be an array of "host", "host:port" or "host:*" patterns (got ${describe(value)})`);
    return undefined;
  }
  const patterns: string[] = [];
  value.forEach((entry: unknown, i) => {
    const parsed = parsePattern(entry);
    if (parsed.ok) patterns.push(parsed.pattern);
    else problems.push(`allowedAddresses[${i}] ${parsed.problem}`);
  });
  return patterns;
}

/** Shared with per-call settings. */
export function resolveWriteConcern(value: unknown, where: string, problems: string[]): WriteConcern | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push(`${where} must be { replicas, timeoutMs } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, ["replicas", "timeoutMs"], `field in ${where}`, problems);
  const replicas = intRange(1, 1000)(value.replicas);
  const timeout = intRange(1, MAX_TIMEOUT_MS)(value.timeoutMs);
  if (replicas) problems.push(`${where}.replicas ${replicas}`);
  if (timeout) problems.push(`${where}.timeoutMs ${timeout} (0 would wait forever)`);
  return replicas || timeout ? undefined : { replicas: value.replicas as number, timeoutMs: value.timeoutMs as number };
}
