/**
 * Runs commands: builds each one, routes it, and sends it to the right
 * connection of the right node: the shard's master for writes, the node the
 * read policy picks for reads; the shared auto-pipelined connection, or a
 * pooled dedicated one for blocking commands and write concern. Fans out
 * split and broadcast commands and combines their replies. Every facade
 * (client, scopes, shard handles, pipelines) goes through here, so they all
 * follow the same rules.
 */
import type { CallOptions } from "../config/callOptions.js";
import type { ResolvedOptions } from "../config/resolve.js";
import type { Encoding } from "../commands/install.js";
import { buildCommand, internalCommand, ShardisCommand } from "../commands/command.js";
import {
  CircuitOpenError,
  ClientClosedError,
  ClusterError,
  FallbackError,
  KeylessCommandError,
  PartialFailureError,
  ShardisError,
  TimeoutError,
  UnsupportedCommandError,
  WriteConcernError,
} from "../errors.js";
import { INTERNAL, NodeClient, RETRYABLE, type NodeEvents } from "../connection/NodeClient.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { broadcastRule, combine, type Combine } from "../routing/broadcast.js";
import { commandSpec, keyIndexes, type CommandSpec } from "../routing/commandSpec.js";
import { Router, type Args, type Plan, type SplitPlan } from "../routing/plan.js";
import { reduceReplies } from "../routing/reduce.js";
import { refusal } from "../routing/refusals.js";
import { runScript } from "./runScript.js";
import type { Script } from "../commands/script.js";
import type { MultiGuard } from "../pipeline/Transaction.js";
import { colocateHint, createStrategy } from "../sharding/create.js";
import { ClusterSlots, type ShardingStrategy } from "../sharding/strategy.js";
import { UNASSIGNED, type Layout } from "../topology/Topology.js";
import { fanOut } from "./fanOut.js";
import { Fleet, type FleetEvents, type FleetParts } from "./Fleet.js";
import type { NearCacheLink } from "./NearCacheLink.js";

export type { CallOptions } from "../config/callOptions.js";

/** Times a blocking command, or a write with a write concern, is sent again after MOVED/ASK (as a command's redirections). */
const MAX_BLOCKING_HOPS = 16;

export class Executor {
  /** Where keys live now. Over a Redis Cluster both are replaced with each layout (its slot map); otherwise fixed. */
  strategy: ShardingStrategy;
  router: Router;
  readonly fleet: Fleet;
  readonly defaults: CallOptions;
  /** Writes the options say may be repeated, retried like reads. */
  private readonly idempotent: ReadonlySet<string>;
  private closing: Promise<void> | undefined;
  /** The layout the router was built from (cluster). */
  private placedBy: Layout | undefined;

  constructor(
    readonly options: ResolvedOptions,
    nodeEvents: NodeEvents,
    fleetEvents: FleetEvents,
    parts: FleetParts,
  ) {
    this.strategy = createStrategy(options.sharding, options.shards);
    this.router = new Router(this.strategy, options.shards.map((s) => s.name), colocateHint(options.sharding));
    // The router follows a cluster's slot map: rebuilt (before the event reaches the client) at each new layout.
    const follow: FleetEvents = { ...fleetEvents, topology: (epoch, reason) => (this.follow(), fleetEvents.topology(epoch, reason)) };
    this.fleet = new Fleet(options, nodeEvents, follow, parts);
    this.follow();
    this.defaults = Object.freeze({
      timeoutMs: options.commandTimeoutMs,
      partial: false,
      idempotent: false,
      readFrom: options.readFrom,
      writeConcern: options.writeConcern,
    });
    this.idempotent = new Set(options.retry.idempotentCommands);
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Every shard's name, by index (a cluster's grow as masters are added). */
  get shardNames(): readonly string[] {
    return this.fleet.holder.current.names;
  }

  shardName(index: number): string {
    return this.fleet.shardName(index);
  }

  /** Resolves once the cluster's slot map is known (at once with configured shards), or after timeoutMs. */
  async mapped(timeoutMs: number): Promise<void> {
    if (!this.options.cluster) return;
    const until = performance.now() + timeoutMs;
    while (this.shardNames.length === 0 && performance.now() < until && !this.closing) {
      await this.fleet.holder.whenChanged(until - performance.now());
    }
    if (this.shardNames.length === 0) throw this.fleet.unmapped(timeoutMs);
  }

