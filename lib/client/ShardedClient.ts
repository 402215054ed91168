/**
 * The facade applications use: every Redis command as a method, routed by
 * its keys to the shard that owns them, plus pipelines, transactions,
 * scripts, pub/sub, scans, and the lifecycle and identity of an ioredis
 * client, so libraries written for ioredis take it as one. It only wires
 * and delegates: options to config/resolve, commands to exec/Executor,
 * status to client/lifecycle, scripts and the objects it hands out to
 * client/facades, scans to client/scans, pub/sub to pubsub/PubSub, ioredis
 * identity to client/ioredis.
 */
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import type { Command, RedisKey } from "ioredis";
import { addBatch, DISPATCH, installCommands, popCallback, withCallback, type Callback, type Dispatcher, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptDefinition, type ScriptRunner } from "../commands/script.js";
import type { ShardedCommander } from "../commands/surface.js";
import { resolveCallOptions, type CallSettings } from "../config/callOptions.js";
import { resolveOptions, type ResolvedOptions } from "../config/resolve.js";
import { resolveCacheOptions, type CacheOptions } from "../config/cache.js";
import { Cache } from "../cache/Cache.js";
import type { HotKey, ShardLoad } from "../hotkeys/HotKeys.js";
import { nearCacheStats, type NearCacheStats } from "../metrics/nearCacheStats.js";
import { cacheStore } from "./cacheStore.js";
import type { ReadPolicy, ReconfigureOptions, ShardedClientOptions } from "../config/types.js";
import type { IoredisSentinelOptions } from "../config/ioredisSentinelTypes.js";
import { ioredisConnections, type ConnectionFactory } from "../connection/connection.js";
import { AlreadyConnectedError, ClientClosedError, InvalidArgumentError, NoPermissionError, UnknownShardError, UnsupportedCommandError } from "../errors.js";
import { Executor } from "../exec/Executor.js";
import { PrefixingExecutor } from "../exec/PrefixingExecutor.js";
import { CONNECTION_FACTORY, LAYOUT_SOURCE } from "../exec/Fleet.js";
import { MIGRATION_CLOCK } from "../exec/migrationLink.js";
import type { MigrationControl } from "../migration/copier.js";
import { MetricsExporter } from "../metrics/exporter.js";
import { ClientTracing, TRACING } from "../metrics/clientTracing.js";
import { buildStats, type ShardisStats } from "../metrics/stats.js";
import type { ShardedPipeline, PipelineOptions } from "../pipeline/Pipeline.js";
import type { ShardedTransaction } from "../pipeline/Transaction.js";
import type { PubSub } from "../pubsub/PubSub.js";
import type { TopologySnapshot } from "../topology/Topology.js";
import type { LayoutSource } from "../topology/TopologyHolder.js";
import type { CallScope } from "./CallScope.js";
import type { DedicatedConnection } from "./DedicatedConnection.js";
import { explain, type Explanation } from "./explain.js";
import { Facades } from "./facades.js";
import { adoptRedisIdentity, duplicateOptions, ioredisOptions, sendForeign } from "./ioredis.js";
import { Lifecycle, type ClientStatus } from "./lifecycle.js";
import { installScans, SCANS, Scans, type ScanMethods } from "./scans.js";
import type { ShardHandle } from "./ShardHandle.js";
import { connectionShard, keyShardIndex, transactionTarget, type ConnectionTarget } from "./targets.js";
import { mgetOptions, pipelineArguments } from "./arguments.js";
import { installSubscriptions, PUBSUB, type SubscribeMethods } from "./subscribing.js";
import { clientPubSub, fleetEvents, nodeEvents, type ShardisEvents } from "./events.js";
export type { ConnectionTarget } from "./targets.js";
export type { ShardisEvents, NodeEvent } from "./events.js";

type Omitted = "quit" | "multi" | "mget" | "mgetBuffer" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe"
  | "scan" | "scanBuffer" | "ssubscribe" | "sunsubscribe";

export interface ShardedClient extends ShardedCommander<Omitted>, ScanMethods, SubscribeMethods {}

export class ShardedClient extends EventEmitter<ShardisEvents> implements Dispatcher, ScriptRunner {
  readonly #input: ShardedClientOptions;
  readonly #resolved: ResolvedOptions;
  readonly #facades: Facades;
  readonly #exporter: MetricsExporter | undefined;
  readonly #options: ReturnType<typeof ioredisOptions>;
  // Made anew when a closed client is opened again (connect() after quit(), disconnect(true)), as ioredis reopens.
  #executor!: Executor;
  #pubsub!: PubSub;
  #scans!: Scans;
  #lifecycle!: Lifecycle;

