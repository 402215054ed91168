/**
 * NodeClient's logic on a fake connection in fake time: batching, deadlines,
 * retries, the breaker, the ROLE check, authentication, bounded queues,
 * READONLY redirects, hand-over and close. The same behaviour is exercised
 * against real servers in test/integration; here each rule is pinned down
 * in milliseconds.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReplyError } from "ioredis";
import { buildCommand, internalCommand } from "../../lib/commands/command.js";
import { ROLE_RECHECK_MS } from "../../lib/connection/roleCheck.js";
import { BlockCommand } from "../../lib/commands/block.js";
import { BLOCK, RETRYABLE } from "../../lib/connection/NodeClient.js";
import {
  AuthenticationError,
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  TimeoutError,
} from "../../lib/errors.js";
import { fakeNode, turn, useFakeTime } from "../support/fakeNode.js";

const get = (key = "k") => buildCommand("get", [key], "utf8");
const incr = (key = "n") => buildCommand("incr", [key], "utf8");

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

describe("NodeClient: batching", () => {
  it("holds commands until connected, then writes each turn's commands in one corked write", async () => {
    const { node, connection, observer } = fakeNode();
    const a = node.send(get("a"), 1000);
    const b = node.send(buildCommand("set", ["b", "1"], "utf8"), 1000);
    expect(connection.written).toHaveLength(0);
    await turn();
    expect(connection.names()).toEqual(["get", "set"]);
    expect(connection.stream!.writes).toBe(1);

    const c = [node.send(get("c"), 1000), node.send(get("d"), 1000), node.send(get("e"), 1000)];
    await turn();
    expect(connection.stream!.writes).toBe(2);
    for (const value of ["1", "OK", "3", null, "5"]) connection.reply(value);
    await expect(a).resolves.toBe("1");
    await expect(b).resolves.toBe("OK");
    await expect(Promise.all(c)).resolves.toEqual(["3", null, "5"]);
    await turn();
    expect(observer.batches).toEqual([2, 3]);
    expect(observer.answers).toEqual([["get", true], ["set", true], ["get", true], ["get", true], ["get", true]]);
  });

  it("writes at once what a long turn queued once its oldest command has waited maxWriteDelayMs; the rest at the end of the turn", async () => {
    vi.useRealTimers(); // the turn below is long in real time: fake time cannot pass inside one synchronous turn
    const { node, connection, observer } = fakeNode({ maxWriteDelayMs: 1 });
    node.connect();
    await node.whenReady(1000);
    const before = connection.stream!.writes;
    const a = node.send(get("a"), 1000);
    const until = performance.now() + 3; // the application computes for 3 ms in the same turn
    while (performance.now() < until);
    const b = node.send(get("b"), 1000);
    expect(connection.stream!.writes - before).toBe(1); // a and b, written as b was queued
    const c = node.send(get("c"), 1000);
    expect(connection.written.map((cmd) => cmd.args[0])).toEqual(expect.arrayContaining(["a", "b"]));
    expect(connection.written.map((cmd) => cmd.args[0])).not.toContain("c");
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.stream!.writes - before).toBe(2); // c, at the end of the turn
    for (const value of ["1", "2", "3"]) connection.reply(value);
    await expect(Promise.all([a, b, c])).resolves.toEqual(["1", "2", "3"]);
    expect(observer.batches.slice(-2)).toEqual([2, 1]);
  });

  it("writes a MULTI block as one entry, in one write, even past maxWriteDelayMs", async () => {
    const { node, connection } = fakeNode({ maxWriteDelayMs: 0 });
    node.connect();
    await turn();
    const before = connection.stream!.writes;
    const block = new BlockCommand([incr(), incr()]);
    const exec = node.send(block, 1000, BLOCK);
    expect(connection.stream!.writes - before).toBe(1);
    expect(connection.names().slice(-4)).toEqual(["multi", "incr", "incr", "exec"]);
    for (const value of ["OK", "QUEUED", "QUEUED", [1, 2]]) connection.reply(value);
    await expect(exec).resolves.toEqual([1, 2]);
    await expect(Promise.all(block.head.map((part) => part.promise))).resolves.toEqual(["OK", "QUEUED", "QUEUED"]);
  });

  it("with maxWriteDelayMs 0 writes every command as it is sent", async () => {
    const { node, connection } = fakeNode({ maxWriteDelayMs: 0 });
    node.connect();
    await turn();
    expect(node.ready).toBe(true);
    const before = connection.stream!.writes;
    const sent = [node.send(get("a"), 1000), node.send(get("b"), 1000), node.send(get("c"), 1000)];
    expect(connection.stream!.writes - before).toBe(3);
    for (const value of ["1", "2", "3"]) connection.reply(value);
    await expect(Promise.all(sent)).resolves.toEqual(["1", "2", "3"]);
  });

  it("counts as in flight only written commands still waiting for their reply", async () => {
    const { node, connection } = fakeNode();
    const sent = [node.send(get("a"), 1000), node.send(get("b"), 1000), node.send(get("c"), 1000)];
    expect([node.queued, node.unanswered]).toEqual([3, 0]);
    await turn();
    expect([node.queued, node.unanswered]).toEqual([0, 3]);
    connection.reply("1");
    // Settled but not yet collected with its batch: no longer in flight.
    expect(node.unanswered).toBe(2);
    connection.reply("2");
    connection.reply("3");
    await Promise.all(sent);
    expect(node.unanswered).toBe(0);
  });

  it("reports a Redis error reply as answered (the node is healthy), not as a failure", async () => {
    const { node, connection, observer, breaker } = fakeNode();
    const p = node.send(incr(), 1000);
    await turn();
    connection.replyError("WRONGTYPE Operation against a key holding the wrong kind of value");
    await expect(p).rejects.toThrow(/^WRONGTYPE/);
    await turn();
    expect(observer.answers).toEqual([["incr", false]]);
    expect(observer.failures).toEqual([]);
    expect(breaker.state).toBe("closed");
  });
});

describe("NodeClient: deadlines", () => {
  it("fails a written, unanswered command at its deadline with a TimeoutError naming shard and node", async () => {
    const { node, observer } = fakeNode();
    const p = node.send(get(), 100);
    const settled = vi.fn();
    p.then(settled, settled);
    const rejected = expect(p).rejects.toThrow(new TimeoutError("s0", "10.0.0.1:6379", 100, "the node did not answer"));
    await turn();
    await vi.advanceTimersByTimeAsync(98);
    expect(settled).not.toHaveBeenCalled();
    // The sweep runs in the turn after the timer (replies already read win): within a millisecond of the deadline.
    await vi.advanceTimersByTimeAsync(2);
    await rejected;
    expect(observer.failures).toEqual([["get", "timeout"]]);
  });

  it("counts time spent waiting for the connection", async () => {
    const { node } = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const p = node.send(get(), 250);
    const rejected = expect(p).rejects.toThrow(/no reply within 250 ms \(still connecting\)/);
    await vi.advanceTimersByTimeAsync(252);
    await rejected;
  });

  it("does not make a connection reusable once a written command expired unanswered", async () => {
    const { node, connection } = fakeNode();
    const p = node.send(get(), 50);
    p.catch(() => undefined);
    await turn();
    expect(node.reusable).toBe(true);
    await vi.advanceTimersByTimeAsync(60);
    expect(node.reusable).toBe(false);
    connection.drop();
    connection.up();
    expect(node.reusable).toBe(true);
  });
});

describe("NodeClient: lost connections and retries", () => {
  it("retries a read lost with its connection, after a backoff, once the connection is back", async () => {
    const { node, connection, observer } = fakeNode();
    const p = node.send(get(), 1000, RETRYABLE);
    await turn();
    connection.drop();
    connection.up();
    await vi.advanceTimersByTimeAsync(100);
    expect(connection.names()).toEqual(["get", "get"]);
    connection.reply("v");
    await expect(p).resolves.toBe("v");
    expect(observer.retries).toBe(1);
    expect(observer.failures).toEqual([]);
    expect(observer.reconnects).toBe(1);
  });

  it("fails a write lost with its connection: it may or may not have been applied", async () => {
    const { node, connection, observer, log } = fakeNode();
    const p = node.send(incr(), 1000);
    await turn();
    connection.drop();
    await expect(p).rejects.toThrow(ConnectionError);
    await expect(p).rejects.toThrow(/may or may not have been applied/);
    expect(observer.failures).toEqual([["incr", "connection"]]);
    expect(log.down).toHaveLength(1);
  });

  it("retries a read that got LOADING, and passes LOADING through to a write", async () => {
    const { node, connection } = fakeNode();
    const read = node.send(get(), 1000, RETRYABLE);
    const write = node.send(incr(), 1000);
    await turn();
    connection.replyError("LOADING Redis is loading the dataset in memory");
    connection.replyError("LOADING Redis is loading the dataset in memory");
    await expect(write).rejects.toThrow(/^LOADING/);
    await vi.advanceTimersByTimeAsync(100);
    expect(connection.names()).toEqual(["get", "incr", "get"]);
    connection.reply("v");
    await expect(read).resolves.toBe("v");
  });

  it("gives up retrying when the next attempt would pass the deadline", async () => {
    const { node, connection, observer } = fakeNode({ retry: { baseDelayMs: 40, maxDelayMs: 40 } });
    // The first retry waits 20-40 ms (jittered): always past a 15 ms deadline.
    const p = node.send(get(), 15, RETRYABLE);
    await turn();
    connection.drop();
    await expect(p).rejects.toThrow(ConnectionError);
    expect(observer.retries).toBe(0);
  });
});

describe("NodeClient: circuit breaker", () => {
  it("opens after two failed connection attempts, fails fast without writing, and closes on a successful probe", async () => {
    const { node, connection, log, breaker } = fakeNode({ breaker: { resetTimeoutMs: 1000 } });
    node.connect();
    await turn();
    connection.drop();
    expect(breaker.state).toBe("closed");
    connection.failAttempt();
    expect(log.breaker).toEqual(["open"]);
    const fast = node.send(get(), 1000);
    await expect(fast).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(fast).rejects.toThrow(/circuit open \(connection lost and not re-established: connect ECONNREFUSED/);
    expect(connection.written).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(1000); // halfOpen: the probe waits for the connection
    expect(log.breaker).toEqual(["open", "halfOpen"]);
    connection.up();
    await turn();
    expect(connection.names().at(-1)).toBe("ping");
    connection.reply("PONG");
    await turn();
    expect(log.breaker).toEqual(["open", "halfOpen", "closed"]);
    const after = node.send(get(), 1000);
    await turn();
    connection.reply("v");
    await expect(after).resolves.toBe("v");
  });

  it("opens when written commands go unanswered for stallMs, before their deadlines", async () => {
    const { node, log } = fakeNode({ breaker: { stallMs: 200 } });
    const p = node.send(get(), 5000);
    p.catch(() => undefined);
    await turn();
    await vi.advanceTimersByTimeAsync(300);
    expect(log.breaker).toEqual(["open"]);
    await expect(node.send(get(), 1000)).rejects.toThrow(/circuit open \(no reply for \d+ ms\)/);
  });

  it("opens when most commands of the window fail at the node", async () => {
    const { node, log } = fakeNode({ breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, stallMs: 10_000 } });
    const sent = Array.from({ length: 4 }, () => node.send(get(), 50));
    for (const p of sent) p.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(60);
    expect(log.breaker).toEqual(["open"]);
  });
});

describe("NodeClient: ROLE check", () => {
  it("holds commands on a node that is not the master it was sent as, reports it once, and goes when the role matches", async () => {
    const mismatches: string[] = [];
    const { node, connection, log } = fakeNode({
      role: "master",
      setup: (c) => (c.role = "slave"),
      onRoleMismatch: (_node, actual) => mismatches.push(actual),
    });
    const p = node.send(incr(), 5000);
    await turn();
    expect(connection.names()).toEqual(["role"]);
    expect(node.ready).toBe(false);
    expect(log.errors.map((e) => e.message)).toEqual(["the node is a slave, not the master it was sent as"]);

    await vi.advanceTimersByTimeAsync(ROLE_RECHECK_MS);
    expect(connection.names()).toEqual(["role", "role"]);
    expect(log.errors).toHaveLength(1);
    expect(mismatches).toEqual(["slave", "slave"]);

    connection.role = "master";
    node.roleChanged(); // the layout changed: check again now, not at the next recheck
    await turn();
    expect(connection.names()).toEqual(["role", "role", "role", "incr"]);
    connection.reply(1);
    await expect(p).resolves.toBe(1);
  });

  it("serves reads from a replica that answers master (promoted), and has the topology re-read", async () => {
    const mismatches: string[] = [];
    const { node, connection } = fakeNode({ role: "replica", onRoleMismatch: (_n, actual) => mismatches.push(actual) });
    const p = node.send(get(), 1000);
    await turn();
    expect(connection.names()).toEqual(["role", "get"]);
    expect(mismatches).toEqual(["master"]);
    connection.reply("v");
    await expect(p).resolves.toBe("v");
  });

  it("serves a node whose ACL refuses ROLE as the role it was sent as, at once, and reports the refusal", async () => {
    const refusals: Array<[string, string]> = [];
    const { node, connection, log } = fakeNode({
      role: "master",
      setup: (c) => (c.role = new ReplyError("NOPERM this user has no permissions to run the 'role' command")),
      refused: (_node, feature, error) => refusals.push([feature, error.message]),
    });
    const p = node.send(incr(), 1000);
    await turn();
    expect(connection.names()).toEqual(["role", "incr"]);
    expect(node.ready).toBe(true);
    expect(log.ready).toHaveLength(1);
    expect(log.errors).toEqual([]);
    expect(refusals).toEqual([["roleCheck", "NOPERM this user has no permissions to run the 'role' command"]]);
    connection.reply(1);
    await expect(p).resolves.toBe(1);

    // A layout change cannot re-check it (nothing is held); a new connection asks again, and is refused again.
    node.roleChanged();
    connection.drop();
    connection.up();
    await turn();
    expect(connection.names()).toEqual(["role", "incr", "role"]);
    expect(node.ready).toBe(true);
    expect(refusals).toHaveLength(2);
  });

  it("checks again when the ACL allows ROLE later: a mismatch is held as before", async () => {
    const { node, connection } = fakeNode({
      role: "master",
      setup: (c) => (c.role = new ReplyError("NOPERM this user has no permissions to run the 'role' command")),
    });
    node.connect();
    await turn();
    expect(node.ready).toBe(true);
    connection.role = "slave";
    connection.drop();
    connection.up();
    await turn();
    expect(node.ready).toBe(false);
  });

  it("checks afresh on every new connection", async () => {
    const { node, connection } = fakeNode({ role: "master" });
    node.connect();
    await turn();
    connection.drop();
    connection.up();
    await turn();
    expect(connection.names()).toEqual(["role", "role"]);
  });
});

describe("NodeClient: limits and credentials", () => {
  it("fails fast with QueueFullError past maxQueueLength while the connection is not ready", async () => {
    const { node, observer } = fakeNode({ maxQueueLength: 2, setup: (c) => (c.onConnect = "hang") });
    const waiting = [node.send(get(), 100), node.send(get(), 100)];
    for (const p of waiting) p.catch(() => undefined);
    await expect(node.send(get(), 100)).rejects.toBeInstanceOf(QueueFullError);
    expect(observer.failures).toEqual([["get", "queue_full"]]);
  });

  it("fails queued and later commands with AuthenticationError, without the password", async () => {
    const { node, connection, observer } = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const queued = node.send(get(), 1000);
    connection.error("WRONGPASS invalid username-password pair or user is disabled.");
    await expect(queued).rejects.toBeInstanceOf(AuthenticationError);
    await expect(node.send(get(), 1000)).rejects.toThrow(/shard s0 \(10\.0\.0\.1:6379\): authentication failed for user "default": WRONGPASS/);
    expect(observer.failures).toEqual([["get", "auth"], ["get", "auth"]]);
  });
});

describe("NodeClient: READONLY and hand-over", () => {
  it("re-routes a write that got READONLY once, through the redirect hook", async () => {
    const other = fakeNode();
    const { node, connection } = fakeNode({ redirect: (_node, entry) => other.node.adopt(entry) });
    const p = node.send(incr(), 1000);
    await turn();
    connection.replyError("READONLY You can't write against a read only replica.");
    await turn();
    expect(other.connection.names()).toEqual(["incr"]);
    other.connection.reply(7);
    await expect(p).resolves.toBe(7);
  });

  it("never re-routes a MULTI block on its own (its parts would run apart): the refusal is the caller's", async () => {
    const other = fakeNode();
    const { node, connection } = fakeNode({ redirect: (_node, entry) => other.node.adopt(entry), retry: { attempts: 3 } });
    const block = new BlockCommand([incr()]);
    const p = node.send(block, 1000, BLOCK | RETRYABLE);
    await turn();
    connection.reply("OK");
    connection.replyError("READONLY You can't write against a read only replica.");
    connection.replyError("EXECABORT Transaction discarded because of previous errors.");
    await expect(p).rejects.toThrow(/^EXECABORT/);
    await expect(block.head[1]!.promise).rejects.toThrow(/^READONLY/);
    expect(other.connection.names()).toEqual([]);
  });

  it("passes a second READONLY to the caller", async () => {
    let redirects = 0;
    const { node, connection } = fakeNode({
      redirect: (_node, entry) => {
        redirects++;
        node.adopt(entry);
      },
    });
    const p = node.send(incr(), 1000);
    await turn();
    connection.replyError("READONLY You can't write against a read only replica.");
    await turn();
    connection.replyError("READONLY You can't write against a read only replica.");
    await expect(p).rejects.toThrow(/^READONLY/);
    expect(redirects).toBe(1);
  });

  it("an ASK hand-over's ASKING that expires with its command is no unhandled rejection (simulation seed)", async () => {
    const a = fakeNode();
    const b = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const p = a.node.send(get(), 300);
    const rejected = expect(p).rejects.toThrow(/no reply within 300 ms/);
    await turn();
    // What a cluster's ASK does: the command goes to the importing node, ASKING right before it; that node never answers.
    const entry = (a.node as unknown as { tracker: { pending(): Array<{ cmd: unknown }> } }).tracker.pending()[0]!;
    b.node.adopt(entry as never, true);
    await vi.advanceTimersByTimeAsync(310);
    await rejected;
    expect(b.node.queued).toBe(0);
  });

  it("hands queued commands to another node, keeping their deadlines", async () => {
    const a = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const b = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    const p = a.node.send(get(), 300);
    const rejected = expect(p).rejects.toThrow(/no reply within 300 ms/);
    await vi.advanceTimersByTimeAsync(200);
    a.node.handOverQueued(b.node);
    expect(a.node.queued).toBe(0);
    expect(b.node.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(102);
    await rejected;
  });
});

describe("NodeClient: close", () => {
  it("fails written commands with ConnectionError and unsent ones with ClientClosedError, both in ioredis's words", async () => {
    const { node, connection } = fakeNode();
    const written = node.send(get(), 1000);
    await turn();
    connection.stream!.writable = false; // the next turn's write cannot happen
    const unsent = node.send(get(), 1000);
    await node.close(true);
    // Libraries (bull, BullMQ) compare the message with ioredis's to tell a shutdown from a fault.
    await expect(written).rejects.toMatchObject({ constructor: ConnectionError, code: "ERR_SHARDIS_CONNECTION", message: "Connection is closed.", shard: node.shard, node: node.id });
    await expect(unsent).rejects.toMatchObject({ constructor: ClientClosedError, message: "Connection is closed." });
  });

  it("refuses what is sent or handed over to it once closed: nothing may wait where no deadline is watched", async () => {
    const { node } = fakeNode();
    const other = fakeNode({ setup: (c) => (c.onConnect = "hang") });
    await node.close(true);
    await expect(node.send(get(), 1000)).rejects.toBeInstanceOf(ClientClosedError);
    const queued = other.node.send(get(), 1000);
    other.node.handOverQueued(node);
    await expect(queued).rejects.toBeInstanceOf(ClientClosedError);
    expect(other.node.queued).toBe(0);
  });

  it("drain() waits for bounded commands; close() then sends QUIT", async () => {
    const { node, connection } = fakeNode();
    const p = node.send(get(), 1000);
    let drained = false;
    const draining = node.drain().then(() => (drained = true));
    await turn();
    expect(drained).toBe(false);
    connection.reply("v");
    await draining;
    await expect(p).resolves.toBe("v");
    await node.close();
    expect(connection.status).toBe("end");
  });

  it("sends internal commands without reporting them", async () => {
    const { node, connection, observer } = fakeNode();
    const p = node.send(internalCommand("info"), 1000, 4 /* INTERNAL */);
    await turn();
    connection.reply("# Server");
    await p;
    await turn();
    expect(observer.answers).toEqual([]);
  });
});
