/**
 * ioredis queues each written command as an object literal until its reply.
 * V8 may pretenure that literal's allocation site (born in the old
 * generation), and a dead old entry still pointing at its command keeps the
 * whole command alive through scavenges: the garbage-collector mode of
 * issue 22 (docs/benchmarks.md). shardis's connections hold commands in
 * entries of their own, and the literal lets go of its command at once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ioredisConnections } from "../../lib/connection/connection.js";

interface QueueEntry {
  command: unknown;
  stream?: unknown;
  select?: number;
}
interface Internals {
  commandQueue: { push(entry: QueueEntry): number; shift(): QueueEntry | undefined; length: number };
  resetCommandQueue(): void;
  disconnect(): void;
}

const opened: Internals[] = [];
const connection = (): Internals => {
  // lazyConnect (connectionOptions): nothing is dialled.
  const redis = ioredisConnections({})({ host: "127.0.0.1", port: 1 }) as unknown as Internals;
  opened.push(redis);
  return redis;
};

afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
});

describe("the command queue of shardis's connections", () => {
  it("holds each command in an entry of its own: ioredis's literal no longer points at the command", () => {
    const redis = connection();
    const command = { name: "get" };
    const literal: QueueEntry = { command, stream: undefined, select: 0 };
    redis.commandQueue.push(literal);
    expect(literal.command).toBeUndefined();
    const queued = redis.commandQueue.shift()!;
    expect(queued).not.toBe(literal);
    expect(queued).toMatchObject({ command, select: 0 });
    expect(Object.getPrototypeOf(queued)).not.toBe(Object.prototype);
  });

  it("does the same on the queue ioredis makes anew at every reconnect", () => {
    const redis = connection();
    redis.resetCommandQueue();
    const command = { name: "set" };
    const literal: QueueEntry = { command, select: 2 };
    redis.commandQueue.push(literal);
    expect(literal.command).toBeUndefined();
    expect(redis.commandQueue.shift()).toMatchObject({ command, select: 2 });
  });
});
