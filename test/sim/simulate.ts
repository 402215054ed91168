/**
 * One seeded run of the simulation: a ShardedClient on simulated nodes in
 * fake time, a random workload, faults injected at random moments, and the
 * invariants checked over everything that happened. The same seed replays
 * the same run, fault for fault: `npm run sim -- --seeds 1 --from <seed> --verbose`.
 */
import FakeTimers from "@sinonjs/fake-timers";
import { ShardedClient } from "../../lib/client/ShardedClient.js";
import { CONNECTION_FACTORY, LAYOUT_SOURCE } from "../../lib/exec/Fleet.js";
import { keySlot } from "../../lib/sharding/keySlot.js";
import { Timelines, type Call, type Outcome } from "./history.js";
import { Random } from "./random.js";
import { WORKLOAD_SCRIPT } from "./scripts.js";
import { describe, nextOp, untyped, type CheckContext, type Op } from "./workload.js";
import { START, World } from "./world.js";

export interface SimOptions {
  /** Workload steps (each issues calls, injects a fault or lets time pass). @default 60 */
  readonly steps?: number;
  /** A key to trace: every change of it on every node, and every call that names it, go into the report. */
  readonly traceKey?: string;
}

export interface SimReport {
  readonly seed: number;
  readonly config: string;
  readonly calls: number;
  readonly faults: number;
  readonly violations: string[];
  /** Faults and undo steps, with fake times: printed with a failure. */
  readonly log: readonly string[];
  /** With `traceKey`: the key's history, in time order. */
  readonly trace: readonly string[];
}

type Clock = ReturnType<ReturnType<typeof FakeTimers.withGlobal>["install"]>;


/** How long a call may run past its deadline: the deadline sweep runs in the next check phase, plus a reply on its way. */
const SETTLE_BOUND_MS = 50;

