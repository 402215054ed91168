/**
 * NodeRegistry, NodePool and PubSub on fake connections: how layouts become
 * connections, roles and hand-overs; how the pool lends, bounds and replaces
 * connections; how subscriptions reach shards and messages reach listeners.
 */
import { ReplyError } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildCommand } from "../../lib/commands/command.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { NEVER_OPENS, NodeClient } from "../../lib/connection/NodeClient.js";
import { FlushScheduler } from "../../lib/connection/scheduler.js";
import { ConnectionError, PoolExhaustedError, SubscriptionError, TimeoutError } from "../../lib/errors.js";
import { PubSub, type PubSubEvents } from "../../lib/pubsub/PubSub.js";
import { NodeBreaker } from "../../lib/resilience/breaker.js";
import { NodeRegistry, type RegistryParts } from "../../lib/topology/NodeRegistry.js";
import { freezeLayout } from "../../lib/topology/Topology.js";
import { fakeConnections } from "../support/fakeConnection.js";
import { RecordingObserver, turn, useFakeTime } from "../support/fakeNode.js";

const A = { host: "10.0.0.1", port: 6379 };
const B = { host: "10.0.0.2", port: 6379 };
const C = { host: "10.0.0.3", port: 6379 };
const noEvents = { ready: () => undefined, down: () => undefined, error: () => undefined, breaker: () => undefined };

function registry(options: Record<string, unknown> = {}) {
  const fakes = fakeConnections();
  const observers = new Map<string, RecordingObserver>();
  const observer = (key: string) => observers.get(key) ?? observers.set(key, new RecordingObserver()).get(key)!;
  const resolved = resolveOptions({ shards: [{ name: "s0", master: "10.0.0.1:6379", replicas: ["10.0.0.2:6379"] }], ...options });
  const parts: RegistryParts = {
    connections: fakes.factory,
    breaker: (probe, onState) => new NodeBreaker(resolved.breaker, probe, onState),
    observer: (shard, role) => observer(`${shard}/${role}`),
    nodeObserver: (shard, address) => observer(`${shard}/${address}`),
  };
  const mismatches: string[] = [];
  const reg = new NodeRegistry(resolved, parts, noEvents, {
    roleMismatch: (_shard, _node, actual) => mismatches.push(actual),
    redirect: () => undefined,
  });
  return { reg, fakes, observer, mismatches };
}

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

