/**
 * WATCH on a dedicated connection around a node whose ACL refuses MULTI for
 * a while (an operator's mistake, corrected). Found by the chaos soak: after
 * `ACL SETUSER <user> -multi` and `+multi`, WATCH blocks on pooled
 * connections came back from EXEC with null though nothing else wrote their
 * keys, and one whose key did change could commit.
 * - The refused block's EXEC ("EXEC without MULTI") does not end the WATCH
 *   on the server: the connection must not go back to the pool with it.
 * - Whether MULTI is allowed again is asked with MULTI+DISCARD; DISCARD
 *   drops a WATCH, so it must not be asked on the connection holding one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoPermissionError, ShardedClient } from "../../lib/index.js";
import { watchUnhandled } from "../support/fleet.js";
import { startRedis, type RedisServer } from "../support/redis.js";

const PASSWORD = "watch-Pa55word";

describe("WATCH blocks around a MULTI refused by the ACL", () => {
  let server: RedisServer;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  const admin = () => server.client();

  /** A client whose WATCH blocks all run on one pooled connection, reused. */
  const client = async () => {
    const c = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis: { username: "app", password: PASSWORD }, pool: { max: 1 } });
    clients.push(c);
    await c.ready();
    return c;
  };
  /** WATCH, GET, (someone else writes), MULTI SET +1 EXEC. */
  const increment = (c: ShardedClient, key: string, interfere?: string) =>
    c.withConnection(key, async (conn) => {
      await conn.watch(key);
      const got = await conn.get(key);
      if (interfere !== undefined) await admin().set(key, interfere);
      return conn.multi().set(key, String(Number(got) + 1)).exec();
    });
  /** The first block after -multi is refused (Redis runs its SET on its own); MULTI is allowed again after. */
  const refuseOnce = async (c: ShardedClient, key: string) => {
    await admin().acl("SETUSER", "app", "-multi");
    await expect(increment(c, key)).rejects.toBeInstanceOf(NoPermissionError);
    await admin().acl("SETUSER", "app", "+multi");
  };

  beforeAll(async () => {
    server = await startRedis();
    await admin().acl("SETUSER", "app", "on", `>${PASSWORD}`, "~*", "&*", "+@all");
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("the refused block leaves no WATCH on the pooled connection: the next block on it commits", async () => {
    const c = await client();
    await admin().set("{w1}:n", "10");
    await refuseOnce(c, "{w1}:n");
    // A block on the shared connection finds MULTI allowed again: the pooled connection's next block asks nothing.
    expect(await c.multi().incr("{w1}:other").exec()).toEqual([[null, 1]]);
    expect(await increment(c, "{w1}:n")).toEqual([[null, "OK"]]);
    expect(await admin().get("{w1}:n")).toBe("12"); // 11 by the refused block's SET (run on its own), 12 now
  });

  it("MULTI allowed again: a WATCHed block whose key changed still aborts (null), and the change stays", async () => {
    const c = await client();
    await admin().set("{w2}:n", "10");
    await refuseOnce(c, "{w2}:n");
    expect(await increment(c, "{w2}:n", "999")).toBeNull();
    expect(await admin().get("{w2}:n")).toBe("999");
    // And the refusal is lifted: the next block commits.
    expect(await increment(c, "{w2}:n")).toEqual([[null, "OK"]]);
    expect(await admin().get("{w2}:n")).toBe("1000");
  });
});
