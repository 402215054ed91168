/**
 * Subscriptions whose re-subscription fails after the subscriber connection
 * was lost: refused by the node (an ACL user that lost its channels) or past
 * the deadline (a slow link). Each failure is reported (subscription:error),
 * the state is queryable (client.subscriptions()), and the subscription is
 * asked for again while wanted, so messages flow once the node accepts it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient, SubscriptionError } from "../../lib/index.js";
import type { ShardisEvents } from "../../lib/index.js";
import { watchUnhandled } from "../support/fleet.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { eventually } from "../support/keys.js";
import { startRedis, type RedisServer } from "../support/redis.js";

type SubscriptionEvent = ShardisEvents["subscription:error"][0];
const PASSWORD = "sub-Pa55word";

/** SUBSCRIBE calls the server refused (ACL), from INFO commandstats. */
async function rejectedSubscribes(admin: ReturnType<RedisServer["client"]>): Promise<number> {
  const stats = String(await admin.info("commandstats"));
  return Number(/cmdstat_subscribe:.*rejected_calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe("re-subscription after the subscriber connection is lost", () => {
  let server: RedisServer;
  let proxy: FaultProxy;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  const client = (master: string, options: Record<string, unknown> = {}) => {
    const c = new ShardedClient({ shards: [{ name: "s0", master }], ...options });
    clients.push(c);
    const events: SubscriptionEvent[] = [];
    c.on("subscription:error", (event) => events.push(event));
    return { c, events };
  };

  beforeAll(async () => {
    server = await startRedis();
    proxy = await startFaultProxy(server);
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.quit()));
    await proxy?.close();
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("refused (NOPERM): reported once, state 'refused', delivered again once the ACL allows the channel", async () => {
    const admin = server.client();
    await admin.acl("SETUSER", "sub", "on", `>${PASSWORD}`, "~*", "&*", "+@all");
    const { c, events } = client(server.address, { redis: { username: "sub", password: PASSWORD }, commandTimeoutMs: 1000 });
    const got: string[] = [];
    await c.subscribe("news", { handler: (message) => got.push(message) });
    await admin.publish("news", "before");
    await eventually(async () => expect(got).toEqual(["before"]));

    await admin.acl("SETUSER", "sub", "resetchannels");
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    await eventually(async () => expect(events.filter((e) => e.refused)).toHaveLength(1), 10_000);
    const [refused] = events.filter((e) => e.refused);
    expect(refused).toMatchObject({ shard: "s0", command: "subscribe", names: ["news"], refused: true });
    expect(refused!.error).toBeInstanceOf(SubscriptionError);
    expect(refused!.error.code).toBe("ERR_SHARDIS_SUBSCRIPTION");
    expect(String((refused!.error.cause as Error).message)).toMatch(/^NOPERM/);
    expect(c.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "refused", error: refused!.error }]);
    // Asked for again quietly: reported once however often the node refuses it.
    const before = await rejectedSubscribes(admin);
    await eventually(async () => expect(await rejectedSubscribes(admin)).toBeGreaterThanOrEqual(before + 2), 15_000);
    expect(events.filter((e) => e.refused)).toHaveLength(1);

    await admin.acl("SETUSER", "sub", "&*");
    await eventually(async () => expect(await admin.publish("news", "after")).toBe(1), 15_000);
    await eventually(async () => expect(got).toContain("after"));
    expect(c.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "active" }]);
  });

  it("past the deadline (a slow link): every failure reported, retried with backoff, delivered once the link recovers", async () => {
    const admin = server.client();
    const { c, events } = client(proxy.address, { commandTimeoutMs: 300 });
    const got: string[] = [];
    await c.subscribe("slow", { handler: (message) => got.push(message) });
    await admin.publish("slow", "before");
    await eventually(async () => expect(got).toEqual(["before"]));

    proxy.set("delay", { delayMs: 500 });
    await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    await eventually(async () => expect(events.length).toBeGreaterThanOrEqual(2), 15_000);
    for (const event of events) {
      expect(event).toMatchObject({ shard: "s0", command: "subscribe", names: ["slow"], refused: false });
      expect(event.error).toBeInstanceOf(SubscriptionError);
    }
    expect(c.subscriptions()[0]).toMatchObject({ name: "slow", state: "restoring" });

    proxy.set("pass");
    await eventually(async () => expect(await admin.publish("slow", "after")).toBe(1), 15_000);
    await eventually(async () => expect(got).toContain("after"));
    await eventually(async () => expect(c.subscriptions()).toEqual([{ kind: "channel", name: "slow", state: "active" }]));
  });
});
