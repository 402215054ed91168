/**
 * Two rules of a connection's queue, on a fake connection in fake time:
 * a MULTI/EXEC block is one entry (accepted, refused, expired, handed over
 * and written whole), and commands pinned to a WATCH or MULTI are written
 * only on the connection that holds it. Also: an opening breaker fails what
 * is still queued at once. The same rules run against real servers in
 * test/integration/transactionFaults.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BlockCommand } from "../../lib/commands/block.js";
import { buildCommand } from "../../lib/commands/command.js";
import { BLOCK, Pin } from "../../lib/connection/NodeClient.js";
import { CircuitOpenError, QueueFullError, TimeoutError, WatchLostError } from "../../lib/errors.js";
import { fakeNode, turn, useFakeTime } from "../support/fakeNode.js";

const get = (key = "k") => buildCommand("get", [key], "utf8");
const set = (key = "k", value = "v") => buildCommand("set", [key, value], "utf8");
const settledParts = (block: BlockCommand) => Promise.allSettled(block.head.map((part) => part.promise));

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

describe("a MULTI/EXEC block is one entry", () => {
  it("counts once against maxQueueLength and is refused whole, its parts failing with it", async () => {
    const { node, connection } = fakeNode({ maxQueueLength: 2, setup: (c) => (c.onConnect = "hang") });
    const waiting = [node.send(get("a"), 1000), node.send(get("b"), 1000)];
    for (const p of waiting) p.catch(() => undefined);
    const block = new BlockCommand([set("x"), set("y")]);
    await expect(node.send(block, 1000, BLOCK)).rejects.toBeInstanceOf(QueueFullError);
    const parts = await settledParts(block);
    expect(parts.map((p) => p.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(parts.every((p) => p.status === "rejected" && p.reason instanceof QueueFullError)).toBe(true);
    expect(node.queued).toBe(2);
    expect(connection.written).toEqual([]);
  });

  it("behind a nearly full queue, is accepted whole and written whole once connected", async () => {
    const { node, connection } = fakeNode({ maxQueueLength: 2, setup: (c) => (c.onConnect = "hang") });
    const a = node.send(get("a"), 1000);
    const block = new BlockCommand([set("x"), set("y")]);
    const exec = node.send(block, 1000, BLOCK);
    expect(node.queued).toBe(2);
    connection.up();
    await turn();
    expect(connection.names()).toEqual(["get", "multi", "set", "set", "exec"]);
    for (const value of [null, "OK", "QUEUED", "QUEUED", ["OK", "OK"]]) connection.reply(value);
    await expect(a).resolves.toBeNull();
    await expect(exec).resolves.toEqual(["OK", "OK"]);
  });

  it("expires whole while the connection is away: nothing of it is written when it comes back", async () => {
    const { node, connection } = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const block = new BlockCommand([set("x")]);
    const exec = node.send(block, 300, BLOCK);
    const expired = expect(exec).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(310);
    await expired;
    expect((await settledParts(block)).every((p) => p.status === "rejected" && p.reason instanceof TimeoutError)).toBe(true);
    connection.up();
    await turn();
    expect(connection.names()).toEqual([]);
  });

  it("is handed to a new master whole, and fails whole on a closing client", async () => {
    const a = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const b = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const block = new BlockCommand([set("x"), set("y")]);
    const exec = a.node.send(block, 1000, BLOCK);
    a.node.handOverQueued(b.node);
    expect([a.node.queued, b.node.queued]).toEqual([0, 1]);
    b.connection.up();
    await turn();
    expect(b.connection.names()).toEqual(["multi", "set", "set", "exec"]);
    for (const value of ["OK", "QUEUED", "QUEUED", ["OK", "OK"]]) b.connection.reply(value);
    await expect(exec).resolves.toEqual(["OK", "OK"]);

    const other = new BlockCommand([set("z")]);
    const closing = b.node.send(other, 1000, BLOCK);
    const closed = b.node.close(true);
    await expect(closing).rejects.toThrow();
    await closed;
    expect((await settledParts(other)).map((p) => p.status)).toEqual(["rejected", "rejected"]);
  });

  it("fails every part not yet answered when the connection drops mid-block", async () => {
    const { node, connection } = fakeNode();
    const block = new BlockCommand([set("x"), set("y")]);
    const exec = node.send(block, 1000, BLOCK);
    exec.catch(() => undefined);
    await turn();
    connection.reply("OK");
    connection.reply("QUEUED");
    connection.drop();
    await expect(exec).rejects.toThrow(/connection lost with the command in flight/);
    expect((await settledParts(block)).map((p) => p.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
  });
});

describe("commands pinned to a WATCH or MULTI", () => {
  it("are written while the connection that holds the state lives", async () => {
    const { node, connection } = fakeNode();
    node.connect();
    await turn();
    const pin = new Pin(node.generation, "watch");
    const reply = node.send(get(), 1000, 0, pin);
    await turn();
    connection.reply("v");
    await expect(reply).resolves.toBe("v");
  });

  it("fail with WatchLostError, unwritten, once that connection is lost: queued before the loss or sent after it", async () => {
    const { node, connection } = fakeNode();
    node.connect();
    await turn();
    const pin = new Pin(node.generation, "watch+multi");
    // Queued in the same turn the connection drops: it must not go out on the next connection.
    const queued = node.send(set(), 1000, 0, pin);
    const queuedLost = expect(queued).rejects.toBeInstanceOf(WatchLostError);
    connection.drop();
    const later = node.send(get(), 1000, 0, pin);
    await expect(later).rejects.toBeInstanceOf(WatchLostError);
    await expect(later).rejects.toThrow(/WATCH and MULTI block/);
    connection.up();
    await turn();
    await queuedLost;
    expect(connection.names()).toEqual([]);
    // Unpinned commands go on as usual.
    const plain = node.send(get(), 1000);
    await turn();
    connection.reply("v");
    await expect(plain).resolves.toBe("v");
  });

  it("are not lost by connection attempts that never got ready (nothing was set up on them)", async () => {
    const { node, connection } = fakeNode({ breaker: { enabled: false } });
    node.connect();
    await turn();
    connection.drop();
    const pin = new Pin(node.generation, "watch");
    connection.failAttempt();
    connection.up();
    await turn();
    const reply = node.send(get(), 1000, 0, pin);
    await turn();
    connection.reply("v");
    await expect(reply).resolves.toBe("v");
  });

  it("are never retried or redirected to another node", async () => {
    const other = fakeNode();
    const { node, connection } = fakeNode({ redirect: (_node, entry) => other.node.adopt(entry), retry: { attempts: 3 } });
    node.connect();
    await turn();
    const reply = node.send(set(), 1000, 0, new Pin(node.generation, "watch"));
    await turn();
    connection.replyError("READONLY You can't write against a read only replica.");
    await expect(reply).rejects.toThrow(/^READONLY/);
    expect(other.connection.names()).toEqual([]);
  });
});

describe("an opening breaker", () => {
  it("fails the commands still queued for the node at once, as it fails new ones", async () => {
    const { node, connection, log } = fakeNode({ breaker: { resetTimeoutMs: 60_000 } });
    node.connect();
    await turn();
    connection.drop();
    const queued = [node.send(get("a"), 30_000), node.send(set("b"), 30_000)];
    const block = new BlockCommand([set("x")]);
    queued.push(node.send(block, 30_000, BLOCK));
    expect(node.queued).toBe(3);
    const failed = Promise.allSettled(queued);
    connection.failAttempt();
    expect(log.breaker).toEqual(["open"]);
    const outcomes = await failed;
    expect(outcomes.map((o) => (o.status === "rejected" ? o.reason.constructor : o.value))).toEqual([CircuitOpenError, CircuitOpenError, CircuitOpenError]);
    expect(node.queued).toBe(0);
    expect((await settledParts(block)).every((p) => p.status === "rejected")).toBe(true);
  });
});