  /** Throws ConfigError, listing every problem, before any connection is opened. */
  constructor(options: IoredisSentinelOptions);
  constructor(options: ShardedClientOptions);
  constructor(options: ShardedClientOptions | IoredisSentinelOptions) {
    super();
    const resolved = resolveOptions(options);
    this.#input = options as ShardedClientOptions;
    this.#resolved = resolved;
    this.#options = ioredisOptions(this.#input);
    // Checks the registry's metric names first: a clash is a ConfigError, and nothing is opened.
    this.#exporter = resolved.metrics && new MetricsExporter(resolved.metrics);
    this.#facades = new Facades(() => this.#executor, this);
    this.#open();
  }

  /** The connections (the executor), pub/sub, scans and status: at construction, and again to reopen a closed client. */
  #open(): void {
    const [options, resolved] = [this.#input, this.#resolved];
    const source = (options as { [LAYOUT_SOURCE]?: LayoutSource })[LAYOUT_SOURCE];
    const connections = (options as { [CONNECTION_FACTORY]?: ConnectionFactory })[CONNECTION_FACTORY];
    const wired = { lifecycle: () => this.#lifecycle, pubsub: () => this.#pubsub };
    const executor = new (resolved.keyPrefix ? PrefixingExecutor : Executor)(resolved, nodeEvents(this, wired), fleetEvents(this, wired), {
      connections: connections ?? ioredisConnections(resolved.redis),
      source,
      migrationClock: (options as { [MIGRATION_CLOCK]?: () => number })[MIGRATION_CLOCK],
      // Every trace names this client: subscribers (shardis/otel) tell clients apart by it.
      tracing: new ClientTracing(this, resolved.redis.db ?? 0, resolved.tracing.includeArgs),
    });
    this.#executor = executor;
    executor.moves.onPhase = (phase, previous) => this.emit("migration:phase", { phase, previous });
    // Reopened: the metrics read the new connections only.
    this.#exporter?.detach();
    this.#exporter?.attach(() => ({ ...executor.fleet.figures(), migration: executor.moves.status() }));
    this.#facades.reopened();
    this.#scans = new Scans(executor);
    const masters = () => executor.fleet.live().map((i) => executor.master(i));
    this.#lifecycle = new Lifecycle({ masters, emit: (event) => this.emit(event), reconnecting: (ms) => this.emit("reconnecting", ms) }, resolved.lazyConnect);
    this.#pubsub = clientPubSub(executor, this, this.#pubsub); // the closed one's subscriptions carried over, as ioredis
  }

  /** ioredis's view of the options, plain and writable (client/options.ts); secrets readable by name, never printed. */
  get options(): ReturnType<typeof ioredisOptions> {
    return this.#options;
  }

  /** As ioredis: "wait" (lazy, not connected), "connecting", "connect", "ready", "reconnecting" (no master reachable), "end". */
  get status(): ClientStatus {
    return this.#lifecycle.status;
  }

  /** Ignored: the status follows the connections. Libraries set "end" after quit() (BullMQ does), which it already is. */
  set status(_value: ClientStatus) {}

  /** Opens the connections (lazyConnect), or a closed client again, as ioredis; resolves once every master is connected. */
  connect(callback?: Callback): Promise<void> {
    const opening = (async () => {
      if (this.#executor.closed) this.#open();
      else if (this.#lifecycle.status !== "wait") throw new AlreadyConnectedError(); // as ioredis
      this.#lifecycle.connecting();
      this.#executor.fleet.registry.connect();
      await this.ready();
    })();
    return withCallback(opening, callback);
  }

  /** Closes every connection now, failing what is in flight (ioredis's disconnect()); `reconnect` opens it again at once. */
  disconnect(reconnect = false): void {
    void this.#close(1, !reconnect).catch(() => undefined);
    if (reconnect) void (this.emit("reconnecting", 0), this.connect().catch(() => undefined));
  }

  /**
   * Stops accepting commands (ClientClosedError), fails those waiting for a connection, lets written ones finish
   * for up to timeoutMs (default commandTimeoutMs), then closes every connection, pool and timer; or quit(callback).
   */
  quit(options: { timeoutMs?: number } | Callback = {}): Promise<"OK"> {
    if (typeof options === "function") return withCallback(this.quit(), options);
    try {
      return this.#close(resolveCallOptions({ timeoutMs: options.timeoutMs }, this.#executor.defaults).timeoutMs, true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes what is open now; `final`: says "end" once closed (not when reopened at once). */
  async #close(timeoutMs: number, final: boolean): Promise<"OK"> {
    const [executor, pubsub, lifecycle] = [this.#executor, this.#pubsub, this.#lifecycle];
    const first = !executor.closed;
    lifecycle.ending();
    await Promise.all([executor.close(timeoutMs), pubsub.close()]);
    // Reopened meanwhile: the metrics read the new executor now, and "end" would describe the old connections.
    if (this.#executor !== executor) return "OK";
    this.#exporter?.detach();
    if (first && final) lifecycle.ended();
    return "OK";
  }

  /** A new client with the same options, overridden by `options` (client options, or connection options such as connectionName). */
  duplicate(options?: Partial<ShardedClientOptions> & Record<string, unknown>): ShardedClient {
    return new ShardedClient(duplicateOptions(this.#input, options));
  }

  /** Resolves once every shard's master is known and connected; rejects after timeoutMs naming the shard. */
  async ready(timeoutMs = this.#executor.defaults.timeoutMs): Promise<void> {
    const executor = this.#executor;
    await executor.mapped(timeoutMs);
    await Promise.all(
      executor.fleet.live().map(async (i) => {
        // A cluster's master without slots (just added) is a shard too; one whose master left has none to wait for.
        if (executor.options.cluster && !executor.fleet.holder.current.shards[i]!.master) return;
        await (await executor.masterWhenPlaced(i, timeoutMs)).whenReady(timeoutMs);
      }),
    );
  }

  /** Name of the shard that owns key. */
  shardOf(key: string | Buffer): string {
    if (typeof key !== "string" && !Buffer.isBuffer(key)) {
      throw new InvalidArgumentError(`shardOf(key) needs a string or Buffer (got ${typeof key})`);
    }
    return this.#executor.shardName(keyShardIndex(key, this.#executor));
  }

  /** That shard's master, for keyless commands (INFO, DBSIZE, FLUSHDB, KEYS, SCAN, ...) and scripts without keys. */
  shard(name: string): ShardHandle {
    const index = this.#executor.shardIndex(name);
    if (index === -1) throw new UnknownShardError(String(name), this.#executor.fleet.liveNames());
    return this.#facades.handle(index);
  }

  /**
   * Where a command would go, without sending it: the shards, the arguments
   * each would get, and how the replies would combine. Throws the error the
   * command would be refused with (CrossShardError, KeylessCommandError, ...).
   */
  explain(command: string, ...args: unknown[]): Explanation {
    const name = String(command).toLowerCase();
    return explain(name, this.#executor.plan(name, args), this.#executor.shardNames);
  }

  /**
   * The client's commands with per-call settings: a deadline of their own,
   * permission to retry a write, a read policy, a write concern. Throws
   * InvalidArgumentError for bad settings.
   */
  with(settings: CallSettings): CallScope {
    return this.#facades.scope(resolveCallOptions(settings, this.#executor.defaults));
  }

  /** Reads through this policy (writes still go to masters): client.readFrom("replicaPreferred").get(k). */
  readFrom(policy: ReadPolicy): CallScope {
    return this.with({ readFrom: policy });
  }

  /**
   * A cache-aside layer over this client: getOrSet(key, loader) loads a
   * missing value once across every process sharing the fleet (a rebuild
   * lock on the key's node), serves stale values while one caller
   * refreshes them, refreshes early (XFetch), and falls back to the loader
   * when the key's node is down. Throws ConfigError for bad options.
   * See docs/caching.md.
   */
  cache<T = unknown>(options: CacheOptions<T>): Cache<T> {
    const resolved = resolveCacheOptions<T>(options);
    const executor = this.#executor;
    return new Cache<T>(resolved, cacheStore(executor), executor.fleet.meters.cache(resolved.namespace), {
      // A NoPermissionError was reported once on acl:refused: not again for every key.
      error: (namespace, key, error, served) => error instanceof NoPermissionError || this.emit("cache:error", { namespace, key, error, served }),
    }, executor.tracing);
  }

  /** The topology now, as an immutable snapshot: epoch, each shard's master and replicas with their health; both fleets while a migration runs. */
  topology(): TopologySnapshot {
    const snapshot = this.#executor.fleet.snapshot();
    const moving = this.#executor.moves.status();
    if (!moving || moving.phase === "done") return snapshot;
    return Object.freeze({ ...snapshot, migration: Object.freeze({ phase: moving.phase, from: moving.from, to: moving.to }) });
  }

  /**
   * The live migration of the fleet (the `migration` option, reconfigure()):
   * its phase, time left, fallback reads, copies (keys moved),
   * invalidations; undefined when none was configured. See docs/scaling.md.
   */
  migration(): MigrationControl | undefined {
    return this.#executor.moves.control();
  }

  /**
   * Changes the fleet at run time, without a restart: `shards` is the fleet
   * after (shards added need a fixed master), `migration` its timed phases
   * (startAt in the future; every process given the same call switches
   * together); without it the new placement takes effect at once.
   * ConfigError for bad input; MigrationRefusedError while a migration runs; ReconfigureError (nothing changed) if a shard added is not ready.
   */
  async reconfigure(options: ReconfigureOptions): Promise<void> {
    this.#checkOpen();
    await this.#executor.moves.reconfigure(options);
  }

  /**
   * What the client counted and every node's state now, as a plain object:
   * per shard, commands by outcome, latency, cache hits and misses, retries,
   * failovers; per node, role, breaker, queues, reconnects, pool and the last
   * INFO figures. Always available; the same figures the metrics export.
   */
  stats(): ShardisStats {
    return buildStats(this.#executor.fleet.figures());
  }

  /**
   * The keys that took the most commands in the hot-key detector's last
   * window, across shards, most first: { key, shard, count, rate }, counts
   * estimated from samples. Empty with `hotKeys: false`. See docs/hot-keys.md.
   */
  hotKeys(): HotKey[] {
    const fleet = this.#executor.fleet;
    return fleet.hotKeys?.hotKeys(fleet.shardName) ?? [];
  }

  /**
   * The near cache's figures: entries and bytes held, hits, misses,
   * invalidations and flushes by reason, in total and per shard. Zeros and
   * no shards when the near cache is off.
   */
  nearCacheStats(): NearCacheStats {
    const fleet = this.#executor.fleet;
    return nearCacheStats(fleet.near?.cache.stats() ?? [], fleet.shardName);
  }

  /** The same window per shard: its commands, its share of all (hot shard), the share its top keys took (hot key). */
  shardLoads(): ShardLoad[] {
    const fleet = this.#executor.fleet;
    return fleet.hotKeys?.loads(fleet.shardName) ?? [];
  }

  /**
   * MGET, split across shards. With `{ partial: true }`, keys on a shard that
   * failed read as that shard's error instead of failing the whole call.
   */
  mget(...keys: [...keys: RedisKey[], callback: Callback]): Promise<Array<string | null>>;
  mget(...keys: RedisKey[]): Promise<Array<string | null>>;
  mget(keys: RedisKey[], options?: { partial?: false }): Promise<Array<string | null>>;
  mget(keys: RedisKey[], options: { partial: true }): Promise<Array<string | null | Error>>;
  mget(...args: unknown[]): Promise<unknown> {
    return this.#mget(args, "utf8");
  }

  mgetBuffer(...keys: RedisKey[]): Promise<Array<Buffer | null>>;
  mgetBuffer(keys: RedisKey[], options?: { partial?: false }): Promise<Array<Buffer | null>>;
  mgetBuffer(keys: RedisKey[], options: { partial: true }): Promise<Array<Buffer | null | Error>>;
  mgetBuffer(...args: unknown[]): Promise<unknown> {
    return this.#mget(args, null);
  }

  /**
   * Commands queued locally and sent by exec(), each node's share in one
   * write. Like ioredis, it also takes the commands as an array:
   * `pipeline([["set", "k", "v"], ["get", "k"]])`.
   */
  pipeline(options?: PipelineOptions): ShardedPipeline;
  pipeline(commands: unknown[][], options?: PipelineOptions): ShardedPipeline;
  pipeline(first?: unknown[][] | PipelineOptions, second?: PipelineOptions): ShardedPipeline {
    const { commands, partial } = pipelineArguments(first, second);
    const executor = this.#executor;
    const pipeline = this.#facades.pipeline(
      {
        checkOpen: () => this.#checkOpen(),
        run: (name, args, encoding) => executor.run(name, args, encoding),
        runScript: (script, args, encoding) => executor.runScript(script, args, encoding),
        tracing: executor.tracing,
        transaction: () => this.#facades.transaction(transactionTarget(executor, () => this.#checkOpen())),
      },
      partial,
    );
    if (commands) addBatch(pipeline, commands, "pipeline");
    return pipeline;
  }

  /**
   * A MULTI/EXEC block; all its keys must live on one shard (CrossShardError
   * otherwise, before anything is sent). Also takes the commands as an array,
   * like ioredis: `multi([["incr", "{a}n"], ["get", "{a}n"]])`. ioredis's
   * unpipelined form, multi({ pipeline: false }), needs a connection of its
   * own: use it inside withConnection().
   */
  multi(commands?: unknown[][] | { pipeline?: true }): ShardedTransaction {
    if (commands && !Array.isArray(commands) && (commands as { pipeline?: unknown }).pipeline === false) {
      throw new UnsupportedCommandError(
        "multi",
        "multi({ pipeline: false }) holds one connection between calls: use client.withConnection(key, (conn) => conn.multi({ pipeline: false }) ...)",
      );
    }
    const transaction = this.#facades.transaction(transactionTarget(this.#executor, () => this.#checkOpen()));
    if (Array.isArray(commands)) addBatch(transaction, commands, "multi");
    return transaction;
  }

  /**
   * Runs fn with a connection of its own to one shard's master (borrowed from
   * that node's pool, returned when fn settles, also when it throws): for
   * WATCH/MULTI/EXEC. A string names a shard if one has that name, else a key.
   */
  async withConnection<T>(target: ConnectionTarget, fn: (conn: DedicatedConnection) => Promise<T>): Promise<T> {
    this.#checkOpen();
    if (typeof fn !== "function") throw new InvalidArgumentError("withConnection(target, fn) needs a callback");
    return this.#facades.lend(connectionShard(target, this.#executor), fn);
  }

  /**
   * Adds a method that runs a Lua script (EVALSHA, falling back to EVAL where
   * the node lacks it), here and on every scope, shard handle, pipeline,
   * transaction and dedicated connection of this client. All keys of one call
   * must live on one shard. Names need not be identifiers: client["job:1.0"](...).
   * For TypeScript, declare the method by merging into the ShardedClient interface.
   */
  defineCommand(name: string, definition: ScriptDefinition): void {
    this.#facades.define(name, definition);
  }

  /** Runs fn for every shard in parallel; resolves the results in shard order. */
  forEachShard<T>(fn: (name: string, shard: ShardHandle) => Promise<T>): Promise<T[]> {
    return Promise.all(this.#executor.fleet.live().map((i) => fn(this.#executor.shardName(i), this.#facades.handle(i))));
  }

  /** ioredis's sendCommand(new Command(...)): routed like the command's own method; resolves (and settles) the Command. */
  sendCommand(command: Command): Promise<unknown> {
    return sendForeign(command, (name, args) => this.#executor.runAsGiven(name, args, null));
  }

  /** @internal what the client's traces carry, for shardis/otel */
  get [TRACING](): ClientTracing {
    return this.#executor.tracing;
  }

  get [SCANS](): Scans {
    return this.#scans;
  }

  get [PUBSUB](): PubSub {
    return this.#pubsub;
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.#executor.run(name, args, encoding);
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): Promise<unknown> {
    return withCallback(this.#executor.runScript(script, args, encoding), callback);
  }

  #mget(args: unknown[], encoding: Encoding): Promise<unknown> {
    const callback = popCallback(args);
    try {
      return withCallback(this.#executor.run("mget", args, encoding, mgetOptions(args, this.#executor.defaults)), callback);
    } catch (error) {
      return withCallback(Promise.reject(error), callback);
    }
  }

  #checkOpen(): void {
    if (this.#executor.closed) throw new ClientClosedError();
  }

  [inspect.custom](): string {
    const shards = this.topology().shards.map((s) => `${s.name}=${s.master?.address ?? "?"}`).join(", ");
    return `ShardedClient { strategy: ${this.#executor.strategy.kind}, shards: [${shards}], status: ${this.status} }`;
  }
}

installCommands(
  ShardedClient,
  new Set(["quit", "multi", "mget", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "scan"]),
);
installScans(ShardedClient);
installSubscriptions(ShardedClient);
adoptRedisIdentity(ShardedClient);
