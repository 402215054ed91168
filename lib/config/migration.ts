/**
 * Validation of a live fleet change: the `migration` option (the fleet
 * before, when the phases start, how long they last) and reconfigure()'s
 * input. The client serves the union of both fleets: the shards after the
 * change first, in their order (so that placement keeps the indexes it
 * would have alone), then the shards only the fleet before has.
 */
import type { ShardingSpec } from "../sharding/create.js";
import { DEFAULTS, MAX_TIMEOUT_MS } from "./defaults.js";
import { describe, formatAddress } from "./address.js";
import { intRange, isPlainObject, unknownKeys } from "./checks.js";
import { resolveShards, type ResolvedShard } from "./shards.js";
import { resolveSharding } from "./sharding.js";

/** One fleet's placement: which of the client's shards (union indexes, in the fleet's order) and how keys go to them. */
export interface ResolvedPlacement {
  readonly shards: readonly number[];
  readonly sharding: ShardingSpec;
}

/** The phases' timing, as resolved. */
export interface ResolvedTiming {
  /** Epoch ms. */
  readonly startAt: number;
  readonly phaseMs: number;
  readonly clockSkewMs: number;
  readonly copyWindowMs: number;
}

export interface ResolvedMigration extends ResolvedTiming {
  readonly from: ResolvedPlacement;
  readonly to: ResolvedPlacement;
}

const MIGRATION_FIELDS = ["from", "startAt", "phaseMs", "clockSkewMs", "copyWindowMs"];
const FROM_FIELDS = ["shards", "sharding"];
const RECONFIGURE_FIELDS = ["shards", "sharding", "migration"];
/** A week: longer phases are a mistake (a unit confusion), not a plan. */
const MAX_PHASE_MS = 7 * 24 * 3600 * 1000;

/**
 * The `migration` option over the resolved `shards` (the fleet after): the
 * union of both fleets, and the migration with both placements. Problems are
 * added to `problems`; undefined when there is no migration.
 */
export function resolveMigration(
  value: unknown,
  to: readonly ResolvedShard[],
  toSharding: ShardingSpec | undefined,
  commandTimeoutMs: number,
  problems: string[],
): { union: ResolvedShard[]; migration: ResolvedMigration | undefined } {
  if (value === undefined) return { union: [...to], migration: undefined };
  if (!isPlainObject(value)) {
    problems.push(`migration must be an object { from, startAt, phaseMs } (got ${describe(value)})`);
    return { union: [...to], migration: undefined };
  }
  unknownKeys(value, MIGRATION_FIELDS, "field in migration", problems);
  const timing = resolveTiming(value, commandTimeoutMs, "migration", problems);
  const from = value.from;
  if (!isPlainObject(from)) {
    problems.push(`migration.from must be the fleet before the change, { shards, sharding } (got ${describe(from)})`);
    return { union: [...to], migration: undefined };
  }
  unknownKeys(from, FROM_FIELDS, "field in migration.from", problems);
  const own: string[] = [];
  const fromShards = resolveShards(from.shards, own);
  const fromSharding = own.length ? undefined : resolveSharding(from.sharding, fromShards, own);
  problems.push(...own.map((p) => `migration.from.${p}`));
  if (own.length || !fromSharding || !toSharding || !timing) return { union: [...to], migration: undefined };
  const { union, indexes } = unite(to, fromShards, "migration.from.shards", problems);
  return {
    union,
    migration: { ...timing, from: { shards: indexes, sharding: fromSharding }, to: { shards: to.map((_, i) => i), sharding: toSharding } },
  };
}

/** What reconfigure() resolves to: the client's shards after it (the current ones, plus those added), the new placement, the migration if any. */
export interface ResolvedReconfigure {
  readonly union: readonly ResolvedShard[];
  readonly to: ResolvedPlacement;
  readonly migration: ResolvedMigration | undefined;
}

/** The client as reconfigure() finds it. */
export interface ReconfigureContext {
  /** Every shard the client has (its layout's, released ones included), by index. */
  readonly shards: readonly ResolvedShard[];
  /** Whether the shard at an index was released (removed from the fleet; its nodes free for another shard). */
  readonly released?: (index: number) => boolean;
  /** The placement in force (the one the migration would start from). */
  readonly current: ResolvedPlacement;
  readonly commandTimeoutMs: number;
  /** Epoch ms. */
  readonly now: number;
}

