/**
 * The ioredis compatibility matrix (test/support/matrixCases.ts): every case
 * runs on a real ioredis client, on the drop-in shim (a one-shard
 * ShardedClient answering `new Redis(port, host, options)`) and on a
 * three-shard ShardedClient (every key under one hash tag), each from an
 * empty server, and the outcomes (values, or error messages) are compared.
 * A case may differ only where DIFFERENCES says so, with its reason; one
 * listed that no longer differs fails too, so the list (and the numbers in
 * docs/ioredis-compatibility.md) stays true.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { shimRedis } from "../support/ioredisShim.js";
import { CASES, type Loose, type Make } from "../support/matrixCases.js";
import { watchUnhandled } from "../support/fleet.js";
import { DIFFERENCES, type Variant } from "../support/matrixDifferences.js";

type Outcome = { value: unknown } | { error: string };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("(no answer within 5 s)")), 5000)));
  try {
    return { value: await Promise.race([run(), timeout]) };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

describe("the ioredis compatibility matrix", () => {
  let servers: RedisServer[];
  const unhandled = watchUnhandled();
  const results = new Map<string, Record<"ioredis" | Variant, Outcome>>();

  beforeAll(async () => {
    servers = await startRedisMany(4);
  });
  afterAll(async () => {
    unhandled.stop();
    await stopAll(servers ?? []);
  });

  const kinds: Record<"ioredis" | Variant, (options?: Record<string, unknown>) => Loose> = {
    ioredis: (options = {}) => new Redis(servers[0]!.port, servers[0]!.host, options),
    one: (options = {}) => shimRedis(servers[1]!.port, servers[1]!.host, options).client,
    three: (options = {}) => shimRedis(0, "", options, [1, 2, 3].map((i) => ({ name: `s${i - 1}`, master: servers[i]!.address }))).client,
  };

  it("runs every case on ioredis, on one shard and on three", async () => {
    for (const [name, run] of CASES) {
      const row = {} as Record<"ioredis" | Variant, Outcome>;
      for (const kind of ["ioredis", "one", "three"] as const) {
        await Promise.all(servers.map((s) => s.client().flushall()));
        const made: Loose[] = [];
        const make: Make = (options) => {
          const client = kinds[kind](options);
          client.on("error", () => undefined);
          made.push(client);
          return client;
        };
        const client = make();
        row[kind] = await outcome(() => run(client, make));
        await Promise.all(made.map((c) => Promise.resolve(c.quit()).catch(() => c.disconnect())));
      }
      results.set(name, row);
    }
    const differing = (variant: Variant) => [...results].filter(([, row]) => !isEqual(row.ioredis, row[variant])).map(([name]) => name);
    const report = (variant: Variant) => ({ same: CASES.length - differing(variant).length, differing: differing(variant) });
    if (process.env.MATRIX_DETAILS) {
      const brief = (o: Outcome) => JSON.stringify(o, (_k, v: unknown) => (Buffer.isBuffer(v) ? `<Buffer ${v.toString("hex")}>` : v))?.slice(0, 400);
      for (const [name, row] of results) {
        for (const variant of ["one", "three"] as const) if (!isEqual(row.ioredis, row[variant])) console.log(`DIFF ${variant} ${name}\n  ioredis ${brief(row.ioredis)}\n  ${variant} ${brief(row[variant])}`);
        if ("error" in row.ioredis) console.log(`IOREDIS-ERROR ${name} ${brief(row.ioredis)}`);
      }
    }
    console.log(`ioredis matrix: ${CASES.length} cases; one shard ${JSON.stringify(report("one"))}; three shards ${JSON.stringify(report("three"))}`);
    for (const variant of ["one", "three"] as const) {
      const unexpected = differing(variant).filter((name) => !DIFFERENCES[variant][name]);
      const details = unexpected.map((name) => ({ name, ioredis: results.get(name)!.ioredis, [variant]: results.get(name)![variant] }));
      expect(details, `${variant}: differences not listed in matrixDifferences.ts`).toEqual([]);
      const stale = Object.keys(DIFFERENCES[variant]).filter((name) => !differing(variant).includes(name));
      expect(stale, `${variant}: listed differences that no longer differ`).toEqual([]);
    }
  }, 240_000);

  it("leaves no unhandled rejection", () => {
    expect(unhandled.errors).toEqual([]);
  });
});

function isEqual(a: unknown, b: unknown): boolean {
  try {
    expect(b).toEqual(a);
    return true;
  } catch {
    return false;
  }
}
