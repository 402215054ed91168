/**
 * Credentials that rotate, on real servers: a provider asked for every new
 * connection, open connections re-authenticated on a timer without dropping
 * anything in flight, an ACL user's password changed on the servers while
 * a load runs (with a provider: no command fails and every connection is
 * re-authenticated; with a fixed password: new connections are refused,
 * old ones keep working), a refused re-AUTH reported naming node and user,
 * and the same for the sentinels.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { AuthenticationError, ShardedClient } from "../../lib/index.js";
import type { Credentials, ShardedClientOptions } from "../../lib/index.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually, keyOn } from "../support/keys.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import type { Redis } from "ioredis";

const ADMIN = "admin-Pa55";

/** The connections `user` holds on a server, as CLIENT LIST reports them (the last command each ran included). */
async function connectionsOf(admin: Redis, user: string): Promise<Array<{ id: string; cmd: string }>> {
  const list = String(await admin.call("CLIENT", "LIST"));
  return list
    .split("\n")
    .filter((line) => line.includes(` user=${user} `))
    .map((line) => ({ id: /\bid=(\d+)/.exec(line)![1]!, cmd: /\bcmd=(\S+)/.exec(line)![1]! }));
}

describe("credentials that rotate", () => {
  let servers: RedisServer[];
  let admins: Redis[];
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  let userCount = 0;

  /** A fresh ACL user on every server, with this password. */
  const newUser = async (password: string) => {
    const user = `app${++userCount}`;
    await Promise.all(admins.map((a) => a.call("ACL", "SETUSER", user, "on", `>${password}`, "~*", "&*", "+@all")));
    return user;
  };
  const setPassword = (user: string, password: string) => Promise.all(admins.map((a) => a.call("ACL", "SETUSER", user, "resetpass", `>${password}`)));
  const client = (options: Partial<ShardedClientOptions>) => {
    const c = new ShardedClient({ shards: servers.map((s, i) => ({ name: `s${i}`, master: s.address })), ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    servers = await startRedisMany(2, { password: ADMIN });
    admins = servers.map((s) => s.client());
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await stopAll(servers);
    expect(unhandled.errors).toEqual([]);
  });

  it("asks the provider for every new connection, the pool's and reconnects included", async () => {
    const user = await newUser("first");
    let calls = 0;
    const c = client({ redis: { credentials: async () => (calls++, { username: user, password: "first" }) } });
    await c.ready();
    expect(calls).toBe(2); // one shared connection per node
    const key = keyOn(c, "s0", "cred");
    expect(await c.blpop(key, 0.01)).toBeNull(); // a pooled connection: one more
    expect(calls).toBe(3);
    await admins[0]!.call("CLIENT", "KILL", "USER", user);
    await eventually(async () => expect(await c.set(key, "v")).toBe("OK"));
    expect(calls).toBeGreaterThanOrEqual(4);
  });

  it("a password changed under load: with a provider and reauthenticateEveryMs, no command fails, new connections open with the new password, and every connection re-authenticates", async () => {
    let password = "old-Pa55";
    const user = await newUser(password);
    const c = client({
      redis: { credentials: () => ({ username: user, password }), reauthenticateEveryMs: 1000 },
      retry: { idempotentCommands: ["set"] },
      commandTimeoutMs: 3000,
    });
    const refusals: unknown[] = [];
    c.on("node:error", ({ error }) => error instanceof AuthenticationError && refusals.push(error));
    await c.ready();
    const keys = [keyOn(c, "s0", "load"), keyOn(c, "s1", "load")];
    let running = true;
    let done = 0;
    const failures: unknown[] = [];
    // Eight callers in a loop (SET, GET, and a pooled connection now and then), for as long as the rotation takes.
    const load = Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; running && i < 100_000; i++) {
        const key = keys[(worker + i) % 2]!;
        try {
          await c.set(key, String(i));
          await c.get(key);
          if (i % 50 === 0) await c.blpop(`${key}:q`, 0.01);
          done++;
        } catch (error) {
          failures.push(error);
        }
      }
    });
    await eventually(async () => expect(done).toBeGreaterThan(200));
    // The rotation: the servers take the new password (the old one stops working) and the provider hands it out.
    password = "new-Pa55";
    await setPassword(user, password);
    const accepted = () => Promise.all(admins.map(async (a) => Number(/total_connections_received:(\d+)/.exec(await a.info("stats"))![1])));
    const before = await accepted();
    // New connections under the load (the pool grows for a burst of blocking calls): they must open with the new password.
    await Promise.all(keys.flatMap((key) => Array.from({ length: 12 }, () => c.blpop(`${key}:burst`, 0.05))));
    const after = done;
    await eventually(async () => expect(done).toBeGreaterThan(after + 200), 10_000);
    running = false;
    await Promise.all(load);
    expect(failures).toEqual([]);
    (await accepted()).forEach((count, i) => expect(count - before[i]!).toBeGreaterThanOrEqual(4));
    expect(refusals).toEqual([]);
    // Idle now: each connection's last command becomes the re-authentication's AUTH.
    for (const admin of admins) {
      await eventually(async () => {
        const held = await connectionsOf(admin, user);
        expect(held.length).toBeGreaterThanOrEqual(2); // the shared connection and a pooled one at least
        expect(held.filter((h) => h.cmd !== "auth")).toEqual([]);
      }, 5000);
    }
  });

  it("a password changed with a fixed password configured: new connections are refused with AuthenticationError, open ones keep working", async () => {
    const user = await newUser("fixed-Pa55");
    const c = client({ redis: { username: user, password: "fixed-Pa55" }, commandTimeoutMs: 1000 });
    c.on("node:error", () => undefined);
    const key = keyOn(c, "s0", "fixed");
    expect(await c.set(key, "v")).toBe("OK");
    await setPassword(user, "rotated-elsewhere");
    const refused = await c.blpop(`${key}:q`, 0.01).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect((refused as AuthenticationError).user).toBe(user);
    expect(await c.get(key)).toBe("v");
  });

  it("reports a refused re-AUTH as an AuthenticationError naming node and user, never the secret; the connection keeps working and the next round tries again", async () => {
    const user = await newUser("right-Pa55");
    let current: Credentials = { username: user, password: "right-Pa55" };
    let calls = 0;
    const c = client({ redis: { credentials: () => (calls++, current), reauthenticateEveryMs: 1000 } });
    const errors: Array<{ node: string; error: Error }> = [];
    c.on("node:error", (event) => errors.push(event));
    await c.ready();
    current = { username: user, password: "wrong-Secret-99" };
    await eventually(async () => expect(errors.length).toBeGreaterThanOrEqual(2), 10_000);
    const refusal = errors[0]!.error as AuthenticationError;
    expect(refusal).toBeInstanceOf(AuthenticationError);
    expect(refusal.user).toBe(user);
    expect(servers.map((s) => s.address)).toContain(refusal.node);
    expect(refusal.message).toContain(`authentication failed for user "${user}": WRONGPASS`);
    for (const event of errors) expect(`${inspect(event, { depth: 10 })} ${JSON.stringify(event)} ${event.error.stack}`).not.toContain("wrong-Secret-99");
    // Still authenticated as before: commands go on.
    expect(await c.set(keyOn(c, "s1", "still"), "ok")).toBe("OK");
    current = { username: user, password: "right-Pa55" };
    // The provider is asked once per round, and a round starts only after the last one settled: once it was asked
    // twice more, a whole round ran with the right credentials; the one after must add no refusal.
    const switched = calls;
    await eventually(async () => expect(calls).toBeGreaterThanOrEqual(switched + 2), 10_000);
    const settled = errors.length;
    await eventually(async () => expect(calls).toBeGreaterThanOrEqual(switched + 3), 10_000);
    expect(errors.length).toBe(settled);
    for (const admin of admins) expect((await connectionsOf(admin, user)).every((h) => h.cmd === "auth")).toBe(true);
  });

  it("reports a provider that fails, and connects once it answers, within the command's deadline", async () => {
    const user = await newUser("late-Pa55");
    let calls = 0;
    const c = client({
      redis: {
        credentials: async () => {
          if (++calls <= 2) throw new Error("token service unavailable");
          return { username: user, password: "late-Pa55" };
        },
      },
      lazyConnect: true,
      commandTimeoutMs: 3000,
    });
    const errors: string[] = [];
    c.on("node:error", ({ error }) => errors.push(error.message));
    expect(await c.set(keyOn(c, "s0", "late"), "v")).toBe("OK");
    expect(errors).toContain("the credentials provider failed: token service unavailable");
  });
});

