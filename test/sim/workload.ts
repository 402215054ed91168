/**
 * The simulated application: a seeded mix of calls on the client (plain
 * commands, split commands, pipelines, transactions, WATCH on a dedicated
 * connection, a script, writes under a write concern, cache.getOrSet with
 * loaders that fail or stall), each with the check its reply must pass.
 * Written values are unique (the call's id), so a reply names the write it
 * came from.
 */
import type { Cache } from "../../lib/cache/Cache.js";
import type { ShardedClient } from "../../lib/client/ShardedClient.js";
import { ShardisError } from "../../lib/errors.js";
import type { Outcome } from "./history.js";
import type { Random } from "./random.js";

/** A loader's own failure (the cache passes it to its callers unchanged). */
export class LoaderFailure extends Error {}

/** What checks need to ask about a key. */
export interface CheckContext {
  /** Values the key held on its shard's nodes at some moment in [from, to]. */
  held(key: string, from: number, to: number): Set<string | undefined>;
  /** Whether reads may be answered from memory (near cache): then any earlier value is fine, only not an invented one. */
  readonly near: boolean;
  /** Values the cache's loaders produced for a cache key. */
  loaded(key: string): ReadonlySet<string>;
}

export interface Op {
  readonly what: string;
  readonly run: () => Promise<unknown>;
  /** How long past its start the call may take: its deadline plus what its kind adds; Infinity: no bound of its own. */
  readonly budgetMs: number;
  /** Checks a successful reply; returns what is wrong. Failures are checked for their type by the caller. */
  readonly check: (value: unknown, start: number, end: number, ctx: CheckContext) => string | undefined;
  /** Called with the outcome (write concern bookkeeping). */
  readonly settled?: (outcome: Outcome) => void;
}

export interface WorkloadHost {
  readonly client: ShardedClient;
  readonly cache: Cache<string>;
  readonly timeoutMs: number;
  /** The pool's acquire timeout (withConnection waits that long at most for a connection). */
  readonly acquireTimeoutMs: number;
  /** Whether every shard has a replica (writes under a write concern can be acknowledged). */
  readonly replicated: boolean;
  /** An acknowledged write under a write concern: it must survive. */
  acknowledged(key: string, value: string): void;
  /** A value a loader returned for a cache key. */
  loaderReturned(key: string, value: string): void;
  /** A message about to be published (it may be delivered before PUBLISH's reply). */
  publishing(channel: string, message: string): void;
}

const KEYS = ["k0", "k1", "k2", "k3", "k4", "k5"];
const COUNTERS = ["n0", "n1", "n2"];

function value(ctx: CheckContext, key: string, reply: unknown, start: number, end: number): string | undefined {
  if (reply !== null && typeof reply !== "string") return `${key}: reply ${describe(reply)} is not a string or nil`;
  const held = ctx.held(key, ctx.near ? -Infinity : start, end);
  const seen = reply === null ? undefined : reply;
  return held.has(seen) ? undefined : `${key}: reply ${describe(reply)} was not its value at any moment of the call (held: ${[...held].map(describe).join(", ")})`;
}

function counted(ctx: CheckContext, key: string, reply: unknown, start: number, end: number): string | undefined {
  if (typeof reply !== "number") return `${key}: counter reply ${describe(reply)} is not a number`;
  return ctx.held(key, start, end).has(String(reply)) ? undefined : `${key}: counter reply ${reply} never became its value during the call`;
}

function written(ctx: CheckContext, key: string, reply: unknown, v: string, start: number, end: number): string | undefined {
  if (reply !== "OK") return `${key}: SET answered ${describe(reply)}`;
  return ctx.held(key, start, end).has(v) ? undefined : `${key}: SET answered OK but ${v} was never written`;
}

export function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (Buffer.isBuffer(value)) return `<Buffer ${value.toString("latin1")}>`;
  return JSON.stringify(value) ?? String(value);
}

