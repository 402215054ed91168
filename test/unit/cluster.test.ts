/**
 * Redis Cluster logic without a cluster: reading CLUSTER SHARDS and CLUSTER
 * SLOTS, shard identity across failovers and scale-out, routing by slot,
 * and what a connection does with MOVED, ASK, TRYAGAIN and CLUSTERDOWN.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseClusterShards, parseClusterSlots } from "../../lib/cluster/clusterShards.js";
import { ClusterSource, type ClusterPort } from "../../lib/cluster/ClusterSource.js";
import { MigratingBlock } from "../../lib/client/migratingBlock.js";
import { buildCommand } from "../../lib/commands/command.js";
import { BLOCK, type NodeClient } from "../../lib/connection/NodeClient.js";
import { BlockCommand } from "../../lib/commands/block.js";
import { ClusterError, CrossShardError } from "../../lib/errors.js";
import { commandSpec } from "../../lib/routing/commandSpec.js";
import { Router, type SplitPlan } from "../../lib/routing/plan.js";
import { keySlot } from "../../lib/sharding/keySlot.js";
import { ClusterSlots } from "../../lib/sharding/strategy.js";
import { AddressPolicy } from "../../lib/topology/addressPolicy.js";
import { initialLayout, nextLayout, UNASSIGNED, type Layout } from "../../lib/topology/Topology.js";
import { fakeNode, turn, useFakeTime } from "../support/fakeNode.js";

const node = (id: string, port: number, role: "master" | "replica", health = "online") => [
  "id", id, "port", port, "ip", "10.0.0.1", "endpoint", "10.0.0.1", "role", role, "replication-offset", 1, "health", health,
];
const shard = (slots: number[], ...nodes: unknown[][]) => ["slots", slots, "nodes", nodes];
const ID = { a: "aaaaaaaa1111", b: "bbbbbbbb2222", c: "cccccccc3333", ar: "aaaa0000ffff", d: "dddddddd4444" };

describe("CLUSTER SHARDS and CLUSTER SLOTS", () => {
  it("read CLUSTER SHARDS as RESP3 maps too (redis.replyMapping \"resp3\" decodes them as objects)", () => {
    const asMap = (flat: unknown[]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]));
    const flat = [shard([0, 16383], node(ID.a, 7000, "master"), node(ID.ar, 7003, "replica"))];
    const mapped = [asMap(["slots", [0, 16383], "nodes", [asMap(node(ID.a, 7000, "master")), asMap(node(ID.ar, 7003, "replica"))]])];
    expect(parseClusterShards(mapped)).toEqual(parseClusterShards(flat));
  });

  it("read slot ranges and nodes with role and health", () => {
    const parsed = parseClusterShards([shard([0, 5460, 6000, 6001], node(ID.a, 7000, "master"), node(ID.ar, 7003, "replica", "loading"))]);
    expect(parsed).toEqual([
      {
        slots: [[0, 5460], [6000, 6001]],
        nodes: [
          { id: ID.a, host: "10.0.0.1", port: 7000, role: "master", health: "online" },
          { id: ID.ar, host: "10.0.0.1", port: 7003, role: "replica", health: "loading" },
        ],
      },
    ]);
    const slots = parseClusterSlots([
      [0, 100, ["10.0.0.1", 7000, ID.a], ["10.0.0.1", 7003, ID.ar]],
      [101, 200, ["10.0.0.1", 7000, ID.a]],
    ]);
    expect(slots).toHaveLength(1);
    expect(slots[0]!.slots).toEqual([[0, 100], [101, 200]]);
    expect(slots[0]!.nodes.map((n) => n.role)).toEqual(["master", "replica"]);
  });

  it("address a node by the endpoint the cluster prefers (its announced hostname), on its TLS port when the client speaks TLS", () => {
    const named = [
      "id", ID.a, "port", 6379, "tls-port", 6380, "ip", "10.0.0.1", "endpoint", "a.cache.example", "hostname", "a.cache.example",
      "role", "master", "health", "online",
    ];
    const [plain] = parseClusterShards([shard([0, 16383], named)]);
    expect(plain!.nodes[0]).toMatchObject({ host: "a.cache.example", port: 6379 });
    const [tls] = parseClusterShards([shard([0, 16383], named)], true);
    expect(tls!.nodes[0]).toMatchObject({ host: "a.cache.example", port: 6380 });
    // --port 0: only a TLS port; "?": no endpoint of the preferred type, so the hostname, else the ip.
    const tlsOnly = ["id", ID.b, "tls-port", 6380, "ip", "10.0.0.2", "endpoint", "?", "hostname", "b.cache.example", "role", "master", "health", "online"];
    const bare = ["id", ID.c, "tls-port", 6380, "ip", "10.0.0.3", "endpoint", "?", "role", "master", "health", "online"];
    const [b, c] = parseClusterShards([shard([0, 1], tlsOnly), shard([2, 3], bare)]);
    expect(b!.nodes[0]).toMatchObject({ host: "b.cache.example", port: 6380 });
    expect(c!.nodes[0]).toMatchObject({ host: "10.0.0.3", port: 6380 });
    // CLUSTER SLOTS (Redis 7): the endpoint first, the ip in the metadata when the endpoint is "?".
    const [slots] = parseClusterSlots([[0, 16383, ["a.cache.example", 6380, ID.a, ["ip", "10.0.0.1"]], ["?", 6380, ID.ar, ["ip", "10.0.0.4"]]]]);
    expect(slots!.nodes.map((n) => `${n.host}:${n.port}`)).toEqual(["a.cache.example:6380", "10.0.0.4:6380"]);
  });
});

describe("ClusterSource", () => {
  function source(replies: unknown[], options: { allowed?: string[] } = {}) {
    const asked: string[] = [];
    const refused: string[] = [];
    let turn = 0;
    const port: ClusterPort = {
      ask: async (address, args) => {
        asked.push(`${address.host}:${address.port} ${args.join(" ")}`);
        const reply = replies[Math.min(turn++, replies.length - 1)];
        if (reply instanceof Error) throw reply;
        return reply;
      },
    };
    const src = new ClusterSource([{ host: "10.0.0.1", port: 7000 }], port, new AddressPolicy(undefined, options.allowed), {
      refused: (_shard, address) => refused.push(address),
      error: () => undefined,
    });
    return { src, asked, refused };
  }
  const apply = async (src: ClusterSource, layout: Layout) => nextLayout(layout, await src.observe(layout)) ?? layout;
  const three = [
    shard([0, 5460], node(ID.a, 7000, "master"), node(ID.ar, 7003, "replica")),
    shard([5461, 10922], node(ID.b, 7001, "master")),
    shard([10923, 16383], node(ID.c, 7002, "master")),
  ];

  it("makes one shard per master, named after its node id, and a slot map", async () => {
    const { src } = source([three]);
    const layout = await apply(src, initialLayout([], true));
    expect(layout.names).toEqual(["aaaaaaaa", "bbbbbbbb", "cccccccc"]);
    expect(layout.shards[0]).toEqual({ master: { host: "10.0.0.1", port: 7000 }, replicas: [{ host: "10.0.0.1", port: 7003 }] });
    expect([layout.slots![0], layout.slots![5461], layout.slots![16383]]).toEqual([0, 1, 2]);
  });

  it("keeps a shard's index and name when its replica takes over, and ignores the failed master left without slots", async () => {
    const failedOver = [
      shard([0, 5460], node(ID.ar, 7003, "master")),
      shard([], node(ID.a, 7000, "master", "fail")),
      three[1],
      three[2],
    ];
    const { src } = source([three, failedOver]);
    const before = await apply(src, initialLayout([], true));
    const after = await apply(src, before);
    expect(after.names).toEqual(["aaaaaaaa", "bbbbbbbb", "cccccccc"]);
    expect(after.shards[0]!.master).toEqual({ host: "10.0.0.1", port: 7003 });
    expect(after.epoch).toBe(before.epoch + 1);
  });

  it("adds new masters as new shards, keeping the old ones' indexes", async () => {
    const scaled = [...three, shard([], node(ID.d, 7004, "master"))].reverse();
    const { src } = source([three, scaled]);
    const after = await apply(src, await apply(src, initialLayout([], true)));
    expect(after.names).toEqual(["aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"]);
    expect(after.shards[3]!.master).toEqual({ host: "10.0.0.1", port: 7004 });
    expect(after.slots![0]).toBe(0);
  });

  it("falls back to CLUSTER SLOTS, and names a seed that is not a cluster node", async () => {
    const old = source([new Error("ERR unknown subcommand 'shards'"), [[0, 16383, ["10.0.0.1", 7000, ID.a]]]]);
    const layout = await apply(old.src, initialLayout([], true));
    expect(old.asked).toEqual(["10.0.0.1:7000 SHARDS", "10.0.0.1:7000 SLOTS"]);
    expect(layout.names).toEqual(["aaaaaaaa"]);
    const plain = source([new Error("ERR This instance has cluster support disabled")]);
    const error = await plain.src.observe(initialLayout([], true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).node).toBe("10.0.0.1:7000");
    expect((error as Error).message).toContain("not a cluster node");
  });

  it("falls back to CLUSTER SLOTS when the ACL refuses CLUSTER SHARDS", async () => {
    const acl = source([new Error("NOPERM this user has no permissions to run the 'cluster|shards' command"), [[0, 16383, ["10.0.0.1", 7000, ID.a]]]]);
    const layout = await apply(acl.src, initialLayout([], true));
    expect(acl.asked).toEqual(["10.0.0.1:7000 SHARDS", "10.0.0.1:7000 SLOTS"]);
    expect(layout.names).toEqual(["aaaaaaaa"]);
  });

  it("asks the next node when one knows no slot (reset, or removed with del-node), and says so when none does", async () => {
    // The node that answered last was removed: it knows only itself, and no slot.
    const removed = [shard([], node(ID.d, 7004, "master"))];
    const { src, asked } = source([three, removed, three]);
    const before = await apply(src, initialLayout([], true));
    const after = await apply(src, before);
    expect(asked).toEqual(["10.0.0.1:7000 SHARDS", "10.0.0.1:7000 SHARDS", "10.0.0.1:7001 SHARDS"]);
    expect(after.shards.map((s) => s.master?.port)).toEqual([7000, 7001, 7002]);
    const alone = source([removed]);
    const error = await alone.src.observe(initialLayout([], true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as Error).message).toMatch(/no cluster node answered with a slot map .*knows no slot of any node/);
  });

  it("leaves out and reports addresses outside allowedAddresses", async () => {
    const { src, refused } = source([three], { allowed: ["10.0.0.1:7000", "10.0.0.1:7001", "10.0.0.1:7002"] });
    const layout = await apply(src, initialLayout([], true));
    expect(layout.shards[0]!.replicas).toEqual([]);
    expect(refused).toEqual(["10.0.0.1:7003"]);
  });
});

describe("routing over a cluster's slot map", () => {
  const owners = new Uint16Array(16384).fill(UNASSIGNED);
  owners.fill(0, 0, 8192);
  owners.fill(1, 8192, 16384);
  const router = new Router(new ClusterSlots(owners), ["n0", "n1"], "use a hash tag");
  const inShard = (shard: number, n: number) => {
    const keys: string[] = [];
    for (let i = 0; keys.length < n; i++) if (owners[keySlot(`k${i}`)] === shard) keys.push(`k${i}`);
    return keys;
  };

  it("splits multi-key commands by slot, even on one node (a cluster refuses CROSSSLOT)", () => {
    const [a, b] = inShard(0, 2) as [string, string];
    const plan = router.route(commandSpec("mget"), [a, b]) as SplitPlan;
    expect(plan.kind).toBe("split");
    expect(plan.parts.map((p) => p.shard)).toEqual([0, 0]);
    expect(router.route(commandSpec("mget"), ["{t}a", "{t}b"])).toBe(owners[keySlot("t")]);
  });

  it("refuses unsplittable commands across slots of one node, saying so", () => {
    const [a, b] = inShard(1, 2) as [string, string];
    expect(() => router.route(commandSpec("msetnx"), [a, "1", b, "2"])).toThrow(CrossShardError);
    expect(() => router.route(commandSpec("msetnx"), [a, "1", b, "2"])).toThrow(/its keys are in slots \d+, \d+, and a cluster runs one command on one slot/);
  });

  it("gives UNASSIGNED for a slot no shard serves", () => {
    const empty = new Router(new ClusterSlots(new Uint16Array(16384).fill(UNASSIGNED)), [], "");
    expect(empty.route(commandSpec("get"), ["k"])).toBe(UNASSIGNED);
  });
});

describe("a transaction's block through a slot migration (MigratingBlock)", () => {
  beforeEach(() => useFakeTime());
  afterEach(() => vi.useRealTimers());

  /** Sends a block where MigratingBlock says, as a transaction does: one BlockCommand ([ASKING,] MULTI, the commands, EXEC). */
  async function run(migration: MigratingBlock, master: NodeClient) {
    const { node, asking } = await migration.node(() => master);
    const queued = [buildCommand("set", ["{t}a", "1"], "utf8"), buildCommand("incr", ["{t}b"], "utf8")];
    const block = new BlockCommand(queued, "exec", asking);
    const exec = node.send(block, 1000, BLOCK);
    exec.catch(() => undefined);
    await turn();
    const replies = Promise.allSettled([...block.head, block].map((cmd) => cmd.promise));
    /** Each queued command's refusal, as the transaction hands them to relocated(). */
    const refusals = async () => (await Promise.allSettled(queued.map((cmd) => cmd.promise))).map((r) => (r.status === "rejected" ? (r.reason as Error) : undefined));
    return { node, queued, replies, refusals };
  }

  it("runs the block again on the importing node, ASKING right before MULTI, when every keyed command was answered ASK", async () => {
    const source = fakeNode();
    const target = fakeNode();
    const refreshes: string[] = [];
    const migration = new MigratingBlock(async (reported) => (refreshes.push(`node ${reported}`), target.node), async () => void refreshes.push("refresh"));
    const first = await run(migration, source.node);
    source.connection.reply("OK");
    source.connection.replyError("ASK 3999 10.0.0.9:7005");
    source.connection.replyError("ASK 3999 10.0.0.9:7005");
    source.connection.replyError("EXECABORT Transaction discarded because of previous errors.");
    await first.replies;
    await migration.relocated(first.queued, await first.refusals());
    expect(refreshes).toEqual(["node 10.0.0.9:7005"]);
    const second = await run(migration, source.node);
    expect(target.connection.names()).toEqual(["asking", "multi", "set", "incr", "exec"]);
    expect(target.connection.stream!.writes).toBe(1);
    for (const reply of ["OK", "OK", "QUEUED", "QUEUED"]) target.connection.reply(reply);
    target.connection.reply(["OK", 2]);
    // ASKING, MULTI, SET, INCR, EXEC
    expect((await second.replies).map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
  });

  it("waits for the map instead while some of the block's keys are still on the source", async () => {
    const source = fakeNode();
    const target = fakeNode();
    const refreshes: string[] = [];
    const migration = new MigratingBlock(async () => target.node, async () => void refreshes.push("refresh"));
    const first = await run(migration, source.node);
    source.connection.reply("OK");
    source.connection.replyError("ASK 3999 10.0.0.9:7005");
    source.connection.reply("QUEUED"); // {t}b has not moved yet
    source.connection.replyError("EXECABORT Transaction discarded because of previous errors.");
    await first.replies;
    await migration.relocated(first.queued, await first.refusals());
    expect(refreshes).toEqual(["refresh"]);
    await run(migration, source.node);
    expect(source.connection.names().slice(-4)).toEqual(["multi", "set", "incr", "exec"]);
    expect(target.connection.names()).toEqual([]);
  });
});