export async function simulate(seed: number, options: SimOptions = {}): Promise<SimReport> {
  const random = new Random(seed);
  const cluster = random.chance(0.25);
  const shards = cluster ? random.int(2, 3) : random.int(1, 3);
  const replicas = random.chance(0.6);
  const config = {
    commandTimeoutMs: random.pick([100, 300, 1000]),
    maxQueueLength: random.pick([4, 50, 1000]),
    breaker: random.chance(0.7) ? { resetTimeoutMs: random.pick([200, 1000]) } : (false as const),
    retry: { attempts: random.pick([0, 1, 3]) },
    nearCache: random.chance(0.3) ? {} : undefined,
    pool: { max: random.pick([1, 2, 4]), acquireTimeoutMs: 300 },
  };
  const describeConfig = `${cluster ? "cluster of " : ""}${shards} shard(s)${replicas ? " with replicas" : ""}, ${JSON.stringify(config)}`;

  const clock = FakeTimers.withGlobal(globalThis).install({
    now: START,
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "Date", "performance"],
    loopLimit: 1_000_000,
  });
  const realRandom = Math.random;
  const jitter = new Random(seed ^ 0x5bd1e995);
  Math.random = () => jitter.next();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);

  const violations: string[] = [];
  const calls: Call[] = [];
  let faults = 0;
  const world = new World(random, shards, replicas, cluster);
  try {
    // The layout source and connection factory are hidden options (symbols) for tests.
    const hidden: object = cluster
      ? { cluster: { seeds: world.shards.map((_, i) => world.masterOf(i).address) }, [CONNECTION_FACTORY]: world.factory }
      : { shards: world.shardConfigs(), [LAYOUT_SOURCE]: world.source, [CONNECTION_FACTORY]: world.factory };
    const client = new ShardedClient({ ...hidden, ...config } as ConstructorParameters<typeof ShardedClient>[0]);
    client.defineCommand("simIncr", { numberOfKeys: 1, lua: WORKLOAD_SCRIPT });
    const cache = client.cache<string>({ namespace: "c", ttlMs: random.pick([100, 1000]), staleMs: random.pick([0, 200]), waitTimeoutMs: 600 });
    const acknowledged = new Map<string, string>();
    const loaded = new Map<string, Set<string>>();
    const host = {
      client,
      cache,
      timeoutMs: config.commandTimeoutMs,
      acquireTimeoutMs: config.pool.acquireTimeoutMs,
      replicated: replicas,
      acknowledged: (key: string, value: string) => acknowledged.set(key, value),
      loaderReturned: (key: string, value: string) => {
        let set = loaded.get(key);
        if (!set) loaded.set(key, (set = new Set()));
        set.add(value);
      },
      publishing: (channel: string, message: string) => published.set(message, channel),
    };
    // Pub/sub: a channel and a pattern, subscribed before anything fails; what arrives is checked at the end.
    const published = new Map<string, string>();
    const deliveries: Array<{ via: string; channel: string; message: string }> = [];
    const subscribed = await drive(
      clock,
      Promise.all([
        client.subscribe("ch0", { handler: (message: string, channel: string) => deliveries.push({ via: "ch0", channel, message }) }),
        client.psubscribe("p*", { handler: (message: string, channel: string) => deliveries.push({ via: "p*", channel, message }) }),
      ]),
      5000,
    );
    if (!subscribed?.ok) violations.push(`subscribing before any fault failed: ${describe(subscribed && !subscribed.ok ? subscribed.error : "never settled")}`);
    const ops = new Map<number, Op>();
    /** The world's shard of a key: by the slot's owner over a cluster, else by the client's sharding. */
    const shardOf = (key: string) => (world.cluster ? world.cluster.owner[keySlot(key)]! : Number(client.shardOf(key).slice(1)));
    let quitting: Promise<unknown> | undefined;

    const issue = (op: Op) => {
      const call: Call = { id: calls.length + 1, what: op.what, start: Date.now(), due: Date.now() + op.budgetMs + SETTLE_BOUND_MS, settles: 0 };
      calls.push(call);
      ops.set(call.id, op);
      const settle = (outcome: Outcome) => {
        call.settles++;
        call.end ??= Date.now();
        call.outcome ??= outcome;
        op.settled?.(outcome);
      };
      let promise: Promise<unknown>;
      try {
        promise = op.run();
      } catch (error) {
        violations.push(`call ${call.id} (${op.what}) threw synchronously: ${describe(error)}`);
        return;
      }
      promise.then(
        (value) => settle({ ok: true, value }),
        (error: unknown) => settle({ ok: false, error }),
      );
    };

    const steps = options.steps ?? 60;
    const quitAt = random.chance(0.1) ? random.int(1, steps) : -1;
    for (let step = 0; step < steps; step++) {
      world.due();
      const action = random.weighted<string>([[70, "call"], [10, "fault"], [20, "wait"]]);
      if (step === quitAt) {
        world.log.push(`${Date.now() - START}ms quit() called`);
        quitting = client.quit().catch((error: unknown) => violations.push(`quit() rejected: ${describe(error)}`));
      }
      if (action === "call") {
        const burst = random.int(1, 4);
        for (let i = 0; i < burst; i++) issue(nextOp(random, calls.length + 1, host));
      } else if (action === "fault") {
        faults++;
        injectFault(world, random);
      }
      await clock.tickAsync(random.int(0, 20));
    }

    // Everything heals; every call must settle (each within its budget, checked below).
    world.heal();
    for (let i = 0; i < 600 && calls.some((c) => c.settles === 0); i++) await clock.tickAsync(100);
    // Replication, replies and invalidations still on their way land (a slowed node's backlog included).
    for (let i = 0; i < 600 && world.inFlight > 0; i++) await clock.tickAsync(100);
    await clock.tickAsync(100);

    const timelines = new Timelines(world.changes);
    // Over a cluster a key moves between shards with its slot: any node may have held it.
    const everyNode = [...world.servers.keys()];
    const nodesOf = (key: string) => (cluster ? everyNode : world.shards[shardOf(key)]!.nodes.map((n) => n.address));
    const ctx: CheckContext = {
      held: (key, from, to) => timelines.heldDuring(nodesOf(key), key, from, to),
      near: config.nearCache !== undefined,
      loaded: (key) => loaded.get(key) ?? new Set(),
    };
    for (const call of calls) {
      const op = ops.get(call.id)!;
      const name = `call ${call.id} (${call.what}, started at ${call.start - START}ms)`;
      if (call.settles === 0) {
        violations.push(`${name} never settled`);
        continue;
      }
      if (call.settles > 1) violations.push(`${name} settled ${call.settles} times`);
      if (call.end! > call.due) violations.push(`${name} settled ${call.end! - call.start} ms after it started, past its budget of ${call.due - call.start - SETTLE_BOUND_MS} ms`);
      const outcome = call.outcome!;
      const problem = outcome.ok ? op.check(outcome.value, call.start, call.end!, ctx) : untyped(outcome.error);
      if (problem) violations.push(`${name}: ${problem}`);
    }
    // Every message delivered was published, on a channel the subscription matches, and arrived once.
    const seenMessages = new Set<string>();
    for (const { via, channel, message } of deliveries) {
      const sent = published.get(message);
      if (sent === undefined) violations.push(`pub/sub: ${via} got ${message} on ${channel}, which nobody published`);
      else if (sent !== channel || (via === "ch0" ? channel !== "ch0" : !channel.startsWith("p"))) violations.push(`pub/sub: ${via} got ${message} on ${channel} (published on ${sent})`);
      const id = `${via} ${message}`;
      if (seenMessages.has(id)) violations.push(`pub/sub: ${via} got ${message} twice`);
      seenMessages.add(id);
    }
    for (const server of world.servers.values()) {
      if (server.sessionsInMulti() > 0) violations.push(`${server.address}: ${server.sessionsInMulti()} connection(s) left inside MULTI with nothing in flight`);
    }
    for (const [key, value] of acknowledged) {
      const master = world.masterOf(shardOf(key));
      const now = master.keys.get(key);
      if (now?.type !== "string" || now.value !== value) violations.push(`${key}: acknowledged under a write concern as ${value}, but the master has ${describe(now?.value ?? null)}`);
    }

    if (!quitting) {
      // Every breaker closes again once its node answers (a probe after resetTimeoutMs), and every master reconnects.
      const settled = () =>
        client.stats().nodes.every((n) => n.breaker === "closed") && client.topology().shards.every((s) => s.master?.connected === true);
      for (let i = 0; i < 100 && !settled(); i++) await clock.tickAsync(100);
      // Once invalidations are delivered, nothing older than the master's value may be served (the near cache included).
      const keys = ["k0", "k1", "k2", "k3", "k4", "k5", "n0", "n1", "n2"];
      const reads = await drive(clock, Promise.allSettled(keys.map((key) => client.get(key))), 5000);
      if (reads === undefined || !reads.ok) violations.push("final reads never settled with everything healed");
      else {
        (reads.value as Array<PromiseSettledResult<string | null>>).forEach((read, i) => {
          const key = keys[i]!;
          const master = world.masterOf(shardOf(key)).keys.get(key);
          const expected = master?.type === "string" ? master.value : null;
          if (read.status === "rejected") violations.push(`final read of ${key} failed with everything healed: ${describe(read.reason)}`);
          else if (read.value !== expected) violations.push(`final read of ${key} answered ${describe(read.value)}, the master has ${describe(expected)}`);
        });
      }
      // Subscriptions are held again once everything healed: a message now reaches each subscription once.
      const before = deliveries.length;
      const finalMessages = ["final-ch0", "final-px"];
      for (const [channel, message] of [["ch0", finalMessages[0]!], ["px", finalMessages[1]!]] as const) published.set(message, channel);
      let arrived = false;
      // Restoring a subscription retries with backoff (up to 2 s apart, as reconnects): publish every 250 ms for 10 s at most.
      for (const until = Date.now() + 10_000; Date.now() < until && !arrived; ) {
        await drive(clock, Promise.all([client.publish("ch0", finalMessages[0]!), client.publish("px", finalMessages[1]!)]), 3000);
        await clock.tickAsync(250);
        arrived = deliveries.slice(before).some((d) => d.via === "ch0") && deliveries.slice(before).some((d) => d.via === "p*");
      }
      if (!arrived) violations.push(`pub/sub: subscriptions not held after everything healed: ${JSON.stringify(client.subscriptions())}`);
      quitting = client.quit();
    }
    if ((await drive(clock, quitting, 30_000)) === undefined) violations.push("quit() never resolved");
    // The client's own timers and connections are gone: what is left of the simulation's settles within seconds.
    for (let i = 0; i < 100 && clock.countTimers() > 0; i++) await clock.tickAsync(100);
    const timers = clock.countTimers();
    if (timers > 0) violations.push(`${timers} timer(s) still pending after quit()`);
    const open = world.connections.filter((c) => c.status !== "end");
    if (open.length) violations.push(`${open.length} connection(s) not ended after quit(): ${open.map((c) => `${c.address} ${c.status}`).join(", ")}`);
    if (open.length && (globalThis as { __stacks?: WeakMap<object, string> }).__stacks) for (const c of open) console.log((globalThis as { __stacks?: WeakMap<object, string> }).__stacks!.get(c));
  } catch (error) {
    violations.push(`the run itself failed: ${describe(error)}${error instanceof Error ? `\n${error.stack}` : ""}`);
  } finally {
    clock.uninstall();
    Math.random = realRandom;
    // Rejections reported a tick late still count.
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", onUnhandled);
  }
  for (const reason of unhandled) violations.push(`unhandled rejection: ${describe(reason)}`);
  const trace: string[] = [];
  const key = options.traceKey;
  if (key !== undefined) {
    for (const change of world.changes) if (change.key === key || change.key === "*") trace.push(`${change.at - START}ms ${change.server} ${change.key === "*" ? "emptied" : `= ${change.value ?? "(gone)"}`}`);
    for (const call of calls) {
      if (!call.what.split(/[ ,:]+/).includes(key)) continue;
      const outcome = call.outcome ? (call.outcome.ok ? describe(call.outcome.value) : describe(call.outcome.error)) : "never settled";
      trace.push(`${call.start - START}ms call ${call.id} ${call.what} -> ${call.end === undefined ? "" : `${call.end - START}ms `}${outcome}`);
    }
    trace.sort((a, b) => parseInt(a) - parseInt(b));
  }
  return { seed, config: describeConfig, calls: calls.length, faults, violations, log: world.log, trace };
}

