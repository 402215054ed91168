/**
 * The soak's key space and value format, shared by the workload (which
 * writes) and the checker (which judges what was read):
 *   r:<i>                 registers shared by every client (GET/SET/DEL/MSET/MGET/scripts)
 *   p:<w>.<l>             a lane's own key, set and read back in one pipeline
 *   n:<w>.<l>:<i>         a lane's counters (INCR)
 *   {t<w>.<l>}:x, :n      a lane's transaction keys (one hash tag: one shard)
 *   {a<w>.<l>}:bal        a lane's WATCH balance (read, then SET +1 under WATCH)
 *   wc:<w>.<i>            written once, with a write concern
 *   c<i>                  cache.getOrSet keys (namespace "chaos")
 * A value is `<key>|<worker>.<seq>`: unique, and it names the key it was written to.
 */
import type { Random } from "../sim/random.js";

const REGISTERS = 256;
const COUNTERS_PER_LANE = 4;
const CACHED = 64;

interface LaneId {
  readonly worker: number;
  readonly lane: number;
  readonly random: Random;
}

let durable = 0;

export const keys = {
  register: (random: Random) => `r:${random.int(0, REGISTERS - 1)}`,
  registers(random: Random, n: number): string[] {
    const picked = new Set<string>();
    while (picked.size < n) picked.add(keys.register(random));
    return [...picked];
  },
  own: (l: LaneId) => `p:${l.worker}.${l.lane}`,
  counter: (l: LaneId) => `n:${l.worker}.${l.lane}:${l.random.int(0, COUNTERS_PER_LANE - 1)}`,
  transaction: (l: LaneId) => ({ x: `{t${l.worker}.${l.lane}}:x`, n: `{t${l.worker}.${l.lane}}:n` }),
  balance: (l: LaneId) => `{a${l.worker}.${l.lane}}:bal`,
  durable: (l: LaneId) => `wc:${l.worker}.${++durable}`,
  cached: (random: Random) => `c${random.int(0, CACHED - 1)}`,
};

export function valueFor(key: string, worker: number, seq: number): string {
  return `${key}|${worker}.${seq}`;
}

/** The key a value was written to (undefined: not a soak value at all). */
export function keyOfValue(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const bar = value.lastIndexOf("|");
  return bar > 0 ? value.slice(0, bar) : undefined;
}