describe("a connection's cluster redirects", () => {
  beforeEach(() => useFakeTime());
  afterEach(() => vi.useRealTimers());

  function clusterNode(redirects: Array<[string, string]> = [], options: Parameters<typeof fakeNode>[0] = {}) {
    return fakeNode({ ...options, clusterRedirect: (_node, _entry, kind, address) => void redirects.push([kind, address]) });
  }

  it("hands a MOVED or ASK reply to the cluster, which sends the command on", async () => {
    const redirects: Array<[string, string]> = [];
    const { node, connection } = clusterNode(redirects);
    const reply = node.send(buildCommand("get", ["k"], "utf8"), 1000);
    await turn();
    connection.replyError("MOVED 3999 10.0.0.9:7005");
    await turn();
    expect(redirects).toEqual([["moved", "10.0.0.9:7005"]]);
    const settled = vi.fn();
    reply.then(settled, settled);
    await turn();
    expect(settled).not.toHaveBeenCalled(); // taken over: the caller keeps waiting for where it was sent
  });

  it("puts ASKING right before a command adopted after ASK, in the same write", async () => {
    const source = clusterNode();
    const target = clusterNode();
    const reply = source.node.send(buildCommand("set", ["k", "v"], "utf8"), 1000);
    await turn();
    source.connection.replyError("ASK 3999 10.0.0.9:7005");
    // What the cluster link does with it: the importing node takes it with ASKING.
    const entry = (source.node as unknown as { tracker: { pending(): unknown[] } }).tracker.pending()[0];
    target.node.adopt(entry as never, true);
    await turn();
    expect(target.connection.names()).toEqual(["asking", "set"]);
    expect(target.connection.stream!.writes).toBe(1);
    target.connection.reply("OK");
    target.connection.reply("OK");
    await expect(reply).resolves.toBe("OK");
  });

  it("retries TRYAGAIN for any command, writes included, until its deadline; then names the node", async () => {
    const { node, connection } = clusterNode();
    const write = node.send(buildCommand("incr", ["n"], "utf8"), 1000);
    await turn();
    connection.replyError("TRYAGAIN Multiple keys request during rehashing of slot");
    await vi.advanceTimersByTimeAsync(50);
    expect(connection.names()).toEqual(["incr", "incr"]);
    connection.reply(1);
    await expect(write).resolves.toBe(1);

    const down = node.send(buildCommand("get", ["k"], "utf8"), 200);
    const failed = expect(down).rejects.toThrow(ClusterError);
    for (let i = 0; i < 20 && connection.pending.length + 1; i++) {
      await vi.advanceTimersByTimeAsync(10);
      while (connection.pending.length) connection.replyError("CLUSTERDOWN The cluster is down");
    }
    await failed;
    await expect(down).rejects.toThrow(/^10\.0\.0\.1:6379: still answering "CLUSTERDOWN The cluster is down" at the command's deadline$/);
  });
});
