/**
 * A child process for cross-process cache tests: one ShardedClient and one
 * cache, `CONCURRENCY` getOrSet calls of one key started together when the
 * parent writes "go". Its loader counts itself in Redis (INCR <ns>:loads),
 * says "loading" on stdout, waits LOADER_MS and returns VALUE. Prints JSON
 * lines: {"ready"}, {"loading"}, then {"done", results, stats}.
 *
 * Environment: SHARDS (comma-separated host:port), NAMESPACE, KEY,
 * CONCURRENCY, LOADER_MS, LOCK_TTL_MS, WAIT_TIMEOUT_MS, VALUE.
 */
import { createInterface } from "node:readline";
import { ShardedClient } from "../../lib/index.js";

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`cacheWorker: ${name} is not set`);
  return value;
};
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = new ShardedClient({ shards: env("SHARDS").split(",").map((master, i) => ({ name: `s${i}`, master })) });
const namespace = env("NAMESPACE");
const cache = client.cache<string>({
  namespace,
  ttlMs: 60_000,
  lockTtlMs: Number(env("LOCK_TTL_MS")),
  waitTimeoutMs: Number(env("WAIT_TIMEOUT_MS")),
});
const loaderMs = Number(env("LOADER_MS"));
await client.ready();
say({ ready: true });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === "go") break;

const loader = async () => {
  await client.incr(`${namespace}:loads`);
  say({ loading: process.pid });
  await new Promise((resolve) => setTimeout(resolve, loaderMs));
  return `${env("VALUE")}:${process.pid}`;
};
const started = performance.now();
const results = await Promise.all(
  Array.from({ length: Number(env("CONCURRENCY")) }, async () => {
    try {
      const value = await cache.getOrSet(env("KEY"), loader);
      return { value, ms: performance.now() - started };
    } catch (error) {
      return { error: `${(error as Error).name}: ${(error as Error).message}`, ms: performance.now() - started };
    }
  }),
);
const stats = client.stats().caches.find((c) => c.namespace === namespace);
const gets = client.stats().shards.reduce((n, s) => n + (s.byCommand.get?.master?.outcomes.ok ?? 0), 0);
say({ done: true, results, stats, gets });
await client.quit();
process.exit(0);
