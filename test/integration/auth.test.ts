import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthenticationError, ShardedClient, ShardisError } from "../../lib/index.js";
import { startRedis, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";

const PASSWORD = "correct-H0rse-Battery-Staple";
const WRONG = "wr0ng-Pa55word-Nobody-Knows";

/** Everything a user might print: the value itself, deeply inspected, and as JSON where possible. */
function printed(value: unknown): string {
  let json = "";
  try {
    json = JSON.stringify(value) ?? "";
  } catch {
    // circular values are covered by inspect
  }
  const stack = value instanceof Error ? (value.stack ?? "") : "";
  return `${inspect(value, { depth: 20, showHidden: true })}\n${json}\n${stack}\n${String(value)}`;
}

describe("authentication", () => {
  let server: RedisServer;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    server = await startRedis({ password: PASSWORD });
    await server.client().acl("SETUSER", "app", "on", `>${PASSWORD}`, "~*", "+@all");
  });
  afterAll(async () => {
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("works with the right password, and with an ACL user", async () => {
    for (const redis of [{ password: PASSWORD }, { username: "app", password: PASSWORD }]) {
      const client = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis });
      expect(await client.set("k", "v")).toBe("OK");
      expect(await client.get("k")).toBe("v");
      await client.quit();
    }
  });

  it("rejects commands with AuthenticationError, and no password appears anywhere", async () => {
    for (const protocol of [2, 3] as const) {
      const seen: unknown[] = [];
      const client = new ShardedClient({
        shards: [{ name: "s0", master: server.address }],
        redis: { username: "app", password: WRONG, protocol },
        commandTimeoutMs: 2000,
      });
      client.on("node:error", (event) => seen.push(event));
      client.on("node:down", (event) => seen.push(event));
      const error = await client.get("k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error).toBeInstanceOf(ShardisError);
      expect((error as AuthenticationError).code).toBe("ERR_SHARDIS_AUTH");
      expect((error as Error).message).toContain(`shard s0 (${server.address}): authentication failed for user "app": WRONGPASS`);
      expect((error as AuthenticationError).user).toBe("app");
      // Later commands fail fast with the same error instead of waiting for their deadline (pinned down in test/unit/nodeClient.test.ts).
      await expect(client.set("k", "v")).rejects.toBeInstanceOf(AuthenticationError);
      expect(client.stats().nodes[0]!.queued).toBe(0);
      expect(seen.length).toBeGreaterThan(0);
      for (const value of [error, client, client.shard("s0"), ...seen]) {
        const text = printed(value);
        expect(text).not.toContain(WRONG);
        expect(text).not.toContain(PASSWORD);
      }
      await client.quit();
    }
  });

  it("a password rotated on the server: new pooled connections fail fast with AuthenticationError, one attempt at a time", async () => {
    await server.client().acl("SETUSER", "rotated", "on", `>${PASSWORD}`, "~*", "&*", "+@all");
    const client = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis: { username: "rotated", password: PASSWORD } });
    client.on("node:error", () => undefined);
    try {
      expect(await client.set("k", "v")).toBe("OK");
      // Connections already authenticated stay so; a new one is refused.
      await server.client().acl("SETUSER", "rotated", "resetpass", `>${WRONG}`);
      const admin = server.client();
      const connections = async () => Number(/total_connections_received:(\d+)/.exec(await admin.info("stats"))![1]);
      const before = await connections();
      for (let i = 0; i < 3; i++) await expect(client.blpop("q", 0.5)).rejects.toBeInstanceOf(AuthenticationError);
      // Without a pause the pool opened hundreds of refused connections a second while an acquire waited.
      expect((await connections()) - before).toBeLessThan(10);
      expect(await client.get("k")).toBe("v"); // the shared connection is still authenticated
    } finally {
      await client.quit();
    }
  });

  it("keeps the password out of timeouts and config errors too", async () => {
    const client = new ShardedClient({
      shards: [{ name: "s0", master: "127.0.0.1:1" }],
      redis: { password: WRONG },
      commandTimeoutMs: 100,
    });
    const error = await client.get("k").catch((e: unknown) => e);
    expect(printed(error)).not.toContain(WRONG);
    await client.quit();
    try {
      new ShardedClient({ shards: [{ name: "s0", master: "127.0.0.1:1" }], redis: { password: WRONG, bogus: 1 } as never });
    } catch (configError) {
      expect(printed(configError)).not.toContain(WRONG);
    }
  });
});
