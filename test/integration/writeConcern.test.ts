/**
 * Write concern when WAIT itself fails after the write was applied: the
 * caller must learn that the write happened (WriteConcernError with the
 * write's reply and WAIT's failure as cause), never get WAIT's raw error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, NoPermissionError, ShardedClient, WriteConcernError } from "../../lib/index.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { startRedis, type RedisServer } from "../support/redis.js";

const PASSWORD = "concern-Pa55word";

describe("write concern when WAIT fails", () => {
  let server: RedisServer;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  const client = (redis: Record<string, unknown> = {}) => {
    const c = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis, commandTimeoutMs: 2000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startRedis();
    // A least-privilege user without WAIT: every write with a write concern gets NOPERM from WAIT, after the write ran.
    await server.client().acl("SETUSER", "nowait", "on", `>${PASSWORD}`, "~*", "&*", "+@all", "-wait");
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.quit()));
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("WAIT refused by ACL: WriteConcernError carrying the write's reply, the refusal as cause", async () => {
    const c = client({ username: "nowait", password: PASSWORD });
    const error = await c.with({ writeConcern: { replicas: 1, timeoutMs: 100 } }).incr("wc:acl").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteConcernError);
    const concern = error as WriteConcernError;
    expect(concern.code).toBe("ERR_SHARDIS_WRITE_CONCERN");
    expect(concern.reply).toBe(1);
    expect(concern.acknowledged).toBe(0);
    expect(concern.required).toBe(1);
    // The refusal is typed (and reported once on acl:refused): a NoPermissionError naming the fix, the server's NOPERM as its cause.
    expect(concern.cause).toBeInstanceOf(NoPermissionError);
    expect(String(((concern.cause as Error).cause as Error).message)).toMatch(/^NOPERM/);
    expect(concern.message).toMatch(/written on the master, but WAIT was refused by the ACL \(ACL SETUSER nowait \+wait\)/);
    expect(await server.client().get("wc:acl")).toBe("1");
  });

  it("a write that failed itself still rejects with its own error", async () => {
    const c = client({ username: "nowait", password: PASSWORD });
    await server.client().set("wc:str", "not a list");
    const error = await c.with({ writeConcern: { replicas: 1, timeoutMs: 100 } }).lpush("wc:str", "x").catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(WriteConcernError);
    expect((error as Error).message).toMatch(/^WRONGTYPE/);
  });

  it("the connection lost while WAIT waits: WriteConcernError carrying the reply, the ConnectionError as cause", async () => {
    const c = client();
    const admin = server.client();
    // No replica: WAIT blocks for its whole timeout, long enough to kill the connection under it.
    const writing = c.with({ writeConcern: { replicas: 1, timeoutMs: 20_000 }, timeoutMs: 5000 }).set("wc:lost", "v").catch((e: unknown) => e);
    const id = await eventually(async () => {
      const line = String(await admin.client("LIST")).split("\n").find((l) => / flags=b\b/.test(l) && / cmd=wait\b/.test(l));
      if (!line) throw new Error("WAIT not blocked yet");
      return /\bid=(\d+)/.exec(line)![1]!;
    });
    await admin.client("KILL", "ID", id);
    const error = await writing;
    expect(error).toBeInstanceOf(WriteConcernError);
    expect((error as WriteConcernError).reply).toBe("OK");
    expect((error as WriteConcernError).cause).toBeInstanceOf(ConnectionError);
    expect(await admin.get("wc:lost")).toBe("v");
  });

  it("the master demoted while WAIT waits: WriteConcernError with Redis's UNBLOCKED as cause, the reply kept", async () => {
    const other = await startRedis();
    const admin = server.client();
    try {
      const c = client();
      const writing = c.with({ writeConcern: { replicas: 1, timeoutMs: 20_000 }, timeoutMs: 5000 }).set("wc:demoted", "v").catch((e: unknown) => e);
      await eventually(async () => {
        const lines = String(await admin.client("LIST")).split("\n");
        if (!lines.some((l) => / flags=b\b/.test(l) && / cmd=wait\b/.test(l))) throw new Error("WAIT not blocked yet");
      });
      // REPLICAOF answers every blocked WAIT with -UNBLOCKED and closes its connection (a failover that demotes this master).
      await admin.replicaof(other.host, other.port);
      const error = await writing;
      expect(error).toBeInstanceOf(WriteConcernError);
      expect((error as WriteConcernError).reply).toBe("OK");
      expect(String(((error as WriteConcernError).cause as Error)?.message)).toMatch(/^UNBLOCKED/);
    } finally {
      await admin.replicaof("NO", "ONE");
      await other.stop();
    }
  });
});