/** Results of a pipeline or transaction: [error, value] pairs, each checked as its command alone would be. */
function pairs(reply: unknown, n: number): Array<[unknown, unknown]> | string {
  if (!Array.isArray(reply) || reply.length !== n) return `expected ${n} [error, result] pairs, got ${describe(reply)}`;
  return reply as Array<[unknown, unknown]>;
}

export function nextOp(random: Random, id: number, host: WorkloadHost): Op {
  const { client, timeoutMs } = host;
  const budget = timeoutMs + 50;
  const v = `v${id}`;
  const key = random.pick(KEYS);
  const counter = random.pick(COUNTERS);
  const kind = random.weighted<string>([
    [20, "get"], [14, "set"], [10, "incr"], [4, "del"], [8, "mget"], [4, "mset"], [6, "pipeline"], [6, "multi"],
    [4, "watch"], [4, "script"], [host.replicated ? 4 : 0, "concern"], [8, "cache"], [5, "publish"],
  ]);
  switch (kind) {
    case "get":
      return { what: `get ${key}`, run: () => client.get(key), budgetMs: budget, check: (r, s, e, ctx) => value(ctx, key, r, s, e) };
    case "set":
      return { what: `set ${key} ${v}`, run: () => client.set(key, v), budgetMs: budget, check: (r, s, e, ctx) => written(ctx, key, r, v, s, e) };
    case "incr":
      return { what: `incr ${counter}`, run: () => client.incr(counter), budgetMs: budget, check: (r, s, e, ctx) => counted(ctx, counter, r, s, e) };
    case "del":
      return { what: `del ${key}`, run: () => client.del(key), budgetMs: budget, check: (r) => (r === 0 || r === 1 ? undefined : `del answered ${describe(r)}`) };
    case "mget": {
      const keys = [random.pick(KEYS), random.pick(KEYS), random.pick(KEYS)];
      return {
        what: `mget ${keys.join(" ")}`,
        run: () => client.mget(...keys),
        budgetMs: budget,
        check: (r, s, e, ctx) => {
          if (!Array.isArray(r) || r.length !== keys.length) return `mget answered ${describe(r)}`;
          return keys.map((k, i) => value(ctx, k, r[i], s, e)).find(Boolean);
        },
      };
    }
    case "mset": {
      const [a, b] = [random.pick(KEYS), random.pick(KEYS)];
      if (a === b) return nextOp(random, id, host);
      return {
        what: `mset ${a} ${b} ${v}`,
        run: () => client.mset(a, `${v}a`, b, `${v}b`),
        budgetMs: budget,
        check: (r, s, e, ctx) => written(ctx, a, r, `${v}a`, s, e) ?? written(ctx, b, r, `${v}b`, s, e),
      };
    }
    case "pipeline":
      return {
        what: `pipeline: get ${key}, set ${key} ${v}, incr ${counter}`,
        run: () => client.pipeline().get(key).set(key, v).incr(counter).exec(),
        budgetMs: budget,
        check: (r, s, e, ctx) => {
          const p = pairs(r, 3);
          if (typeof p === "string") return p;
          const checks = [
            () => value(ctx, key, p[0]![1], s, e),
            () => written(ctx, key, p[1]![1], v, s, e),
            () => counted(ctx, counter, p[2]![1], s, e),
          ];
          return p.map(([error], i) => (error ? untyped(error) : checks[i]!())).find(Boolean);
        },
      };
    case "multi":
      return {
        what: `multi {t}: set {t}a ${v}, incr {t}n, get {t}a`,
        run: () => client.multi().set("{t}a", v).incr("{t}n").get("{t}a").exec(),
        budgetMs: budget,
        check: (r, s, e, ctx) => {
          if (r === null) return "EXEC answered null without a WATCH";
          const p = pairs(r, 3);
          if (typeof p === "string") return p;
          if (p.some(([error]) => error)) return `a command inside the block failed: ${describe(p.find(([error]) => error)![0])}`;
          // Atomic: the GET inside the block sees the block's own SET.
          if (p[2]![1] !== v) return `GET inside the block answered ${describe(p[2]![1])}, not its own SET's ${v}`;
          return written(ctx, "{t}a", p[0]![1], v, s, e) ?? counted(ctx, "{t}n", p[1]![1], s, e);
        },
      };
    case "watch":
      return {
        what: "withConnection {w}: watch, get, multi set +1, exec",
        run: () =>
          client.withConnection("{w}n", async (conn) => {
            await conn.watch("{w}n");
            const before = Number((await conn.get("{w}n")) ?? "0");
            const result = await conn.multi().set("{w}n", String(before + 1)).exec();
            return { before, result };
          }),
        // The pool's wait, then WATCH, GET and the block, each within its deadline.
        budgetMs: host.acquireTimeoutMs + 3 * budget,
        check: (r, s, e, ctx) => {
          const { before, result } = r as { before: number; result: unknown };
          if (result === null) return undefined;
          const p = pairs(result, 1);
          if (typeof p === "string") return p;
          return written(ctx, "{w}n", p[0]![1], String(before + 1), s, e);
        },
      };
    case "script":
      return {
        what: `script incrby ${counter} 2`,
        run: () => (client as unknown as { simIncr(key: string, by: number): Promise<unknown> }).simIncr(counter, 2),
        budgetMs: budget,
        check: (r, s, e, ctx) => counted(ctx, counter, r, s, e),
      };
    case "publish": {
      const channel = random.pick(["ch0", "px"]);
      const message = `m${id}`;
      return {
        what: `publish ${channel} ${message}`,
        run: () => {
          host.publishing(channel, message);
          return client.publish(channel, message);
        },
        budgetMs: budget,
        check: (r) => (typeof r === "number" && r >= 0 ? undefined : `publish answered ${describe(r)}`),
      };
    }
    case "concern": {
      const wcKey = `wc${id}`;
      return {
        what: `set ${wcKey} ${v} with writeConcern 1 replica`,
        run: () => client.with({ writeConcern: { replicas: 1, timeoutMs: 30 } }).set(wcKey, v),
        budgetMs: budget + 30,
        check: (r, s, e, ctx) => written(ctx, wcKey, r, v, s, e),
        settled: (outcome) => {
          if (outcome.ok) host.acknowledged(wcKey, v);
        },
      };
    }
    default: {
      const cacheKey = random.pick(["a", "b", "c"]);
      const behaviour = random.weighted<string>([[70, "ok"], [15, "fail"], [15, "slow"]]);
      const loaded = `L${id}`;
      return {
        what: `cache.getOrSet ${cacheKey} (loader ${behaviour})`,
        run: () =>
          host.cache.getOrSet(cacheKey, async () => {
            if (behaviour === "fail") throw new LoaderFailure(`loader ${id} failed`);
            await new Promise((resolve) => setTimeout(resolve, behaviour === "slow" ? 400 : 5));
            host.loaderReturned(cacheKey, loaded);
            return loaded;
          }),
        // Waiting for another caller's load (waitTimeoutMs), or: the lock, the loader (400 ms when slow), the write.
        budgetMs: host.cache.options.waitTimeoutMs + 400 + 3 * budget,
        check: (r, _s, _e, ctx) => (typeof r === "string" && ctx.loaded(cacheKey).has(r) ? undefined : `getOrSet answered ${describe(r)}, which no loader returned`),
      };
    }
  }
}

/** A failure a caller may get: a ShardisError, a reply Redis itself sent (passed through), or the loader's own error. */
export function untyped(error: unknown): string | undefined {
  if (error instanceof LoaderFailure) return undefined;
  if (error instanceof ShardisError) return undefined;
  if (error instanceof Error && error.name === "ReplyError" && /^(OOM|LOADING|EXECABORT|READONLY|BUSY) /.test(error.message)) return undefined;
  return `untyped failure ${describe(error)}`;
}
