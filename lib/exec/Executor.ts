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
import { buildCommand, ShardisCommand } from "../commands/command.js";
import {
  CircuitOpenError,
  ClientClosedError,
  FallbackError,
  KeylessCommandError,
  ShardisError,
  ShardReleasedError,
  TimeoutError,
  UnsupportedCommandError,
} from "../errors.js";
import { NodeClient, RETRYABLE, type NodeEvents } from "../connection/NodeClient.js";
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
import { PooledRuns } from "./pooled.js";
import { Fleet, type FleetEvents, type FleetParts } from "./Fleet.js";
import { NearMgets } from "./nearMget.js";
import { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced, currentCall, resumeCall } from "../metrics/tracing.js";
import { MigrationLink } from "./migrationLink.js";

export type { CallOptions } from "../config/callOptions.js";

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
  /** Blocking commands and writes under a write concern: their pooled connections. */
  private readonly pooled = new PooledRuns(this);
  /** What the client's traces carry; public calls start theirs here (shardis:call). */
  readonly tracing: ClientTracing;
  /** A live migration of the fleet (docs/scaling.md): moving keys' commands, reconfigure(). */
  readonly moves: MigrationLink;
  private readonly nearMgets = new NearMgets(this, (name, args, encoding, call) => this.dispatch(name, args, encoding, call));

  constructor(
    readonly options: ResolvedOptions,
    nodeEvents: NodeEvents,
    fleetEvents: FleetEvents,
    parts: FleetParts & { readonly migrationClock?: () => number },
  ) {
    this.strategy = createStrategy(options.sharding, options.shards);
    this.router = new Router(this.strategy, options.shards.map((s) => s.name), colocateHint(options.sharding), options.keyless);
    // The router follows a cluster's slot map: rebuilt (before the event reaches the client) at each new layout.
    const follow: FleetEvents = { ...fleetEvents, topology: (epoch, reason) => (this.follow(), fleetEvents.topology(epoch, reason)) };
    this.tracing = parts.tracing ?? new ClientTracing(this, options.redis.db ?? 0, options.tracing.includeArgs);
    this.fleet = new Fleet(options, nodeEvents, follow, { ...parts, tracing: this.tracing });
    this.follow();
    this.defaults = Object.freeze({
      timeoutMs: options.commandTimeoutMs,
      partial: false,
      idempotent: false,
      readFrom: options.readFrom,
      writeConcern: options.writeConcern,
    });
    this.idempotent = new Set(options.retry.idempotentCommands);
    this.moves = new MigrationLink(this, parts.migrationClock);
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

  /** Index of the shard with this name, or -1 (none for a released shard). */
  shardIndex = (name: string): number => this.fleet.live().find((i) => this.shardNames[i] === name) ?? -1;

  /** The shard's master now, if known. */
  master(shard: number): NodeClient | undefined {
    return this.fleet.registry.master(shard);
  }

  /** The shard's master, waiting (up to timeoutMs) for Sentinel to name it. */
  async masterWhenPlaced(shard: number, timeoutMs = this.defaults.timeoutMs): Promise<NodeClient> {
    await this.placed(shard, timeoutMs);
    return this.master(shard)!;
  }

  /**
   * Waits, within a call's `budgetMs`, for the shard's master to be known
   * (Sentinel has not named it yet); resolves what is left of the budget,
   * which the call's command then gets, or rejects with TimeoutError.
   */
  async placed(shard: number, budgetMs: number): Promise<number> {
    if (this.master(shard)) return budgetMs;
    if (this.fleet.holder.current.shards[shard]?.released) throw new ShardReleasedError(this.shardName(shard));
    const started = performance.now();
    await this.fleet.holder.whenPlaced(shard, budgetMs);
    if (this.closing) throw new ClientClosedError();
    const left = budgetMs - (performance.now() - started);
    if (!this.master(shard) || left <= 0) throw new TimeoutError(this.shardName(shard), "(no master yet)", budgetMs, "Sentinel has not named the master");
    return left;
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
    return this.router.plan(commandSpec(name), buildCommand(name, args, null).args as Args, this.fleet.live());
  }

  /** The path behind every routed command method: a call of its own (traced when someone listens on shardis:call). */
  run(name: string, args: unknown[], encoding: Encoding, call: CallOptions = this.defaults): Promise<unknown> {
    if (callsTraced()) return this.tracing.call("command", name, args, () => this.execute(name, args, encoding, call));
    return this.execute(name, args, encoding, call);
  }

  private execute(name: string, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    if (this.moves.active) this.moves.tick();
    // A near-cache hit needs neither a command nor a route.
    const near = this.fleet.near;
    if (near !== undefined && call.readFrom === "master") {
      const cached = name === "mget" ? this.nearMgets.run(near, args, encoding, call) : near.fast(name, args, encoding);
      if (cached !== undefined) {
        const traced = currentCall();
        if (traced !== undefined && name !== "mget") traced.nearCache = true;
        return cached;
      }
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
    if (callsTraced()) return this.tracing.call("command", cmd.name, cmd.args, () => this.executeBuilt(cmd, encoding, call));
    return this.executeBuilt(cmd, encoding, call);
  }

  private executeBuilt(cmd: ShardisCommand, encoding: Encoding, call: CallOptions): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    return this.dispatch(cmd.name, cmd.args, encoding, call, cmd);
  }

  /** Whether the near cache keeps replies of this command (runBuilt() would pass it by). */
  nearCaches(name: string): boolean {
    return this.fleet.near?.options.commands.has(name) ?? false;
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
    const moved = this.moves.active ? this.moves.dispatch(spec, cmd, encoding, call) : undefined;
    if (moved) return moved;
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
    return this.runOn(route, spec, cmd, call);
  }

  /** A slot no shard serves yet (the cluster's map is not known, or not covering it): wait for a new layout, within the deadline. */
  private async whenMapped(name: string, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> {
    const traced = currentCall();
    const started = performance.now();
    await this.fleet.holder.whenChanged(call.timeoutMs);
    if (this.closing) throw new ClientClosedError();
    const left = call.timeoutMs - (performance.now() - started);
    // The deadline, not a number: a command may have waited here more than once, each time with what was left.
    if (left <= 0) throw this.fleet.unmapped(undefined);
    return resumeCall(traced, () => this.execute(name, args, encoding, { ...call, timeoutMs: left }));
  }

  /** Builds routing on a cluster's slot map when the layout brought a new one. */
  private follow(): void {
    const layout = this.fleet.holder.current;
    if (!layout.slots || layout === this.placedBy) return;
    this.placedBy = layout;
    this.strategy = new ClusterSlots(layout.slots);
    this.router = new Router(this.strategy, layout.names, colocateHint(this.options.sharding), this.options.keyless);
  }

  /** Runs a command on one shard's master without routing (client.shard(name)). */
  runUnrouted(shard: number, name: string, args: unknown[], encoding: Encoding, call = this.defaults): Promise<unknown> {
    if (callsTraced()) return this.tracing.call("command", name, args, () => this.executeUnrouted(shard, name, args, encoding, call));
    return this.executeUnrouted(shard, name, args, encoding, call);
  }

  private executeUnrouted(shard: number, name: string, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> {
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
    const blockMs = spec.blocking ? blockingTimeoutMs(spec, cmd.args as Args) : undefined;
    if ((call.writeConcern && !spec.readOnly) || blockMs !== undefined) return this.pooled.run(shard, spec, cmd, call, flags);
    const sent = node.send(cmd, call.timeoutMs, flags);
    if (!spec.readOnly || (call.readFrom === "master" && !this.options.fallback)) return sent;
    // A read still queued when the breaker opens fails at once: it gets what a read sent after that would (fallback, replica).
    const deadline = performance.now() + call.timeoutMs;
    return sent.catch((error: unknown) => (error instanceof CircuitOpenError ? this.runElsewhere(shard, spec, cmd, call, flags, deadline) : Promise.reject(error)));
  }

  /**
   * A read failed by its node's opening breaker, sent again by policy within what is left of its deadline (not a
   * new one); with nothing left, a node that admits it times it out at once, the fallback still answers.
   */
  private runElsewhere(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number, deadline: number): Promise<unknown> {
    const left = Math.max(1, deadline - performance.now());
    return this.runOn(shard, spec, cmd.clone(), { ...call, timeoutMs: left }, flags);
  }

  /** As run() and runScript(), never with a client's keyPrefix (PrefixingExecutor): sendCommand(Command), a migration's own scripts. */
  runAsGiven(name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.run(name, args, encoding);
  }
  runScriptAsGiven(script: Script, callArgs: unknown[], encoding: Encoding, call: CallOptions, shard: number): Promise<unknown> {
    return this.runScript(script, callArgs, encoding, call, shard);
  }

  /** Runs a defined script on the shard of its keys (or the script's shard), as a read when it is read-only. */
  runScript(script: Script, callArgs: unknown[], encoding: Encoding, call = this.defaults, shard?: number): Promise<unknown> {
    if (callsTraced()) {
      return this.tracing.call("script", script.evalshaCommand, callArgs, () => this.executeScript(script, callArgs, encoding, call, shard), { script: script.name });
    }
    return this.executeScript(script, callArgs, encoding, call, shard);
  }

  private executeScript(script: Script, callArgs: unknown[], encoding: Encoding, call: CallOptions, shard?: number): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const args = script.evalArgs(callArgs);
    const evalsha = new ShardisCommand(script.evalshaCommand, [script.sha, ...args], { replyEncoding: encoding });
    const spec = commandSpec(script.evalshaCommand);
    let target = shard;
    if (target === undefined) {
      try {
        const moved = this.moves.script(script, evalsha.args as Args);
        if (moved) return this.executeScript(script, callArgs, encoding, call, moved.shard).then(moved.after, moved.failed);
        const route = this.router.route(spec, evalsha.args as Args, script.shard);
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
      // The wait for Sentinel to name the master counts against the call's deadline.
      const placed = target;
      const traced = currentCall();
      return this.placed(placed, call.timeoutMs).then((left) =>
        resumeCall(traced, () => this.executeScript(script, callArgs, encoding, { ...call, timeoutMs: left }, placed)),
      );
    }
    return runScript(node, script, evalsha, args, encoding, call.timeoutMs, script.readOnly ? RETRYABLE : 0);
  }

  /** What transactions need to know of nodes whose ACL refuses MULTI (see MultiGuard). */
  readonly multiGuard: MultiGuard = {
    refused: (node) => (this.fleet.refusals.isRefused(node, "transactions") ? this.fleet.refusals.error(node, "transactions") : undefined),
    failed: (node, error) => this.fleet.refusals.asError(node, "transactions", error) as Error,
    ran: (node) => this.fleet.refusals.permitted(node, "transactions"),
  };

  /**
   * Borrows a dedicated connection to the shard's master for fn, and always
   * returns it (withConnection(); see PooledRuns.withPooled).
   */
  withPooled<T>(shard: number, fn: (node: NodeClient, leftMs: number) => Promise<T>, budgetMs = Infinity): Promise<T> {
    return this.pooled.withPooled(shard, fn, budgetMs);
  }

  /** Refuses new commands (the migration's phase timer stopped), lets written ones settle for up to timeoutMs, closes every connection. */
  close(timeoutMs = this.options.commandTimeoutMs): Promise<void> {
    this.closing ??= (this.moves.close(), this.fleet.close(timeoutMs));
    return this.closing;
  }

  /** A command refused before any shard (routing, unsupported): counted, then rejected. */
  private refuse(name: string, error: unknown): Promise<never> {
    if (error instanceof ShardisError) this.fleet.meters.refused(name, error.code);
    return Promise.reject(error);
  }

  /** One command per shard in parallel, the replies put back in caller order. */
  private async scatter(spec: CommandSpec, plan: SplitPlan, encoding: Encoding, call: CallOptions): Promise<unknown> {
    const traced = currentCall();
    if (traced !== undefined) traced.shards = plan.parts.length;
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
    const [traced, shards] = [currentCall(), this.fleet.live()];
    if (traced !== undefined) traced.shards = shards.length;
    const { replies, failures, succeeded } = await fanOut(
      shards.map((i) => ({ shard: this.shardName(i), run: () => this.runOn(i, spec, buildCommand(spec.name, [...args], encoding), master) })),
    );
    if (failures.length) throw fanOut.failed(spec.name, failures, succeeded);
    return combine(rule, replies, shards.map(this.fleet.shardName));
  }

  /** A shard whose master Sentinel has not named yet: wait (within the deadline) and go on. */
  private async whenPlaced(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number): Promise<unknown> {
    const traced = currentCall();
    const left = await this.placed(shard, call.timeoutMs);
    // Still the same call (its trace follows the command to the node).
    return resumeCall(traced, () => this.runOn(shard, spec, cmd, { ...call, timeoutMs: left }, flags));
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