describe("NodeRegistry", () => {
  it("connects to every node of a layout, each checked for the role it was given", async () => {
    const { reg, fakes } = registry();
    expect(reg.apply(freezeLayout(1, [{ master: A, replicas: [B] }], ["s0"], undefined))).toEqual([0]);
    fakes.first("10.0.0.2:6379").role = "slave";
    await turn();
    expect(reg.master(0)!.id).toBe("10.0.0.1:6379");
    expect(reg.replicasOf(0).map((n) => n.id)).toEqual(["10.0.0.2:6379"]);
    expect(fakes.first("10.0.0.1:6379").names()).toEqual(["role"]);
    expect(fakes.first("10.0.0.2:6379").names()).toEqual(["role"]);
    expect(reg.master(0)!.ready && reg.replicasOf(0)[0]!.ready).toBe(true);
  });

  it("on a failover keeps connections by address, swaps roles and observers, and hands queued commands over", async () => {
    const { reg, fakes, observer } = registry();
    reg.apply(freezeLayout(1, [{ master: A, replicas: [B] }], ["s0"], undefined));
    const a = fakes.first("10.0.0.1:6379");
    const b = fakes.first("10.0.0.2:6379");
    b.role = "slave";
    await turn();
    const oldMaster = reg.master(0)!;
    a.drop(); // the master dies; a write waits for it
    const write = oldMaster.send(buildCommand("incr", ["n"], "utf8"), 5000);
    b.role = "master";
    expect(reg.apply(freezeLayout(2, [{ master: B, replicas: [] }], ["s0"], undefined))).toEqual([0]);
    await turn();
    expect(reg.master(0)!.id).toBe("10.0.0.2:6379");
    expect(fakes.all("10.0.0.2:6379")).toHaveLength(1); // the promoted replica kept its connection
    // Confirmed as a replica, the connection goes on as the master without another ROLE.
    expect(b.names()).toEqual(["role", "incr"]);
    b.reply(1);
    await expect(write).resolves.toBe(1);
    await turn();
    expect(observer("0/master").answers).toEqual([["incr", true]]);
    expect(a.status).toBe("end"); // the node that left was retired
  });

  it("an address re-placed into another shard (replica migration) becomes a new node of that shard; the old one settles its commands, then closes", async () => {
    const { reg, fakes, observer } = registry({
      shards: [
        { name: "s0", master: "10.0.0.1:6379", replicas: ["10.0.0.2:6379"] },
        { name: "s1", master: "10.0.0.3:6379", replicas: [] },
      ],
    });
    reg.apply(freezeLayout(1, [{ master: A, replicas: [B] }, { master: C, replicas: [] }], ["s0", "s1"], undefined));
    fakes.first("10.0.0.2:6379").role = "slave";
    await turn();
    const before = reg.replicasOf(0)[0]!;
    const inFlight = before.send(buildCommand("get", ["k"], "utf8"), 5000);
    await turn();

    // B now replicates C: it serves shard s1.
    expect(reg.apply(freezeLayout(2, [{ master: A, replicas: [] }, { master: C, replicas: [B] }], ["s0", "s1"], undefined))).toEqual([]);
    const after = reg.replicasOf(1)[0]!;
    expect(after).not.toBe(before);
    expect(after.shard).toBe("s1");
    expect(reg.placements().filter((p) => p.node.id === "10.0.0.2:6379").map((p) => [p.shard, p.node.shard, p.role])).toEqual([[1, "s1", "replica"]]);
    const [oldConnection, newConnection] = fakes.all("10.0.0.2:6379");
    newConnection!.role = "slave";
    await turn();

    // The old node's command in flight is answered where it was written, then the old connection closes.
    oldConnection!.reply("old");
    await expect(inFlight).resolves.toBe("old");
    await turn();
    expect(oldConnection!.status).toBe("end");
    expect(observer("0/replica").answers).toEqual([["get", true]]);

    // The new node reports under s1.
    const read = after.send(buildCommand("get", ["k"], "utf8"), 5000);
    await turn();
    newConnection!.reply("new");
    await expect(read).resolves.toBe("new");
    await turn();
    expect(observer("1/replica").answers).toEqual([["get", true]]);
  });

  it("commands that waited for a replica that migrated to another shard go to its old shard's master", async () => {
    const { reg, fakes } = registry({
      shards: [
        { name: "s0", master: "10.0.0.1:6379", replicas: ["10.0.0.2:6379"] },
        { name: "s1", master: "10.0.0.3:6379", replicas: [] },
      ],
    });
    reg.apply(freezeLayout(1, [{ master: A, replicas: [B] }, { master: C, replicas: [] }], ["s0", "s1"], undefined));
    fakes.first("10.0.0.2:6379").role = "slave";
    await turn();
    fakes.first("10.0.0.2:6379").drop(); // the replica is reconnecting: a read waits in its queue
    const read = reg.replicasOf(0)[0]!.send(buildCommand("get", ["k"], "utf8"), 5000);
    reg.apply(freezeLayout(2, [{ master: A, replicas: [] }, { master: C, replicas: [B] }], ["s0", "s1"], undefined));
    await turn();
    const master = fakes.first("10.0.0.1:6379");
    expect(master.names()).toEqual(["role", "get"]);
    master.reply("from s0");
    await expect(read).resolves.toBe("from s0");
  });

  it("reports a node whose ROLE disagrees with the layout", async () => {
    const { reg, fakes, mismatches } = registry();
    reg.apply(freezeLayout(1, [{ master: A, replicas: [B] }], ["s0"], undefined));
    fakes.first("10.0.0.1:6379").role = "slave";
    fakes.first("10.0.0.2:6379").role = "slave";
    await turn();
    expect(mismatches).toEqual(["slave"]);
    expect(reg.master(0)!.ready).toBe(false);
  });
});

describe("NodePool", () => {
  it("lends dedicated connections, bounded by max, and reports a refused connection as ConnectionError", async () => {
    const { reg, fakes } = registry({ pool: { max: 1, acquireTimeoutMs: 100 } });
    reg.apply(freezeLayout(1, [{ master: A, replicas: [] }], ["s0"], undefined));
    const pool = reg.pool(0)!;
    const first = pool.acquire();
    await turn();
    const lent = await first;
    expect(fakes.all("10.0.0.1:6379")).toHaveLength(2);
    const second = pool.acquire();
    const exhausted = expect(second).rejects.toBeInstanceOf(PoolExhaustedError);
    await vi.advanceTimersByTimeAsync(110);
    await exhausted;
    await pool.release(lent);
    expect(pool.stats).toMatchObject({ size: 1, available: 1, borrowed: 0 });
  });

  it("names the connection failure when no dedicated connection could be opened", async () => {
    const { reg } = registry({ pool: { max: 2, acquireTimeoutMs: 100 } });
    const refusing = fakeConnections((c) => (c.onConnect = "refuse"));
    (reg as unknown as { parts: RegistryParts }).parts = { ...(reg as unknown as { parts: RegistryParts }).parts, connections: refusing.factory };
    reg.apply(freezeLayout(1, [{ master: A, replicas: [] }], ["s0"], undefined));
    const acquiring = reg.pool(0)!.acquire();
    const failed = expect(acquiring).rejects.toBeInstanceOf(ConnectionError);
    await vi.advanceTimersByTimeAsync(110);
    await failed;
    await expect(acquiring).rejects.toThrow(/could not open a dedicated connection/);
  });

  it("closes a returned connection whose replies may lag instead of lending it again", async () => {
    const { reg, fakes } = registry({ pool: { max: 1 } });
    reg.apply(freezeLayout(1, [{ master: A, replicas: [] }], ["s0"], undefined));
    const pool = reg.pool(0)!;
    const acquiring = pool.acquire();
    await turn();
    const lent = await acquiring;
    const expired = lent.send(buildCommand("get", ["k"], "utf8"), 10);
    expired.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(20);
    await pool.release(lent);
    await turn();
    expect(fakes.all("10.0.0.1:6379")[1]!.status).toBe("end");
    expect(pool.stats.size).toBe(0);
  });
});

