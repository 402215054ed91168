/**
 * The chaos workload: one operation at a time per lane, picked at random by
 * weight. Every value written is unique and names its key
 * (`<key>|<worker>.<seq>`), so a reply that belongs to another key or
 * command is recognisable; counters and WATCH balances are per lane, so a
 * lane's sequential history shows them only going up. keys.ts names the keys.
 */
import type { Cache, ShardedClient } from "../../lib/index.js";
import type { Random } from "../sim/random.js";
import type { Recorded } from "./history.js";
import { keys } from "./keys.js";

export const SCRIPT = "chaosSetEcho";
/** Sets KEYS[1] to ARGV[1] and answers { key, what GET reads back }: the reply names its own call. */
export const SCRIPT_LUA = "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], redis.call('GET', KEYS[1])}";

/** A loader that fails on purpose (5% of loads): the cache must hand its error back, not crash. */
export class ChaosLoaderError extends Error {
  override readonly name = "ChaosLoaderError";
}

export interface Lane {
  readonly client: ShardedClient;
  readonly cache: Cache<string>;
  readonly random: Random;
  readonly worker: number;
  readonly lane: number;
  /** A value unique in the whole soak for this key. */
  value(key: string): string;
  /** Records that a cache loader produced a value. */
  loaded(key: string, value: string): void;
}

export interface Operation {
  readonly op: string;
  readonly args: Record<string, Recorded>;
  run(): Promise<unknown>;
}

type Maker = (lane: Lane) => Operation;

const WC = { writeConcern: { replicas: 1, timeoutMs: 300 } } as const;

const OPS: Record<string, Maker> = {
  get(lane) {
    const k = keys.register(lane.random);
    return { op: "get", args: { k }, run: () => lane.client.get(k) };
  },
  getReplica(lane) {
    const k = keys.register(lane.random);
    return { op: "getReplica", args: { k }, run: () => lane.client.readFrom("replicaPreferred").get(k) };
  },
  set(lane) {
    const k = keys.register(lane.random);
    const v = lane.value(k);
    return { op: "set", args: { k, v }, run: () => lane.client.set(k, v) };
  },
  del(lane) {
    const ks = keys.registers(lane.random, lane.random.int(1, 3));
    return { op: "del", args: { ks }, run: () => lane.client.del(...ks) };
  },
  mset(lane) {
    const ks = keys.registers(lane.random, lane.random.int(2, 6));
    const vs = ks.map((k) => lane.value(k));
    return { op: "mset", args: { ks, vs }, run: () => lane.client.mset(Object.fromEntries(ks.map((k, i) => [k, vs[i]!]))) };
  },
  mget(lane) {
    const ks = keys.registers(lane.random, lane.random.int(2, 8));
    return { op: "mget", args: { ks }, run: () => lane.client.mget(...ks) };
  },
  incr(lane) {
    const k = keys.counter(lane);
    return { op: "incr", args: { k }, run: () => lane.client.incr(k) };
  },
  getCounter(lane) {
    const k = keys.counter(lane);
    return { op: "getCounter", args: { k }, run: () => lane.client.get(k) };
  },
  script(lane) {
    const k = keys.register(lane.random);
    const v = lane.value(k);
    const call = (lane.client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[SCRIPT]!;
    return { op: "script", args: { k, v }, run: () => call.call(lane.client, k, v) };
  },
  writeConcern(lane) {
    const k = keys.durable(lane);
    const v = lane.value(k);
    return { op: "writeConcern", args: { k, v }, run: () => lane.client.with(WC).set(k, v) };
  },
  pipeline(lane) {
    // Own key set then read back on one connection, a lane counter, a shared register elsewhere.
    const own = keys.own(lane);
    const v = lane.value(own);
    const n = keys.counter(lane);
    const r = keys.register(lane.random);
    return {
      op: "pipeline",
      args: { own, v, n, r },
      run: () => lane.client.pipeline().set(own, v).get(own).incr(n).get(r).exec(),
    };
  },
  multi(lane) {
    const { x, n } = keys.transaction(lane);
    const v = lane.value(x);
    return { op: "multi", args: { x, n, v }, run: () => lane.client.multi().set(x, v).incr(n).get(x).exec() };
  },
  watch(lane) {
    const k = keys.balance(lane);
    return {
      op: "watch",
      args: { k },
      run: () =>
        lane.client.withConnection(k, async (conn) => {
          await conn.watch(k);
          const got = await conn.get(k);
          const exec = await conn.multi().set(k, String(Number(got ?? 0) + 1)).exec();
          return { got, exec };
        }),
    };
  },
  cache(lane) {
    const k = keys.cached(lane.random);
    const loader = async () => {
      const value = lane.value(k);
      lane.loaded(k, value);
      await new Promise((resolve) => setTimeout(resolve, lane.random.int(0, 20)));
      if (lane.random.chance(0.05)) throw new ChaosLoaderError(`loader of ${k} failed on purpose`);
      return value;
    };
    return { op: "cache", args: { k }, run: () => lane.cache.getOrSet(k, loader) };
  },
};

/** Weights per operation: reads dominate, as in a cache; every kind runs often enough to be checked. */
const WEIGHTS: ReadonlyArray<readonly [number, string]> = [
  [18, "get"], [5, "getReplica"], [14, "set"], [4, "del"], [5, "mset"], [7, "mget"], [10, "incr"], [4, "getCounter"],
  [5, "script"], [5, "writeConcern"], [6, "pipeline"], [5, "multi"], [4, "watch"], [8, "cache"],
];

export function nextOperation(lane: Lane): Operation {
  return OPS[lane.random.weighted(WEIGHTS)]!(lane);
}