  /** Index of the shard with this name, or -1. */
  shardIndex(name: string): number {
    return this.shardNames.indexOf(name);
  }

  /** The shard's master now, if known. */
  master(shard: number): NodeClient | undefined {
    return this.fleet.registry.master(shard);
  }

  /** The shard's master, waiting (up to timeoutMs) for Sentinel to name it. */
  async masterWhenPlaced(shard: number, timeoutMs = this.defaults.timeoutMs): Promise<NodeClient> {
    const now = this.master(shard);
    if (now) return now;
    await this.fleet.holder.whenPlaced(shard, timeoutMs);
    const placed = this.master(shard);
    if (!placed) throw new TimeoutError(this.shardName(shard), "(no master yet)", timeoutMs, "Sentinel has not named the master");
    return placed;
  }

  /** A new connection of its own to the shard's master, sharing its breaker (pub/sub subscribers); `watch` hears it become ready and go down too. */
  async openDedicated(shard: number, watch?: Pick<NodeEvents, "ready" | "down">): Promise<NodeClient> {
    const master = await this.masterWhenPlaced(shard);
    const init = this.fleet.registry.dedicated(master);
    if (!watch) return new NodeClient(init);
    const events = init.events;
    return new NodeClient({
      ...init,
      events: { ...events, ready: (node) => (events.ready(node), watch.ready(node)), down: (node, cause) => (events.down(node, cause), watch.down(node, cause)) },
    });
  }

  /** Where a command would go and how its replies would combine, without sending it; throws what run() would reject with. */
  plan(name: string, args: unknown[]): Plan {
    const refused = refusal(name, args);
    if (refused) throw new UnsupportedCommandError(name, refused);
    return this.router.plan(commandSpec(name), buildCommand(name, args, null).args as Args, this.shardNames.length);
  }

