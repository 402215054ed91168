/**
 * A live migration on a test fleet of 4 servers (docs/scaling.md): clients
 * of s0..s3 migrating from s0..s2, their wall clock set by the test, and
 * where a key lives before and after. Shared by the migration test files.
 */
import { ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import type { Fleet } from "./fleet.js";

export const T0 = Date.parse("2026-12-10T10:00:00Z");
/** Room for a machine shared with other test runs: no test here is about timeouts or breakers. */
export const PATIENT = { commandTimeoutMs: 5000, breaker: { stallMs: 4000 }, pool: { acquireTimeoutMs: 5000 } } as const;
export const P = 60_000;
/** S = clockSkewMs (1 s) + commandTimeoutMs (5 s). */
export const S = 6000;
/** An instant in each phase (dualEarly: before every process is surely in dual; retire: past doneAt + S). */
export const AT = {
  before: T0 - 1000,
  dualEarly: T0 + 1,
  dual: T0 + S + 1,
  warm: T0 + P + 1,
  switch: T0 + 2 * P - 500,
  done: T0 + 2 * P + 1,
  retire: T0 + 2 * P + S + 1,
};
export type Phase = keyof typeof AT;

/** A client of s0..s3 migrating from s0..s2, its clock at `at` (moved by the returned `at`). */
export function migrating(fleet: Fleet, strategy: "slots" | "ketama", at: Phase, extra: Partial<ShardedClientOptions> = {}) {
  const clock = { now: AT[at] };
  const sharding = { strategy } as const;
  const client: ShardedClient = fleet.client({
    shards: fleet.shards,
    sharding,
    ...PATIENT,
    migration: { from: { shards: fleet.shards.slice(0, 3), sharding }, startAt: T0, phaseMs: P },
    [MIGRATION_CLOCK]: () => clock.now,
    ...extra,
  } as ShardedClientOptions);
  return { client, clock, at: (phase: Phase) => void (clock.now = AT[phase]) };
}

/** Where a key lives with 3 shards and with 4, by shard index. */
export function owners(fleet: Fleet, strategy: "slots" | "ketama") {
  const old = fleet.client({ shards: fleet.shards.slice(0, 3), sharding: { strategy }, lazyConnect: true });
  const grown = fleet.client({ shards: fleet.shards, sharding: { strategy }, lazyConnect: true });
  const index = (name: string) => Number(name.slice(1));
  return { old: (key: string) => index(old.shardOf(key)), next: (key: string) => index(grown.shardOf(key)) };
}