describe("PubSub", () => {
  function pubsub() {
    const fakes = fakeConnections();
    const delivered: unknown[][] = [];
    const failures: SubscriptionError[] = [];
    const events: PubSubEvents = {
      message: (channel, message) => delivered.push(["event", channel.toString(), message]),
      smessage: (channel, message) => delivered.push(["sevent", channel.toString(), message]),
      pmessage: (pattern, channel, message) => delivered.push(["pevent", pattern.toString(), channel.toString(), message.toString()]),
      handlerError: (error, channel) => delivered.push(["error", channel, (error as Error).message]),
      subscriptionError: (error) => failures.push(error),
    };
    const addresses = [A, B, C];
    const opened: NodeClient[] = [];
    const ps = new PubSub(
      {
        mapped: async () => undefined,
        clusterWide: false,
        shardCount: 3,
        shardOf: (channel) => (String(channel).startsWith("x") ? 1 : 0),
        shardName: (shard) => `s${shard}`,
        open: async (shard, watch) => {
          const node = new NodeClient({
            shard: `s${shard}`,
            address: addresses[shard]!,
            connections: fakes.factory,
            scheduler: new FlushScheduler(),
            events: { ...noEvents, ready: (n) => watch.ready(n), down: (n) => watch.down(n) },
            context: {
              breaker: NEVER_OPENS,
              maxQueueLength: 100,
              maxWriteDelayMs: 1,
              retry: { attempts: 0, baseDelayMs: 0, maxDelayMs: 0, idempotentCommands: [] },
              detectStalls: false,
              role: undefined,
              observer: new RecordingObserver(),
              nodeObserver: new RecordingObserver(),
            },
          });
          opened.push(node);
          return node;
        },
        timeoutMs: 1000,
        closed: false,
      },
      events,
    );
    const subscribe = (fake: ReturnType<typeof fakes.first>) => (fake.autoReply = (cmd) => [cmd.name, cmd.args[0], 1]);
    return { ps, fakes, delivered, failures, opened, subscribe };
  }

  it("subscribes each channel on its shard; handlers get strings, handler-less subscriptions become events with Buffers", async () => {
    const { ps, fakes, delivered, subscribe } = pubsub();
    const handler = vi.fn();
    const subscribing = Promise.all([ps.subscribe(["news"], handler), ps.subscribe(["xray", "news"])]);
    await turn();
    for (const address of ["10.0.0.1:6379", "10.0.0.2:6379"]) {
      const fake = fakes.first(address);
      subscribe(fake);
      for (const cmd of fake.pending.splice(0)) cmd.resolve([cmd.name, cmd.args[0], 1]);
    }
    await expect(subscribing).resolves.toEqual([2, 2]);
    expect(fakes.first("10.0.0.1:6379").written.map((c) => [c.name, String(c.args[0])])).toEqual([["subscribe", "news"]]);
    expect(fakes.first("10.0.0.2:6379").written.map((c) => [c.name, String(c.args[0])])).toEqual([["subscribe", "xray"]]);

    const binary = Buffer.from([0xff, 0x00, 0xfe]);
    fakes.first("10.0.0.1:6379").deliver("news", binary);
    expect(handler).toHaveBeenCalledWith(binary.toString(), "news");
    expect(delivered).toEqual([["event", "news", binary]]);
    expect((delivered[0]![2] as Buffer).equals(binary)).toBe(true);
  });

  it("unsubscribes when the last listener goes, and reports a handler that throws", async () => {
    const { ps, fakes, delivered, subscribe } = pubsub();
    const subscribing = ps.subscribe(["news"], () => {
      throw new Error("boom");
    });
    await turn();
    const fake = fakes.first("10.0.0.1:6379");
    subscribe(fake);
    fake.pending.splice(0).forEach((cmd) => cmd.resolve(["subscribe", "news", 1]));
    await subscribing;
    fake.deliver("news", "m");
    expect(delivered).toEqual([["error", "news", "boom"]]);
    const unsubscribing = ps.unsubscribe(["news"]);
    await turn();
    await expect(unsubscribing).resolves.toBe(0);
    expect(fake.names()).toEqual(["subscribe", "unsubscribe"]);
    expect(ps.count).toBe(0);
  });

  it("moves a shard's subscriptions to a new connection when its master changes", async () => {
    const { ps, fakes, opened, subscribe } = pubsub();
    const subscribing = Promise.all([ps.subscribe(["news"], () => undefined), ps.psubscribe(["n*"])]);
    await turn();
    for (const fake of [0, 1, 2].map((i) => fakes.all(["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"][i]!)[0]!)) {
      subscribe(fake);
      fake.pending.splice(0).forEach((cmd) => cmd.resolve([cmd.name, cmd.args[0], 1]));
    }
    await subscribing;
    ps.follow([0]);
    await turn();
    const [old, fresh] = fakes.all("10.0.0.1:6379");
    expect(opened).toHaveLength(4);
    expect(fresh!.names()).toEqual(["subscribe", "psubscribe"]);
    expect(old!.status).toBe("end");
  });

  /** Subscribed to "news" on s0 (10.0.0.1), confirmed; returns its fake connection. */
  async function subscribed(setup: ReturnType<typeof pubsub>, handler: (m: string) => void) {
    const subscribing = setup.ps.subscribe(["news"], handler);
    await turn();
    const fake = setup.fakes.first("10.0.0.1:6379");
    fake.pending.splice(0).forEach((cmd) => cmd.resolve(["subscribe", "news", 1]));
    await subscribing;
    return fake;
  }

  it("subscribes again after the connection comes back; a SUBSCRIBE past its deadline is reported and retried with backoff until held", async () => {
    const setup = pubsub();
    const got: string[] = [];
    const fake = await subscribed(setup, (m) => got.push(m));
    fake.drop();
    await turn();
    expect(setup.ps.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "restoring" }]);
    fake.up(); // reconnected: it holds nothing; the node does not answer in time
    await turn();
    expect(fake.names()).toEqual(["subscribe", "subscribe"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(setup.failures).toHaveLength(1);
    const [failure] = setup.failures;
    expect(failure).toBeInstanceOf(SubscriptionError);
    expect(failure).toMatchObject({ code: "ERR_SHARDIS_SUBSCRIPTION", shard: "s0", command: "subscribe", names: ["news"], refused: false });
    expect(failure!.cause).toBeInstanceOf(TimeoutError);
    expect(setup.ps.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "restoring", error: failure }]);
    // The retry comes after the first backoff step (at most 50 ms) and is answered.
    fake.autoReply = (cmd) => [cmd.name, cmd.args[0], 1];
    await vi.advanceTimersByTimeAsync(60);
    expect(fake.names()).toEqual(["subscribe", "subscribe", "subscribe"]);
    expect(setup.ps.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "active" }]);
    fake.deliver("news", "back");
    expect(got).toEqual(["back"]);
    expect(setup.failures).toHaveLength(1);
  });

  it("a refused re-subscription (NOPERM) is reported once, asked again quietly, held again once accepted; unsubscribing stops it", async () => {
    const setup = pubsub();
    const fake = await subscribed(setup, () => undefined);
    let accept = false;
    fake.autoReply = (cmd) => (accept ? [cmd.name, cmd.args[0], 1] : new ReplyError("NOPERM this user has no permissions to access one of the channels used as arguments"));
    fake.drop();
    await turn();
    fake.up();
    await turn();
    expect(setup.failures.map((f) => [f.refused, f.names])).toEqual([[true, ["news"]]]);
    const [refusal] = setup.failures;
    expect(setup.ps.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "refused", error: refusal }]);
    await vi.advanceTimersByTimeAsync(5000);
    const asked = fake.names().filter((n) => n === "subscribe").length;
    expect(asked).toBeGreaterThanOrEqual(5); // the first, the restore, and quiet retries, at most 2 s apart
    expect(setup.failures).toHaveLength(1);
    accept = true;
    await vi.advanceTimersByTimeAsync(2000);
    expect(setup.ps.subscriptions()).toEqual([{ kind: "channel", name: "news", state: "active" }]);

    // Refused again, then unsubscribed: reported again (it was held in between), and no more SUBSCRIBE after.
    accept = false;
    fake.drop();
    await turn();
    fake.up();
    await turn();
    expect(setup.failures).toHaveLength(2);
    const unsubscribing = setup.ps.unsubscribe(["news"]);
    await turn();
    await unsubscribing;
    const before = fake.names().filter((n) => n === "subscribe").length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(fake.names().filter((n) => n === "subscribe").length).toBe(before);
    expect(setup.ps.subscriptions()).toEqual([]);
  });
});
