/**
 * ioredis's rules for commands waiting for a connection (enableOfflineQueue,
 * maxRetriesPerRequest, a retryStrategy that stops), on a NodeClient's own
 * queue, with a fake connection: what fails, when, and with what.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildCommand, internalCommand } from "../../lib/commands/command.js";
import { PROBE } from "../../lib/connection/NodeClient.js";
import { ConnectionError, MaxRetriesPerRequestError } from "../../lib/errors.js";
import { fakeNode, turn, useFakeTime } from "../support/fakeNode.js";

const get = () => buildCommand("get", ["k"], null);
const state = (p: Promise<unknown>) => {
  const seen: { error?: unknown; value?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(seen, { value, settled: true }),
    (error: unknown) => Object.assign(seen, { error, settled: true }),
  );
  return seen;
};

describe("commands waiting for a connection, by ioredis's options", () => {
  beforeEach(useFakeTime);
  afterEach(() => vi.useRealTimers());

  it("enableOfflineQueue: false refuses a command while not ready, at once; shardis's own probes still wait", async () => {
    const { node, connection } = fakeNode({ offlineQueue: false, breaker: { volumeThreshold: 1000 } });
    node.connect();
    await turn();
    const sent = node.send(get(), 1000);
    await turn();
    connection.reply("v");
    expect(await sent).toBe("v");
    connection.drop();
    const refused = node.send(get(), 1000);
    await expect(refused).rejects.toMatchObject({ constructor: ConnectionError, message: "shard s0 (10.0.0.1:6379): Stream isn't writeable and enableOfflineQueue options is false" });
    const probe = state(node.send(internalCommand("ping"), 1000, PROBE));
    await turn();
    expect(probe.settled).toBe(false);
    expect(node.queued).toBe(1);
  });

  it("maxRetriesPerRequest: n fails what waits at every (n+1)th failed attempt in a row, as ioredis flushes its offline queue", async () => {
    const { node, connection } = fakeNode({ maxRetriesPerRequest: 1, breaker: { enabled: false } });
    node.connect();
    await turn();
    connection.drop(); // attempt 1: the loss
    const waiting = state(node.send(get(), 10_000));
    await turn();
    expect(waiting.settled).toBe(false);
    connection.failAttempt(); // attempt 2
    await turn();
    // ioredis's class name and message (libraries read them), a ConnectionError with its code, the node in its fields.
    expect(waiting.error).toMatchObject({
      constructor: MaxRetriesPerRequestError,
      name: "MaxRetriesPerRequestError",
      code: "ERR_SHARDIS_CONNECTION",
      message: 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
      maxRetriesPerRequest: 1,
      shard: "s0",
      node: "10.0.0.1:6379",
    });
    expect(waiting.error).toBeInstanceOf(ConnectionError);
    const next = state(node.send(get(), 10_000));
    connection.failAttempt(); // attempt 3: not yet
    await turn();
    expect(next.settled).toBe(false);
    connection.failAttempt(); // attempt 4
    await turn();
    expect(next.error).toBeInstanceOf(ConnectionError);
  });

  it("a connection that stops reconnecting fails what waits and refuses what comes, with ioredis's 'Connection is closed.'", async () => {
    const { node, connection } = fakeNode({ breaker: { volumeThreshold: 1000 } });
    node.connect();
    await turn();
    connection.drop();
    const waiting = state(node.send(get(), 10_000));
    connection.giveUp();
    await turn();
    expect(waiting.error).toMatchObject({ constructor: ConnectionError, code: "ERR_SHARDIS_CONNECTION", message: "Connection is closed.", shard: "s0" });
    await expect(node.send(get(), 10_000)).rejects.toMatchObject({ constructor: ConnectionError, message: "Connection is closed." });
  });

  it("without the options, a command waits for the connection within its deadline, as before", async () => {
    const { node, connection } = fakeNode({ breaker: { enabled: false } });
    node.connect();
    await turn();
    connection.drop();
    const waiting = state(node.send(get(), 10_000));
    for (let i = 0; i < 5; i++) connection.failAttempt();
    await turn();
    expect(waiting.settled).toBe(false);
    connection.up();
    await turn();
    connection.reply("v");
    await turn();
    expect(waiting.value).toBe("v");
  });
});
