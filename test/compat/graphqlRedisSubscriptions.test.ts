/**
 * graphql-redis-subscriptions 2.7, unchanged: RedisPubSub given a sharded
 * client as publisher and a duplicate() as subscriber. It subscribes with
 * ioredis's node-style callback, subscribe(trigger, (err) => ...), and reads
 * messages from the "message" and "pmessage" events; its asyncIterator is
 * what a GraphQL server's subscription resolver returns.
 */
import { afterAll, describe, expect, it } from "vitest";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { fleetWithClient } from "../support/fleet.js";

describe("graphql-redis-subscriptions over shards", () => {
  const ctx = fleetWithClient(3);
  const subscribers: Array<{ quit(): Promise<unknown> }> = [];
  afterAll(async () => Promise.all(subscribers.map((s) => s.quit().catch(() => undefined))));

  function pubsub(): RedisPubSub {
    const subscriber = ctx.client.duplicate();
    subscribers.push(subscriber);
    return new RedisPubSub({ publisher: ctx.client as never, subscriber: subscriber as never });
  }

  it("subscribes, delivers JSON payloads published through Redis, and unsubscribes", async () => {
    const ps = pubsub();
    const heard: unknown[] = [];
    const id = await ps.subscribe("POST_ADDED", (payload: unknown) => heard.push(payload));
    // Subscribed on the shard "POST_ADDED" hashes to: Redis counts the subscriber there.
    expect(await ctx.client.pubsub("NUMSUB", "POST_ADDED")).toEqual(["POST_ADDED", 1]);
    await ps.publish("POST_ADDED", { id: 1, title: "hello" });
    await ps.publish("POST_ADDED", { id: 2, title: "shards" });
    await expect.poll(() => heard, { timeout: 5000 }).toEqual([
      { id: 1, title: "hello" },
      { id: 2, title: "shards" },
    ]);
    ps.unsubscribe(id);
    await expect.poll(async () => ctx.client.pubsub("NUMSUB", "POST_ADDED"), { timeout: 5000 }).toEqual(["POST_ADDED", 0]);
  });

  it("serves an async iterator and pattern subscriptions, as a GraphQL resolver uses them", async () => {
    const ps = pubsub();
    const iterator = ps.asyncIterator<{ n: number }>("COMMENT_ADDED");
    const next = iterator.next();
    await expect.poll(async () => ctx.client.pubsub("NUMSUB", "COMMENT_ADDED"), { timeout: 5000 }).toEqual(["COMMENT_ADDED", 1]);
    await ps.publish("COMMENT_ADDED", { n: 7 });
    expect(await next).toEqual({ done: false, value: { n: 7 } });
    await iterator.return?.();
    const patterned: unknown[] = [];
    await ps.subscribe("user.*", (payload: unknown) => patterned.push(payload), { pattern: true });
    await ps.publish("user.42", { user: 42 });
    await ps.publish("user.7", { user: 7 });
    await expect.poll(() => patterned, { timeout: 5000 }).toHaveLength(2);
    expect(patterned).toEqual(expect.arrayContaining([{ user: 42 }, { user: 7 }]));
  });
});