/** Lets fake time pass until the promise settles, up to maxMs; undefined if it did not (a hang). */
async function drive(clock: Clock, promise: Promise<unknown>, maxMs: number): Promise<Outcome | undefined> {
  let outcome: Outcome | undefined;
  promise.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  for (let waited = 0; outcome === undefined && waited <= maxMs; waited += 5) await clock.tickAsync(5);
  return outcome;
}

function injectFault(world: World, random: Random): void {
  const shard = random.int(0, world.shards.length - 1);
  const master = world.masterOf(shard);
  const any = random.pick(world.shards[shard]!.nodes);
  switch (random.weighted<string>([[30, "reset"], [15, "crash"], [12, "failover"], [6, "demote"], [10, "slow"], [12, "acl"], [8, "loading"], [8, "oom"], [world.cluster ? 20 : 0, "migrate"]])) {
    case "reset": {
      const open = world.connections.filter((c) => c.server !== undefined);
      if (open.length) world.resetConnection(random.pick(open));
      return;
    }
    case "crash":
      // Data is lost only where nothing acknowledged can be: a replica (it resyncs), or a master without replicas.
      return world.crash(any, random.int(50, 1500), any.role === "replica" || world.shards[shard]!.nodes.length === 1 ? random.chance(0.5) : false);
    case "failover":
      return world.failover(shard, random.int(200, 2000));
    case "demote":
      return world.demote(shard);
    case "migrate": {
      // A slot the workload uses, to another shard.
      const key = random.pick(["k0", "k1", "k2", "k3", "k4", "k5", "n0", "n1", "n2", "{t}a", "{w}n", "c:a", "c:b"]);
      const slot = keySlot(key);
      const to = (world.cluster!.owner[slot]! + random.int(1, world.shards.length - 1)) % world.shards.length;
      return world.migrate(slot, to);
    }
    case "slow":
      return world.slow(any, random.int(100, 2000), random.int(100, 1500));
    case "acl":
      // shardis's own commands refused by an ACL change: they must degrade a feature, never a caller's command.
      return world.refuse(any, [random.pick(["role", "info", "client|tracking", "wait", "readonly", "ping", "multi"])], "NOPERM this user has no permissions to run this command", random.int(100, 2000));
    case "loading":
      // As Redis while loading: data commands refused; MULTI, WATCH, EXEC are allowed (their queued commands are refused).
      return world.refuse(any, ["get", "set", "incr", "mget", "mset", "del", "evalsha", "eval"], "LOADING Redis is loading the dataset in memory", random.int(50, 500));
    default:
      return world.refuse(master, ["set", "incr", "mset", "evalsha", "eval"], "OOM command not allowed when used memory > 'maxmemory'.", random.int(50, 500));
  }
}