describe("credentials that rotate, for the sentinels", () => {
  let ha: HaTopology;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 1, replicasPerShard: 1, sentinels: 2, sentinelPassword: "sentinel-Pa55" });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await ha?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("asks sentinelOptions.credentials for each sentinel connection and re-authenticates them; a refused one names the sentinel and user", async () => {
    let password = "sentinel-Pa55";
    let calls = 0;
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      sentinelOptions: { credentials: () => (calls++, { password }), reauthenticateEveryMs: 1000 },
      shards: [{ name: "s0", masterName: ha.shards[0]!.masterName }],
    });
    clients.push(c);
    const errors: Array<{ sentinel: string; error: Error }> = [];
    c.on("sentinel:error", (event) => errors.push(event));
    await c.ready();
    expect(calls).toBeGreaterThanOrEqual(2); // the query connection and the watch
    // Rotated on every sentinel: the open connections take the new password at the next round.
    const sentinels = ha.sentinels.map((s) => s.client());
    password = "sentinel-New-Pa55";
    await Promise.all(sentinels.map((s) => s.call("ACL", "SETUSER", "default", ">sentinel-New-Pa55")));
    await eventually(async () => {
      const listed = await Promise.all(sentinels.map((s) => connectionsOf(s, "default")));
      // The test's own admin connections ran CLIENT LIST; the client's ran AUTH.
      expect(listed.flat().filter((h) => h.cmd === "auth").length).toBeGreaterThanOrEqual(2);
    }, 5000);
    await Promise.all(sentinels.map((s) => s.call("ACL", "SETUSER", "default", "<sentinel-Pa55")));
    expect(errors.filter((e) => e.error instanceof AuthenticationError)).toEqual([]);
    password = "not-the-Pa55word";
    await eventually(async () => expect(errors.some((e) => e.error instanceof AuthenticationError)).toBe(true), 10_000);
    const refusal = errors.find((e) => e.error instanceof AuthenticationError)!;
    expect(ha.sentinels.map((s) => s.address)).toContain(refusal.sentinel);
    expect((refusal.error as AuthenticationError).user).toBe("default");
    expect(`${inspect(refusal, { depth: 10 })}${refusal.error.stack}`).not.toContain("not-the-Pa55word");
    // Discovery goes on over the connections already authenticated.
    expect(await c.set("sentinel:k", "v")).toBe("OK");
  });
});
