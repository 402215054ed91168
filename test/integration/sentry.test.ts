/**
 * Sentry's own SDK (@sentry/node, offline: a transport that sends nothing),
 * its ioredis integration subscribed to ioredis:command as it is for
 * ioredis >= 5.11: each request's transaction holds its own Redis spans,
 * none of another request's and none of shardis's own traffic.
 * @sentry/node is a devDependency (not a dependency of shardis).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, type Fleet } from "../support/fleet.js";

/** The part of @sentry/node used here. */
interface SentryModule {
  init(options: Record<string, unknown>): void;
  startSpan<T>(options: { name: string; op?: string }, fn: () => Promise<T>): Promise<T>;
  flush(timeoutMs: number): Promise<boolean>;
  close(timeoutMs: number): Promise<boolean>;
}
type Transaction = { transaction?: string; spans?: Array<{ op?: string; data?: Record<string, unknown> }> };
const sentryPackage = "@sentry/node";
const sentry = (await import(sentryPackage)) as SentryModule;

describe("Sentry's ioredis integration over shardis", () => {
  let fleet: Fleet;
  const transactions: Transaction[] = [];
  beforeAll(async () => {
    sentry.init({
      dsn: "https://public@sentry.invalid/1",
      tracesSampleRate: 1,
      traceLifecycle: "static",
      transport: () => ({ send: async () => ({}), flush: async () => true }),
      beforeSendTransaction(event: Transaction) {
        transactions.push(event);
        return null;
      },
    });
    fleet = await startFleet(3);
  });
  afterAll(async () => {
    await sentry.close(2000);
    await fleet?.stop();
  });

  it("puts each request's commands in its own transaction, on the node each went to", async () => {
    const c = fleet.client();
    await c.ready();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sentry.startSpan({ name: `request ${i}`, op: "http.server" }, async () => {
          await c.set(`sentry:${i}`, "v");
          await c.get(`sentry:${i}`);
        }),
      ),
    );
    await sentry.flush(2000);
    const requests = transactions.filter((t) => /^request \d+$/.test(t.transaction ?? ""));
    expect(requests).toHaveLength(40);
    for (const t of requests) {
      const i = t.transaction!.split(" ")[1];
      const redis = (t.spans ?? []).filter((s) => s.data?.["db.system.name"] === "redis");
      expect(redis.map((s) => s.data?.["db.query.text"])).toEqual([`set sentry:${i} ?`, `get sentry:${i}`]);
      const node = `${redis[0]!.data?.["server.address"]}:${redis[0]!.data?.["server.port"]}`;
      expect(node).toBe(fleet.shards.find((s) => s.name === c.shardOf(`sentry:${i}`))!.master);
    }
  });
});
