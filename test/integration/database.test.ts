/**
 * `redis.db` that the node refuses to SELECT (out of range, or an ACL user
 * without +select): the node's connection must fail visibly, a typed event
 * and commands failing fast with DatabaseError naming the db, never run on
 * database 0 instead. Once the node accepts the SELECT, commands run there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DatabaseError, ShardedClient } from "../../lib/index.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { startRedis, type RedisServer } from "../support/redis.js";

const PASSWORD = "select-Pa55word";

describe("a database the node refuses to select", () => {
  let server: RedisServer;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  const client = (redis: Record<string, unknown>) => {
    const c = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis, commandTimeoutMs: 3000 });
    clients.push(c);
    const errors: Error[] = [];
    c.on("node:error", (event) => errors.push(event.error));
    return { c, errors };
  };

  beforeAll(async () => {
    server = await startRedis(); // 16 databases, the default
    await server.client().acl("SETUSER", "noselect", "on", `>${PASSWORD}`, "~*", "&*", "+@all", "-select");
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.quit()));
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("db out of range: commands fail fast with DatabaseError, nothing lands in db 0, and a node:error says why", async () => {
    const { c, errors } = client({ db: 99 });
    const error = await c.set("db:k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    const refused = error as DatabaseError;
    expect(refused.code).toBe("ERR_SHARDIS_DATABASE");
    expect(refused.db).toBe(99);
    expect(refused.shard).toBe("s0");
    expect(refused.message).toMatch(/SELECT 99 refused.*DB index is out of range/);
    // Later commands fail at once with the same error, whatever the breaker did meanwhile.
    for (let i = 0; i < 3; i++) await expect(c.get("db:k")).rejects.toBeInstanceOf(DatabaseError);
    await eventually(async () => expect(errors.some((e) => e instanceof DatabaseError)).toBe(true));
    expect(await server.client().exists("db:k")).toBe(0);
  });

  it("an ACL user without +select: DatabaseError, and commands run on the database once the user may select it", async () => {
    const { c, errors } = client({ db: 2, username: "noselect", password: PASSWORD });
    const error = await c.set("acl:k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).db).toBe(2);
    expect((error as Error).message).toMatch(/NOPERM/);
    expect(errors.some((e) => e instanceof DatabaseError)).toBe(true);
    expect(await server.client().exists("acl:k")).toBe(0);

    await server.client().acl("SETUSER", "noselect", "+select");
    // The node's connection asks again at each reconnect (backoff), and its breaker probes again.
    await eventually(async () => expect(await c.set("acl:k", "v")).toBe("OK"), 15_000);
    expect(await server.client({ db: 2 }).get("acl:k")).toBe("v");
    expect(await server.client().exists("acl:k")).toBe(0);
  });

  it("pooled connections (BLPOP, withConnection) fail fast with DatabaseError too, without opening connection after connection", async () => {
    const { c } = client({ db: 99 });
    await expect(c.get("db:k")).rejects.toBeInstanceOf(DatabaseError);
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(await server.client().info("stats"))![1]);
    const before = await connections();
    await expect(c.blpop("db:list", 0.5)).rejects.toBeInstanceOf(DatabaseError);
    await expect(c.withConnection("db:k", (conn) => conn.get("db:k"))).rejects.toBeInstanceOf(DatabaseError);
    // One connection each at most (the shared one's reconnects aside), not one per attempt of the pool.
    expect((await connections()) - before).toBeLessThan(10);
  });

  it("an invalid db is a ConfigError at construction", () => {
    for (const db of [-1, 1.5, "2"]) expect(() => new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis: { db: db as number } })).toThrow(ConfigError);
  });
});
