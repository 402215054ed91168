/**
 * The cache example (examples/cache-service) end to end: three real Redis
 * shards, three app server processes, SQLite, and PostgreSQL where a server
 * can be started here. The hot product expiring under 1,000 concurrent
 * requests on three servers reaches the database once.
 */
import { describe, expect, it } from "vitest";
import { runExample } from "../../examples/cache-service/run.js";
import type { PhaseResult } from "../../examples/cache-service/load.js";
import { postgresBinaries, startPostgres } from "../support/postgres.js";

/**
 * These tests count database reads and failed requests; they are not about deadlines. Run inside npm test, beside
 * a hundred other files, 1,000 requests in flight per app server stalled the servers' event loops for seconds: at
 * the default deadlines the stalls became timeouts (an ACQUIRE timed out reads as a node "down", its keys loaded
 * directly: 234 reads for 200 batches; 19 batches failed; a lapsed lock loaded a product twice), as in one CI run.
 * So the example runs end to end in the e2e project (after npm test, as the other examples), and with five times
 * the deadlines; what is checked is unchanged.
 */
const timeoutScale = 5;

function check(results: PhaseResult[]): void {
  const byName = (prefix: string) => results.find((r) => r.phase.startsWith(prefix))!;
  expect(results.map((r) => r.failed)).toEqual([0, 0, 0, 0, 0]);
  // Cold start: each of the products asked for is read once, whichever server asked.
  const cold = byName("cold start");
  const distinct = new Set(Array.from({ length: 5000 }, (_, i) => Math.floor(100 ** (((i * 7919) % 1000) / 1000)))).size;
  expect(cold.databaseReads).toBe(distinct);
  expect(byName("warm").databaseReads).toBe(0);
  expect(byName("warm").hitRatio).toBe(1);
  const hot = byName("hot product expired");
  expect(hot.databaseReads).toBe(1);
  // 200 batches of products not cached yet: one query each, never one per product.
  expect(byName("batches").databaseReads).toBe(200);
  // Ten unknown ids: one query each, then "not found" from the cache.
  expect(byName("unknown products").databaseReads).toBe(10);
}

describe("the cache example", () => {
  it("with SQLite: the hot product expiring under 1,000 concurrent requests on 3 servers is read once", async () => {
    const lines: string[] = [];
    check(await runExample({ timeoutScale, log: (line) => lines.push(line) }));
    expect(lines[0]).toMatch(/^database: sqlite/);
  }, 120_000);

  const pg = postgresBinaries();
  it.skipIf(!pg.ok)(`with PostgreSQL${pg.ok ? "" : ` (skipped: ${pg.why})`}: the same, through DATABASE_URL`, async () => {
    const server = await startPostgres();
    try {
      const lines: string[] = [];
      check(await runExample({ databaseUrl: server.url, timeoutScale, log: (line) => lines.push(line) }));
      expect(lines[0]).toMatch(/^database: postgres/);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
