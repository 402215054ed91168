/**
 * PubSub's deadline: a subscribe that first waits for its shard's subscriber
 * connection (Sentinel naming the master) gets what is left of its deadline
 * for the SUBSCRIBE itself, not a new one. Fake connection, fake time.
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { PubSub, type PubSubHost } from "../../lib/pubsub/PubSub.js";
import { TimeoutError } from "../../lib/errors.js";
import { fakeNode, useFakeTime } from "../support/fakeNode.js";

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

it("a subscribe that waited for its connection keeps its deadline", async () => {
  const { node } = fakeNode({ detectStalls: false });
  const host: PubSubHost = {
    mapped: async () => undefined,
    clusterWide: false,
    shardCount: 1,
    shardOf: () => 0,
    shardName: () => "s0",
    // The master is named 800 ms in (Sentinel); the connection then never answers SUBSCRIBE.
    open: () => new Promise((resolve) => setTimeout(() => resolve(node), 800)),
    timeoutMs: 1000,
    closed: false,
  };
  const noop = () => undefined;
  const pubsub = new PubSub(host, { message: noop, smessage: noop, pmessage: noop, handlerError: noop, subscriptionError: noop });
  let outcome: unknown;
  pubsub.subscribe(["news"], noop).then((v) => (outcome = v), (e: unknown) => (outcome = e));
  await vi.advanceTimersByTimeAsync(1050);
  expect(outcome).toBeInstanceOf(TimeoutError);
  await node.close(true);
});