  /** The path behind every routed command method. */
  run(name: string, args: unknown[], encoding: Encoding, call: CallOptions = this.defaults): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    // A near-cache hit needs neither a command nor a route.
    const near = this.fleet.near;
    if (near !== undefined && call.readFrom === "master") {
      const cached = name === "mget" ? this.nearMget(near, args, encoding, call) : near.fast(name, args, encoding);
      if (cached !== undefined) return cached;
    }
    return this.dispatch(name, args, encoding, call);
  }

  /**
   * run() for a command the caller built (a CarriedRead), past the near
   * cache: its reply is not what the near cache keeps. Routed, guarded and
   * counted as any command; `encoding` is for a command rebuilt from its
   * name and arguments (a slot no shard serves yet).
   */
  runBuilt(cmd: ShardisCommand, encoding: Encoding, call: CallOptions = this.defaults): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    return this.dispatch(cmd.name, cmd.args, encoding, call, cmd);
  }

  /** Whether the near cache keeps replies of this command (runBuilt() would pass it by). */
  nearCaches(name: string): boolean {
    return this.fleet.near?.options.commands.has(name) ?? false;
  }

  /** MGET through the near cache: its keys (given one by one or in arrays, as the command builder flattens them) served from GET entries where cached. */
  private nearMget(near: NearCacheLink, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> | undefined {
    const keys = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args.some(Array.isArray) ? args.flat() : args;
    const get = commandSpec("get");
    return near.mget(
      keys,
      encoding,
      (key) => {
        const route = this.router.route(get, [key]);
        return typeof route === "number" && route !== UNASSIGNED ? route : -1;
      },
      (missing) => this.dispatch("mget", missing, encoding, call).catch((error: unknown) => this.nearMgetFailed(keys, missing, error, call)),
    );
  }

  /**
   * The near cache's MGET of the keys it did not answer failed: the caller
   * gets what the whole MGET would have given, the near cache changes no
   * error contract. An MGET over several shards fails with a
   * PartialFailureError naming them all (those answered from memory among
   * the succeeded), or with `partial` reads each failed key as its shard's
   * error, even when the keys left for Redis all live on the failed shard.
   * An MGET of one shard fails with that shard's error, as it is.
   */
  private nearMgetFailed(keys: readonly unknown[], missing: string[], error: unknown, call: CallOptions): unknown {
    const mget = commandSpec("mget");
    let whole: number | SplitPlan;
    try {
      whole = this.router.route(mget, keys as Args);
    } catch {
      throw error;
    }
    if (typeof whole === "number") throw error;
    let failures: Array<{ shard: string; error: Error }>;
    if (error instanceof PartialFailureError) failures = [...error.failures];
    else {
      // Not split, so sent to one shard: its failure.
      const sent = this.router.route(mget, missing);
      if (typeof sent !== "number" || sent === UNASSIGNED) throw error;
      if (call.partial) return missing.map(() => error);
      failures = [{ shard: this.shardName(sent), error: error as Error }];
    }
    const failed = new Set(failures.map((f) => f.shard));
    const succeeded = [...new Set(whole.parts.map((part) => this.shardName(part.shard)))].filter((name) => !failed.has(name));
    throw fanOut.failed(mget.name, failures, succeeded);
  }

  /** run() past the near cache's answers: build (unless built), route, send. */
  private dispatch(name: string, args: unknown[], encoding: Encoding, call: CallOptions, built?: ShardisCommand): Promise<unknown> {
    const near = built === undefined ? this.fleet.near : undefined;
    const refused = refusal(name, args);
    if (refused) return this.refuse(name, new UnsupportedCommandError(name, refused));
    const spec = commandSpec(name);
    const cmd = built ?? buildCommand(name, args, encoding);
    if (spec.broadcast) {
      const rule = broadcastRule(name, cmd.args as Args);
      if (rule) return this.broadcast(spec, cmd.args as Args, encoding, rule, call);
    }
    let route: number | SplitPlan;
    try {
      route = this.router.route(spec, cmd.args as Args);
    } catch (error) {
      return this.refuse(name, error);
    }
    if (route === UNASSIGNED) return this.whenMapped(name, args, encoding, call);
    if (typeof route !== "number") return this.scatter(spec, route, encoding, call);
    // The hot-key detector counts the command under its (first) key: a counter, and now and then a sample.
    const hot = this.fleet.hotKeys;
    if (hot !== undefined) hot.observe(route, firstKey(spec, cmd.args as Args));
    // The near cache keeps replies of reads meant for the master (those its tracking connection sees) of the commands it caches.
    if (near !== undefined && spec.readOnly && call.readFrom === "master" && near.options.commands.has(spec.name)) {
      const shard = route;
      return near.read(shard, spec, cmd, encoding, () => this.runOn(shard, spec, cmd, call));
    }
    const sent = this.runOn(route, spec, cmd, call);
    return spec.blocking && this.options.cluster ? sent.catch((error: unknown) => this.blockedElsewhere(error, spec, cmd, call, 1)) : sent;
  }

  /**
   * A blocking command refused with MOVED or ASK on its pooled connection
   * (not redirected there: it would block a shared connection): the map is
   * re-read and the command sent again through routing, a bounded number of
   * times. It did not run, so it may go again.
   */
  private async blockedElsewhere(error: unknown, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, hops: number): Promise<unknown> {
    const redirected = error instanceof Error && error.name === "ReplyError" && /^(MOVED|ASK) /.test(error.message);
    if (!redirected || hops > MAX_BLOCKING_HOPS || this.closing) throw error;
    await this.fleet.holder.refresh(`${error.message.slice(0, error.message.indexOf(" "))} on a blocking command`);
    const again = cmd.clone();
    const route = this.router.route(spec, again.args as Args);
    if (typeof route !== "number" || route === UNASSIGNED) throw error;
    return this.runOn(route, spec, again, call).catch((next: unknown) => this.blockedElsewhere(next, spec, again, call, hops + 1));
  }

  /** A slot no shard serves yet (the cluster's map is not known, or not covering it): wait for a new layout, within the deadline. */
  private async whenMapped(name: string, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> {
    const started = performance.now();
    await this.fleet.holder.whenChanged(call.timeoutMs);
    if (this.closing) throw new ClientClosedError();
    const left = call.timeoutMs - (performance.now() - started);
    // The deadline, not a number: a command may have waited here more than once, each time with what was left.
    if (left <= 0) throw this.fleet.unmapped(undefined);
    return this.run(name, args, encoding, { ...call, timeoutMs: left });
  }

  /** Builds routing on a cluster's slot map when the layout brought a new one. */
  private follow(): void {
    const layout = this.fleet.holder.current;
    if (!layout.slots || layout === this.placedBy) return;
    this.placedBy = layout;
    this.strategy = new ClusterSlots(layout.slots);
    this.router = new Router(this.strategy, layout.names, colocateHint(this.options.sharding));
  }

  /** Runs a command on one shard's master without routing (client.shard(name)). */
  runUnrouted(shard: number, name: string, args: unknown[], encoding: Encoding, call = this.defaults): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const refused = refusal(name, args);
    if (refused) return this.refuse(name, new UnsupportedCommandError(name, refused));
    const cmd = buildCommand(name, args, encoding);
    return this.runOn(shard, commandSpec(name), cmd, { ...call, readFrom: "master" });
  }

  /**
   * Sends a built command to a shard: writes to the master, reads where the
   * call's read policy says; on the shared connection, or a pooled one when
   * it blocks (deadline: its own timeout plus the call's) or must wait for
   * replicas.
   */
  runOn(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags = 0): Promise<unknown> {
    let node: NodeClient | undefined;
    try {
      node = spec.readOnly ? this.fleet.reads.node(shard, call.readFrom) : this.fleet.registry.master(shard);
    } catch (error) {
      return Promise.reject(error);
    }
    if (node === undefined) return this.whenPlaced(shard, spec, cmd, call, flags);
    if (!node.admits) {
      // Fail fast without borrowing or touching anything; reads may have a fallback.
      node.context.observer.failed(spec.name, "circuit_open");
      if (this.options.fallback && spec.readOnly) return this.fallback(shard, node, spec, cmd);
      return Promise.reject(node.circuitOpenError());
    }
    if (spec.readOnly || call.idempotent || this.idempotent.has(spec.name)) flags |= RETRYABLE;
    if (call.writeConcern && !spec.readOnly) return this.withConcern(shard, cmd, call, flags);
    const blockMs = spec.blocking ? blockingTimeoutMs(spec, cmd.args as Args) : undefined;
    if (blockMs === undefined) {
      const sent = node.send(cmd, call.timeoutMs, flags);
      if (!spec.readOnly || (call.readFrom === "master" && !this.options.fallback)) return sent;
      // A read still queued when the breaker opens fails at once: it gets what a read sent after that would (fallback, replica).
      return sent.catch((error: unknown) => (error instanceof CircuitOpenError ? this.runOn(shard, spec, cmd.clone(), call, flags) : Promise.reject(error)));
    }
    // The wait for a pooled connection counts against the call's deadline.
    return this.withPooled(shard, (pooled, leftMs) => pooled.send(cmd, blockMs + leftMs, flags), call.timeoutMs);
  }

  /** Runs a defined script on the shard of its keys (or the script's shard), as a read when it is read-only. */
  runScript(script: Script, callArgs: unknown[], encoding: Encoding, call = this.defaults, shard?: number): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const args = script.evalArgs(callArgs);
    const evalsha = new ShardisCommand(script.evalshaCommand, [script.sha, ...args], { replyEncoding: encoding });
    const spec = commandSpec(script.evalshaCommand);
    let target = shard;
    if (target === undefined) {
      try {
        const route = this.router.route(spec, evalsha.args as Args);
        // A script's keys must share a shard (no split rule): route() refused otherwise.
        target = route as number;
      } catch (error) {
        if (!(error instanceof KeylessCommandError) || script.shard === undefined) {
          return this.refuse(script.name, error instanceof KeylessCommandError ? new KeylessCommandError(script.name, "script") : error);
        }
        target = script.shard;
      }
    }
    const where = script.readOnly ? this.fleet.reads : undefined;
    let node: NodeClient | undefined;
    try {
      node = where ? where.node(target, call.readFrom) : this.master(target);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!node) {
      const placed = target;
      return this.masterWhenPlaced(placed, call.timeoutMs).then(() => this.runScript(script, callArgs, encoding, call, placed));
    }
    return runScript(node, script, evalsha, args, encoding, call.timeoutMs, script.readOnly ? RETRYABLE : 0);
  }

  /**
   * A dedicated connection's command answered MOVED or ASK: the connection
   * (and its WATCH) stays on its node, so the caller gets a ClusterError
   * naming the node now serving the slot, and the map is re-read for the
   * next withConnection(). Other errors come back as they are.
   */
  stayedBehind(error: unknown): unknown {
    const redirect = this.options.cluster && error instanceof Error && error.name === "ReplyError" ? /^(MOVED|ASK) \d+ (\S+)$/.exec(error.message) : null;
    if (!redirect) return error;
    if (redirect[1] === "MOVED") void this.fleet.holder.refresh("MOVED on a dedicated connection");
    return new ClusterError(`the key's slot is served there now (${redirect[1]}); a connection from withConnection() stays on its node: borrow one again with withConnection()`, redirect[2], error);
  }

  /** What transactions need to know of nodes whose ACL refuses MULTI (see MultiGuard). */
  readonly multiGuard: MultiGuard = {
    refused: (node) => (this.fleet.refusals.isRefused(node, "transactions") ? this.fleet.refusals.error(node, "transactions") : undefined),
    failed: (node, error) => (this.fleet.refusals.refused(node, "transactions", error) ? this.fleet.refusals.error(node, "transactions", error) : error),
    ran: (node) => this.fleet.refusals.permitted(node, "transactions"),
    shared: (node) => this.fleet.registry.nodeAt(node.id),
  };

  /**
   * Borrows a dedicated connection to the shard's master for fn, and always
   * returns it. `budgetMs`: the caller's deadline, which the wait for the
   * connection counts against; fn gets what is left of it.
   */
  async withPooled<T>(shard: number, fn: (node: NodeClient, leftMs: number) => Promise<T>, budgetMs = Infinity): Promise<T> {
    const started = performance.now();
    const pool = this.fleet.registry.pool(shard);
    if (!pool) {
      const waitMs = Math.min(budgetMs, this.defaults.timeoutMs);
      await this.fleet.holder.whenPlaced(shard, waitMs);
      if (!this.fleet.registry.pool(shard)) {
        throw new TimeoutError(this.shardName(shard), "(no master yet)", waitMs, "Sentinel has not named the master");
      }
      return this.withPooled(shard, fn, budgetMs - (performance.now() - started));
    }
    const node = await pool.acquire(budgetMs);
    try {
      return await fn(node, budgetMs - (performance.now() - started));
    } finally {
      await pool.release(node);
    }
  }

  /** Refuses new commands, lets written ones settle for up to timeoutMs, closes every connection. */
  close(timeoutMs = this.options.commandTimeoutMs): Promise<void> {
    this.closing ??= this.fleet.close(timeoutMs);
    return this.closing;
  }

  /** A command refused before any shard (routing, unsupported): counted, then rejected. */
  private refuse(name: string, error: unknown): Promise<never> {
    if (error instanceof ShardisError) this.fleet.meters.refused(name, error.code);
    return Promise.reject(error);
  }

  /** One command per shard in parallel, the replies put back in caller order. */
  private async scatter(spec: CommandSpec, plan: SplitPlan, encoding: Encoding, call: CallOptions): Promise<unknown> {
    // Each part counts as a command on its shard, under its first key.
    for (const part of plan.parts) this.fleet.hotKeys?.observe(part.shard, part.args[0]!);
    const { replies, failures, succeeded } = await fanOut(
      plan.parts.map((part) => ({ shard: this.shardName(part.shard), run: () => this.runOn(part.shard, spec, buildCommand(spec.name, part.args, encoding), call) })),
      // With partial results, each key of a failed part reads as its shard's error.
      (error, i) => plan.parts[i]!.positions.map(() => error),
    );
    if (failures.length && !(call.partial && plan.reduce === "byKey")) throw fanOut.failed(spec.name, failures, succeeded);
    return reduceReplies(plan, replies);
  }

  /** A keyless command on every shard's master, the replies combined by its rule. */
  private async broadcast(spec: CommandSpec, args: Args, encoding: Encoding, rule: Combine, call: CallOptions): Promise<unknown> {
    const master = { ...call, readFrom: "master" as const };
    const { replies, failures, succeeded } = await fanOut(
      this.shardNames.map((shard, i) => ({ shard, run: () => this.runOn(i, spec, buildCommand(spec.name, [...args], encoding), master) })),
    );
    if (failures.length) throw fanOut.failed(spec.name, failures, succeeded);
    return combine(rule, replies, this.shardNames);
  }

  /** A shard whose master Sentinel has not named yet: wait (within the deadline) and go on. */
  private async whenPlaced(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number): Promise<unknown> {
    const started = performance.now();
    await this.fleet.holder.whenPlaced(shard, call.timeoutMs);
    if (this.closing) throw new ClientClosedError();
    const left = call.timeoutMs - (performance.now() - started);
    if (this.fleet.registry.master(shard) === undefined || left <= 0) {
      throw new TimeoutError(this.shardName(shard), "(no master yet)", call.timeoutMs, "Sentinel has not named the master");
    }
    return this.runOn(shard, spec, cmd, { ...call, timeoutMs: left }, flags);
  }

  /**
   * The write, then WAIT on the same dedicated connection; fewer replicas
   * than asked is a WriteConcernError. So is a WAIT that failed after the
   * write succeeded: the caller must learn the write was applied.
   * `asking`: ASKING first, for a write sent where an ASK pointed.
   */
  private withConcern(shard: number, cmd: ShardisCommand, call: CallOptions, flags: number, asking = false, hops = 0): Promise<unknown> {
    const { replicas, timeoutMs } = call.writeConcern!;
    const started = performance.now();
    const sent = this.withPooled(shard, async (node, leftMs) => {
      // Its reply is the write's business: refused, the write is answered ASK again.
      if (asking) node.send(internalCommand("asking"), leftMs, INTERNAL).catch(() => undefined);
      const written = node.send(cmd, leftMs, flags);
      const waited = node.send(internalCommand("wait", [replicas, timeoutMs]), leftMs + timeoutMs);
      const [reply, acked] = await Promise.allSettled([written, waited]);
      if (reply.status === "rejected") throw reply.reason;
      if (acked.status === "rejected") {
        // WAIT failed after the write was applied (refused by the ACL, connection lost, deadline): typed, with the write's reply.
        // An ACL refusal is reported once per node, and the caller's cause names the fix.
        const cause = this.fleet.refusals.refused(node, "writeConcern", acked.reason) ? this.fleet.refusals.error(node, "writeConcern", acked.reason) : acked.reason;
        throw new WriteConcernError(node.shard, node.id, replicas, 0, timeoutMs, reply.value, cause);
      }
      if (Number(acked.value) < replicas) {
        throw new WriteConcernError(node.shard, node.id, replicas, Number(acked.value), timeoutMs, reply.value);
      }
      return reply.value;
    }, call.timeoutMs);
    if (!this.options.cluster) return sent;
    return sent.catch((error: unknown) => this.concernElsewhere(error, shard, cmd, { ...call, timeoutMs: call.timeoutMs - (performance.now() - started) }, flags, hops));
  }

  /**
   * A write with a write concern answered MOVED or ASK on its pooled
   * connection (over a cluster), where the connection cannot follow it
   * alone: its WAIT must go with it. It did not run, so it goes again, WAIT
   * and all, to the node the reply names (ASKING first for ASK), a bounded
   * number of times and within its deadline.
   */
  private async concernElsewhere(error: unknown, shard: number, cmd: ShardisCommand, call: CallOptions, flags: number, hops: number): Promise<unknown> {
    const redirect = error instanceof Error && error.name === "ReplyError" ? /^(MOVED|ASK) \d+ (\S+)$/.exec(error.message) : null;
    if (!redirect || hops >= MAX_BLOCKING_HOPS || this.closing) throw error;
    const kind = redirect[1] === "ASK" ? "ask" : "moved";
    const started = performance.now();
    const node = await this.fleet.redirectTarget(shard, kind, redirect[2]!);
    const target = this.shardIndex(node.shard);
    const left = call.timeoutMs - (performance.now() - started);
    if (target === -1 || left <= 0) {
      throw new ClusterError(`redirected (${redirect[1]}) to ${node.id}, ${left <= 0 ? "past the command's deadline" : "a node of no shard"}`, node.id, error);
    }
    return this.withConcern(target, cmd.clone(), { ...call, timeoutMs: left }, flags, kind === "ask", hops + 1);
  }

  /**
   * The configured fallback's answer for a read whose breaker is open; its
   * failures become FallbackError. The near cache is told first: the answer
   * is not Redis's, and must not be kept.
   */
  private fallback(shard: number, node: NodeClient, spec: CommandSpec, cmd: ShardisCommand): Promise<unknown> {
    this.fleet.near?.fellBack(shard);
    const error = node.circuitOpenError();
    try {
      return Promise.resolve(this.options.fallback!(spec.name, [...cmd.args], error)).catch((cause: unknown) => {
        throw new FallbackError(spec.name, cause);
      });
    } catch (cause) {
      return Promise.reject(new FallbackError(spec.name, cause));
    }
  }
}

/** The key a routed command is counted under by the hot-key detector: its key, or the first of its keys (its channel for PUBLISH). */
function firstKey(spec: CommandSpec, args: Args): string | Buffer {
  if (spec.singleKeyIndex >= 0) return args[spec.singleKeyIndex]!;
  const first = keyIndexes(spec, args)[0] ?? spec.channelIndex;
  return args[first] ?? "";
}
