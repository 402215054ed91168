import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, ShardedClient } from "../../lib/index.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually, keyOn } from "../support/keys.js";

/** Resolves with the next n messages a subscription receives. */
function collector() {
  const messages: string[] = [];
  return {
    messages,
    handler: (message: string, channel: string, pattern?: string) => messages.push(pattern ? `${pattern}|${channel}:${message}` : `${channel}:${message}`),
    async waitFor(n: number) {
      await eventually(async () => expect(messages.length).toBeGreaterThanOrEqual(n), 10_000);
      return messages;
    },
  };
}

describe("pub/sub across shards", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client({ commandTimeoutMs: 2000 });
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("subscribes on the channel's shard and publishes there", async () => {
    const channel = keyOn(client, "s1", "news");
    const got = collector();
    await client.subscribe(channel, { handler: got.handler });
    expect(await fleet.raw(1).pubsub("CHANNELS")).toEqual([channel]);
    expect(await fleet.raw(0).pubsub("CHANNELS")).toEqual([]);
    expect(await client.publish(channel, "hello")).toBe(1);
    expect(await got.waitFor(1)).toEqual([`${channel}:hello`]);
    await client.unsubscribe(channel);
    expect(await fleet.raw(1).pubsub("CHANNELS")).toEqual([]);
  });

  it("delivers to every handler, and unsubscribes when the last one leaves", async () => {
    const channel = keyOn(client, "s2", "multi");
    const one = collector();
    const two = collector();
    await Promise.all([client.subscribe(channel, { handler: one.handler }), client.subscribe(channel, { handler: two.handler })]);
    await client.publish(channel, "a");
    await one.waitFor(1);
    await two.waitFor(1);
    await client.unsubscribe(channel, { handler: one.handler });
    await client.publish(channel, "b");
    await two.waitFor(2);
    expect(one.messages).toEqual([`${channel}:a`]);
    expect(await fleet.raw(2).pubsub("CHANNELS")).toEqual([channel]);
    await client.unsubscribe(channel, { handler: two.handler });
    expect(await fleet.raw(2).pubsub("CHANNELS")).toEqual([]);
  });

  it("psubscribe listens on every shard", async () => {
    const got = collector();
    await client.psubscribe("evt:*", { handler: got.handler });
    const channels = ["s0", "s1", "s2"].map((s) => keyOn(client, s, "evt"));
    for (const raw of [0, 1, 2].map((i) => fleet.raw(i))) expect(await raw.pubsub("NUMPAT")).toBe(1);
    for (const channel of channels) expect(await client.publish(channel, "x")).toBe(1);
    expect((await got.waitFor(3)).sort()).toEqual(channels.map((c) => `evt:*|${c}:x`).sort());
    await client.punsubscribe("evt:*");
    for (const raw of [0, 1, 2].map((i) => fleet.raw(i))) expect(await raw.pubsub("NUMPAT")).toBe(0);
  });

  it("a throwing handler is reported and does not stop the others", async () => {
    const channel = keyOn(client, "s0", "faulty");
    const errors: unknown[] = [];
    client.on("pubsub:error", (e) => errors.push(e));
    const good = collector();
    await client.subscribe(channel, {
      handler: () => {
        throw new Error("handler bug");
      },
    });
    await client.subscribe(channel, { handler: good.handler });
    await client.publish(channel, "m");
    await good.waitFor(1);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { channel: string }).channel).toBe(channel);
    await client.unsubscribe(channel);
  });

  it("restores subscriptions after the node restarts on the same port", async () => {
    const channel = keyOn(client, "s2", "durable");
    const got = collector();
    await client.subscribe(channel, { handler: got.handler });
    await fleet.servers[2]!.restart();
    // Publish until the restored subscription hears it.
    await eventually(async () => {
      await client.publish(channel, "after-restart");
      expect(got.messages).toContain(`${channel}:after-restart`);
    }, 8000);
    expect(await fleet.raw(2).pubsub("CHANNELS")).toEqual([channel]);
    await client.unsubscribe(channel);
  });

  it("rejects bad arguments with InvalidArgumentError", async () => {
    await expect(client.subscribe("", { handler: () => undefined })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.subscribe("c", undefined as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.subscribe("c", { handler: "nope" } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.psubscribe(42 as never, { handler: () => undefined })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
