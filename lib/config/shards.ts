/**
 * Validation of `shards`: names, fixed masters and replicas, or Sentinel
 * master names. Every address may appear once across the whole fleet.
 */
import { DEFAULTS } from "./defaults.js";
import { describe, formatAddress, parseAddress } from "./address.js";
import { isPlainObject, unknownKeys } from "./checks.js";
import type { Address } from "./types.js";

export interface ResolvedShard {
  readonly name: string;
  readonly index: number;
  readonly weight: number;
  /** Fixed master; undefined when Sentinel names it (masterName). */
  readonly master: Address | undefined;
  /** Fixed replicas (Sentinel-managed shards discover theirs). */
  readonly replicas: readonly Address[];
  /** The master's name in Sentinel. */
  readonly masterName: string | undefined;
}

const SHARD_FIELDS = ["name", "master", "replicas", "masterName", "weight"];
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MASTER_NAME_RE = /^[^\s]{1,128}$/;
/** Shard indexes live in 16-bit tables (slot owners, ketama buckets). */
const MAX_SHARDS = 4096;

export function resolveShards(value: unknown, problems: string[]): ResolvedShard[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`shards must be a non-empty array (got ${describe(value)})`);
    return [];
  }
  if (value.length > MAX_SHARDS) {
    problems.push(`shards has ${value.length} entries; at most ${MAX_SHARDS} are supported`);
    return [];
  }
  const shards: ResolvedShard[] = [];
  const names = new Map<string, number>();
  const masterNames = new Map<string, number>();
  const addresses = new Map<string, string>();

  /** Parses an address and checks it appears nowhere else in the fleet. */
  const address = (input: unknown, where: string): Address | undefined => {
    const parsed = parseAddress(input);
    if (!parsed.ok) {
      problems.push(`${where} ${parsed.problem}`);
      return undefined;
    }
    const key = formatAddress(parsed.address);
    const seen = addresses.get(key);
    if (seen) {
      problems.push(`${where} ${key} duplicates ${seen}`);
      return undefined;
    }
    addresses.set(key, where);
    return parsed.address;
  };

  value.forEach((entry: unknown, index) => {
    const where = `shards[${index}]`;
    if (!isPlainObject(entry)) {
      problems.push(`${where} must be an object { name, master } or { name, masterName } (got ${describe(entry)})`);
      return;
    }
    const before = problems.length;
    unknownKeys(entry, SHARD_FIELDS, `field in ${where}`, problems);
    const name = entry.name;
    if (typeof name !== "string" || !NAME_RE.test(name)) {
      problems.push(`${where}.name must be 1-64 letters, digits, '_', '.' or '-' (got ${describe(name)})`);
    } else if (names.has(name)) {
      problems.push(`${where}.name '${name}' duplicates shards[${names.get(name)}].name`);
    } else {
      names.set(name, index);
    }

    let master: Address | undefined;
    let masterName: string | undefined;
    const replicas: Address[] = [];
    if (entry.master !== undefined && entry.masterName !== undefined) {
      problems.push(`${where} gives both master and masterName; give one`);
    } else if (entry.masterName !== undefined) {
      if (typeof entry.masterName !== "string" || !MASTER_NAME_RE.test(entry.masterName)) {
        problems.push(`${where}.masterName must be a name without spaces (got ${describe(entry.masterName)})`);
      } else if (masterNames.has(entry.masterName)) {
        problems.push(`${where}.masterName '${entry.masterName}' duplicates shards[${masterNames.get(entry.masterName)}].masterName`);
      } else {
        masterName = entry.masterName;
        masterNames.set(masterName, index);
      }
      if (entry.replicas !== undefined) problems.push(`${where}.replicas: replicas of a Sentinel-managed shard are discovered; remove them`);
    } else if (entry.master === undefined) {
      problems.push(`${where} needs master ("host:port") or masterName (discovered through sentinels)`);
    } else {
      master = address(entry.master, `${where}.master`);
      if (entry.replicas !== undefined) {
        if (!Array.isArray(entry.replicas)) problems.push(`${where}.replicas must be an array of addresses`);
        else entry.replicas.forEach((r: unknown, i) => {
          const replica = address(r, `${where}.replicas[${i}]`);
          if (replica) replicas.push(replica);
        });
      }
    }

    const weight = entry.weight ?? DEFAULTS.weight;
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) {
      problems.push(`${where}.weight must be a number greater than 0 (got ${describe(entry.weight)})`);
    }
    if (problems.length === before) {
      shards.push({ name: name as string, index: shards.length, weight: weight as number, master, replicas, masterName });
    }
  });
  return shards;
}