/** Validates reconfigure()'s input against the client; ConfigError-style problems in `problems`. */
export function resolveReconfigure(value: unknown, context: ReconfigureContext, problems: string[]): ResolvedReconfigure | undefined {
  if (!isPlainObject(value)) {
    problems.push(`reconfigure() takes { shards, sharding?, migration? } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, RECONFIGURE_FIELDS, "field in reconfigure()", problems);
  const shards = resolveShards(value.shards, problems);
  const sharding = shards.length ? resolveSharding(value.sharding ?? sameStrategy(context.current.sharding), shards, problems) : undefined;
  const { union, indexes } = unite(context.shards, shards, "shards", problems, true, context.released);
  let migration: ResolvedMigration | undefined;
  if (value.migration !== undefined) {
    if (!isPlainObject(value.migration)) problems.push(`migration must be an object { startAt, phaseMs } (got ${describe(value.migration)})`);
    else {
      unknownKeys(value.migration, MIGRATION_FIELDS, "field in migration", problems);
      const timing = resolveTiming(value.migration, context.commandTimeoutMs, "migration", problems);
      if (timing && timing.startAt <= context.now) {
        problems.push(`migration.startAt must be in the future in reconfigure() (got ${new Date(timing.startAt).toISOString()}): every process must hold the migration before it starts`);
      }
      if (value.migration.from !== undefined) checkFrom(value.migration.from, context, problems);
      if (timing && sharding) migration = { ...timing, from: context.current, to: { shards: indexes, sharding } };
    }
  }
  if (problems.length || !sharding) return undefined;
  return { union, to: { shards: indexes, sharding }, migration };
}

/** The timing fields of a migration; undefined when one is wrong. */
function resolveTiming(value: Record<string, unknown>, commandTimeoutMs: number, where: string, problems: string[]): ResolvedTiming | undefined {
  const before = problems.length;
  const startAt = parseInstant(value.startAt);
  if (startAt === undefined) problems.push(`${where}.startAt must be an ISO 8601 date-time, a Date or epoch ms (got ${describe(value.startAt)})`);
  const field = (name: "phaseMs" | "clockSkewMs" | "copyWindowMs", min: number, max: number): number => {
    const given = value[name] ?? DEFAULTS.migration[name];
    const problem = intRange(min, max)(given);
    if (problem) problems.push(`${where}.${name} ${problem}`);
    return given as number;
  };
  const clockSkewMs = field("clockSkewMs", 0, 600_000);
  const copyWindowMs = field("copyWindowMs", 1, MAX_TIMEOUT_MS);
  const phaseMs = field("phaseMs", 1, MAX_PHASE_MS);
  if (problems.length > before) return undefined;
  // The phases' safety needs processes at most one phase apart, and a warm phase with room for copies.
  const least = 2 * (clockSkewMs + commandTimeoutMs + copyWindowMs);
  if (phaseMs < least) {
    problems.push(`${where}.phaseMs must be at least 2 * (clockSkewMs + commandTimeoutMs + copyWindowMs) = ${least} (got ${phaseMs})`);
    return undefined;
  }
  return { startAt: startAt!, phaseMs, clockSkewMs, copyWindowMs };
}

function parseInstant(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : undefined;
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

/**
 * `base` with `more` added: a shard of `more` named like one of `base` is
 * that shard (it must be the same nodes; a released one comes back at its
 * index); others are appended. Returns the union and `more`'s union
 * indexes. `fixedOnly`: appended shards need a fixed master (shards cannot
 * join Sentinel's watch at run time). A `released` shard's nodes are free.
 */
function unite(base: readonly ResolvedShard[], more: readonly ResolvedShard[], where: string, problems: string[], fixedOnly = false, released = (_: number) => false) {
  const union = [...base];
  const byName = new Map(base.map((s) => [s.name, s] as const));
  const owners = new Map<string, string>();
  for (const s of base) if (!released(s.index)) for (const address of nodesOf(s)) owners.set(address, s.name);
  const indexes = more.map((shard, i) => {
    const same = byName.get(shard.name);
    if (same && !sameNodes(same, shard)) problems.push(`${where}[${i}] '${shard.name}' has other nodes than the shard of that name in the other fleet; a shard keeps its nodes across the change (name it differently)`);
    if (same && !released(same.index)) return same.index;
    for (const address of nodesOf(shard)) {
      const owner = owners.get(address);
      if (owner !== undefined) problems.push(`${where}[${i}] '${shard.name}' uses ${address}, which shard '${owner}' uses`);
    }
    if (same) return same.index;
    if (fixedOnly && shard.master === undefined) problems.push(`${where}[${i}] '${shard.name}': a shard added at run time needs a fixed master (Sentinel-managed shards are configured when the client is made)`);
    const added = { ...shard, index: union.length };
    union.push(added);
    return added.index;
  });
  return { union, indexes };
}

function nodesOf(shard: ResolvedShard): string[] {
  return [...(shard.master ? [formatAddress(shard.master)] : []), ...shard.replicas.map(formatAddress), ...(shard.masterName ? [`sentinel:${shard.masterName}`] : [])];
}

function sameNodes(a: ResolvedShard, b: ResolvedShard): boolean {
  return nodesOf(a).sort().join() === nodesOf(b).sort().join();
}

/** reconfigure() without `sharding`: the current strategy (slots: default ranges over the new shards). */
function sameStrategy(current: ShardingSpec): Record<string, unknown> {
  return current.strategy === "ketama" ? { strategy: "ketama", hashTag: current.hashTag } : { strategy: "slots" };
}

/** reconfigure()'s `migration.from`, when given, must be the client's fleet now (the same config handed to every process). */
function checkFrom(value: unknown, context: ReconfigureContext, problems: string[]): void {
  const own: string[] = [];
  if (!isPlainObject(value)) {
    problems.push(`migration.from must be { shards, sharding } (got ${describe(value)})`);
    return;
  }
  const shards = resolveShards(value.shards, own);
  const sharding = own.length ? undefined : resolveSharding(value.sharding, shards, own);
  if (own.length || !sharding) {
    problems.push(...own.map((p) => `migration.from.${p}`));
    return;
  }
  const current = context.current.shards.map((i) => context.shards[i]!);
  const same =
    shards.length === current.length &&
    shards.every((s, i) => s.name === current[i]!.name && s.weight === current[i]!.weight && sameNodes(s, current[i]!)) &&
    JSON.stringify(sharding) === JSON.stringify(context.current.sharding);
  if (!same) problems.push(`migration.from is not the client's current fleet (${current.map((s) => s.name).join(", ")}, ${context.current.sharding.strategy}); leave it out in reconfigure(), or give the fleet this client serves now`);
}
