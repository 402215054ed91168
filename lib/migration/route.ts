/**
 * Where a command on moving keys goes in each phase, as a pure function of
 * (the two placements, the phase, the command): the plan the Migrator runs.
 * A command none of whose keys moves gets undefined and is routed as without
 * a migration, by the placement in force (the old one up to the warm phase,
 * the new one from then on): one command, as before.
 *
 * Writes go to the owner that is authoritative in the phase (the old one up
 * to the switch, then the new one) and then invalidate the other owner of
 * every moving key: two writers' values could reach two servers in
 * different orders, an invalidation commutes.
 */
import { CrossShardError } from "../errors.js";
import { MigrationRefusedError } from "../errors/migration.js";
import { keyIndexes, type CommandSpec } from "../routing/commandSpec.js";
import type { Args, Route } from "../routing/plan.js";
import type { Phase } from "./clock.js";
import type { Placement } from "./placement.js";

/** The old and new placements of a migration. */
export interface Placements {
  readonly from: Placement;
  readonly to: Placement;
}

/** Keys to invalidate, by the shard (union index) that holds the copy to clear. */
export type Invalidations = Map<number, Array<string | Buffer>>;

export type MoveRoute =
  /** A read on one placement's owners, no fallback (dual: the old; switch: the new). */
  | { readonly kind: "read"; readonly route: Route }
  /** A read in the warm phase: the new owner, falling back to the old one on a miss. `to` undefined: the keys are on several new owners, read the old ones. */
  | { readonly kind: "warm"; readonly from: Route; readonly to: Route | undefined; readonly moving: ReadonlyArray<string | Buffer> }
  /** A write on the authoritative owners, then the other owners of the moving keys invalidated. */
  | { readonly kind: "write"; readonly route: Route; readonly side: "from" | "to"; readonly invalidate: Invalidations };

const KEYED_SCANS = new Set(["sscan", "hscan", "zscan"]);

/** The phases in which a moving key's commands take a plan of their own (before and done route by one placement). */
export function moving(phase: Phase): boolean {
  return phase === "dual" || phase === "warm" || phase === "switch";
}

/** The command's keys (its channel counts for nothing here: pub/sub has its own rule). */
export function keysOf(spec: CommandSpec, args: Args): Array<string | Buffer> {
  // A sharded channel is declared as a key, but SPUBLISH writes none: routed like PUBLISH, by the placement in force.
  if (spec.name === "spublish") return [];
  if (spec.singleKeyIndex >= 0) return spec.singleKeyIndex < args.length ? [args[spec.singleKeyIndex]!] : [];
  if (!spec.known) return [];
  return keyIndexes(spec, args).map((i) => args[i]!);
}

/** The keys whose owner differs between the placements. */
export function movingKeys(placements: Placements, keys: ReadonlyArray<string | Buffer>): Array<string | Buffer> {
  return keys.filter((k) => placements.from.strategy.shardIndexOf(k) !== placements.to.strategy.shardIndexOf(k));
}

/**
 * The plan for a command in a phase of dual, warm or switch; undefined when
 * none of its keys moves. Throws what the command must be refused with:
 * MigrationRefusedError for a blocking command on a moving key (it would
 * wait on one owner while the other is written), CrossShardError for keys
 * the authoritative placement has on several shards of a command that
 * cannot be split.
 */
export function moveRoute(placements: Placements, phase: Phase, spec: CommandSpec, args: Args): MoveRoute | undefined {
  const keys = keysOf(spec, args);
  if (keys.length === 0) return undefined;
  const moved = movingKeys(placements, keys);
  if (moved.length === 0) return undefined;
  if (spec.blocking) {
    throw new MigrationRefusedError(spec.name, phase, "a blocking command would wait on one owner of a moving key while writers use the other");
  }
  const { from, to } = placements;
  if (spec.readOnly) {
    // A keyed scan's cursor belongs to one server's table: in warm it stays on the owner with every write (the old one), never
    // going from a copy to the original midway (a write invalidating the copy) and skipping members.
    if (phase === "dual" || (phase === "warm" && KEYED_SCANS.has(spec.name))) return { kind: "read", route: from.router.route(spec, args) };
    if (phase === "switch") return { kind: "read", route: to.router.route(spec, args) };
    return { kind: "warm", from: from.router.route(spec, args), to: routeOrUndefined(to, spec, args), moving: moved };
  }
  const side = phase === "switch" ? "to" : "from";
  const primary = side === "from" ? from : to;
  const other = side === "from" ? to : from;
  return { kind: "write", route: primary.router.route(spec, args), side, invalidate: invalidations(other, moved) };
}

/**
 * A MULTI/EXEC block (or a dedicated connection's work) on keys that move:
 * the one authoritative shard it runs on, and what to invalidate after it.
 * Undefined when none of its keys moves. CrossShardError when the keys are
 * on several authoritative shards.
 */
export function blockRoute(placements: Placements, phase: Phase, keys: ReadonlyArray<string | Buffer>): { readonly shard: number; readonly invalidate: Invalidations } | undefined {
  const moved = movingKeys(placements, keys);
  if (moved.length === 0) return undefined;
  const side = phase === "switch" ? placements.to : placements.from;
  const other = side === placements.to ? placements.from : placements.to;
  const shards = [...new Set(keys.map((k) => side.strategy.shardIndexOf(k)))];
  if (shards.length > 1) {
    throw new CrossShardError("multi", shards.map((s) => side.names[s]!), "during a migration a transaction's keys must share a shard before and after the change; give them one hash tag");
  }
  return { shard: shards[0]!, invalidate: invalidations(other, moved) };
}

export function invalidations(holder: Placement, keys: ReadonlyArray<string | Buffer>): Invalidations {
  const byShard: Invalidations = new Map();
  for (const key of keys) {
    const shard = holder.strategy.shardIndexOf(key);
    const list = byShard.get(shard);
    if (list) list.push(key);
    else byShard.set(shard, [key]);
  }
  return byShard;
}

/** The new placement's route, or undefined when the keys span its shards (a read then stays on the old owner). */
function routeOrUndefined(placement: Placement, spec: CommandSpec, args: Args): Route | undefined {
  try {
    return placement.router.route(spec, args);
  } catch (error) {
    if (error instanceof CrossShardError) return undefined;
    throw error;
  }
}
