/**
 * One app server of the cache example: products over HTTP, read through a
 * shardis cache in front of the database. Start several against the same
 * Redis shards and database, as a service's instances: a product missing
 * from the cache is read from the database once across all of them.
 *
 *   GET    /products/:id          one product (404 when there is none; "not found" is cached 5 s)
 *   GET    /products?ids=1,2,3    many: one MGET per shard, one query for the misses
 *   DELETE /products/:id/cache    drops a product from the cache, as its expiry would
 *   GET    /stats                 database reads and the cache's figures
 *
 * Environment: SHARDS (host:port,...), PORT (0 or unset: any free port),
 * DATABASE_URL (PostgreSQL) or SQLITE_PATH (default ./products.db),
 * TIMEOUT_SCALE (default 1: multiplies the command deadline, the rebuild
 * lock's TTL, the cache's wait and the loader's, for a machine too starved
 * to meet them).
 * Prints {"listening": port} on stdout once it serves.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { ShardedClient } from "shardis";
import { openStore, type Product } from "./store.js";

const shards = (process.env.SHARDS ?? "127.0.0.1:6379").split(",").map((master, i) => ({ name: `s${i}`, master: master.trim() }));
// 1,000 requests in flight per process stall its event loop: on a starved machine (a busy CI runner) by more than the
// default deadlines, and the stalls become timeouts. TIMEOUT_SCALE gives such a machine patience; the logic is the same.
const scale = Number(process.env.TIMEOUT_SCALE ?? 1) || 1;
const client = new ShardedClient({ shards, commandTimeoutMs: 1_000 * scale });
const store = await openStore({ databaseUrl: process.env.DATABASE_URL, sqlitePath: process.env.SQLITE_PATH ?? "products.db" });
const products = client.cache<Product>({
  namespace: "products",
  ttlMs: 60_000,
  staleMs: 30_000, // an expired product is served for 30 s more while one instance refreshes it
  negativeTtlMs: 5_000,
  waitTimeoutMs: 2_000 * scale,
  lockTtlMs: 1_000 * scale,
  loadTimeoutMs: 10_000 * scale,
});
client.on("cache:error", ({ key, error, served }) => console.error(`cache: ${key}: ${error.message} (served: ${served})`));

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const one = /^\/products\/(\d+)$/.exec(url.pathname);
  const drop = /^\/products\/(\d+)\/cache$/.exec(url.pathname);
  if (req.method === "GET" && one) {
    const product = await products.getOrSet(one[1]!, () => store.product(Number(one[1])));
    return product ? send(res, 200, product) : send(res, 404, { error: "no such product" });
  }
  if (req.method === "GET" && url.pathname === "/products") {
    const ids = (url.searchParams.get("ids") ?? "").split(",").filter((id) => /^\d+$/.test(id));
    if (ids.length === 0 || ids.length > 1000) return send(res, 400, { error: "ids: 1 to 1000 numbers, comma-separated" });
    const found = await products.getOrSetMany(ids, async (missing) => {
      const rows = await store.products(missing.map(Number));
      return missing.map((id) => rows.get(Number(id)));
    });
    return send(res, 200, found.filter((p) => p !== undefined));
  }
  if (req.method === "DELETE" && drop) return send(res, 200, { dropped: await products.delete(drop[1]!) });
  if (req.method === "GET" && url.pathname === "/stats") {
    return send(res, 200, { pid: process.pid, database: store.kind, databaseReads: store.reads, cache: client.stats().caches.find((c) => c.namespace === "products") });
  }
  send(res, 404, { error: "not found" });
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => send(res, 503, { error: (error as Error).message }));
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ listening: typeof address === "object" && address ? address.port : null })}\n`);
});

const shutdown = () => {
  server.close();
  void Promise.allSettled([client.quit(), store.close()]).then(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
