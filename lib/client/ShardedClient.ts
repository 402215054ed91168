/**
 * The facade applications use: every Redis command as a method, routed by
 * its keys to the shard that owns them, plus pipelines, transactions,
 * scripts, pub/sub and scans. It holds no logic of its own: options go to
 * config/resolve, execution to exec/Executor, pub/sub to pubsub/PubSub.
 */
import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { inspect } from "node:util";
import type { RedisCommander, RedisKey } from "ioredis";
import { CallScope } from "./CallScope.js";
import { resolveCallOptions, type CallSettings } from "../config/callOptions.js";
import { resolveOptions } from "../config/resolve.js";
import type { ShardedClientOptions } from "../config/types.js";
import {
  addBatch,
  DISPATCH,
  installCommands,
  popCallback,
  QUEUE,
  withCallback,
  type Callback,
  type Dispatcher,
  type Encoding,
} from "../commands/install.js";
import {
  ClientClosedError,
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  UnknownShardError,
} from "../errors.js";
import { Executor } from "../exec/Executor.js";
import { MetricsExporter } from "../metrics/exporter.js";
import { buildStats, type ShardisStats } from "../metrics/stats.js";
import type { NodeClient, NodeEvents } from "../connection/NodeClient.js";
import { ioredisConnections } from "../connection/connection.js";
import type { BreakerState } from "../resilience/breaker.js";
import { ShardedPipeline, type PipelineOptions } from "../pipeline/Pipeline.js";
import { ShardedTransaction } from "../pipeline/Transaction.js";
import { DedicatedConnection } from "./DedicatedConnection.js";
import { PubSub, type MessageHandler, type PatternHandler } from "../pubsub/PubSub.js";
import { SPLIT, type Args } from "../routing/plan.js";
import { scanStream, type ScanStreamOptions } from "../scan/scanStream.js";
import { Script, type ScriptDefinition } from "../scripts/Script.js";
import { ShardHandle } from "./ShardHandle.js";
import type { TopologySnapshot } from "../topology/Topology.js";
import { LAYOUT_SOURCE, type FleetEvents } from "../exec/Fleet.js";
import type { LayoutSource } from "../topology/TopologyHolder.js";
import type { ReadPolicy } from "../config/types.js";

export interface NodeEvent {
  readonly shard: string;
  /** "host:port" */
  readonly node: string;
}

export interface ShardisEvents {
  /** A node connection is ready; commands queued for it are written now. */
  "node:ready": [NodeEvent];
  /** A node connection was lost or could not be made; emitted once per outage. */
  "node:down": [NodeEvent & { readonly error: Error | undefined }];
  /** A connection-level error (refused, reset, authentication). Secrets are stripped. */
  "node:error": [NodeEvent & { readonly error: Error }];
  /** A node's circuit breaker changed state. */
  breaker: [NodeEvent & { readonly state: BreakerState }];
  /** A message on a channel subscribed without a handler (ioredis's form). */
  message: [channel: string, message: string];
  messageBuffer: [channel: Buffer, message: Buffer];
  /** A message matching a pattern subscribed without a handler. */
  pmessage: [pattern: string, channel: string, message: string];
  pmessageBuffer: [pattern: Buffer, channel: Buffer, message: Buffer];
  /** A subscribe/psubscribe handler threw; delivery to other handlers went on. */
  "pubsub:error": [{ readonly channel: string; readonly error: unknown }];
  /** A new topology took effect (a new epoch). */
  topology: [{ readonly epoch: number; readonly reason: string }];
  /** A shard's master moved to another node. */
  failover: [{ readonly shard: string; readonly from: string; readonly to: string }];
  /** A sentinel reported an address outside allowedAddresses (or the natMap failed on it); it was not used. */
  "topology:refused": [{ readonly shard: string; readonly address: string; readonly reason: string }];
  /** A sentinel could not be reached or answered with an error. Secrets are stripped. */
  "sentinel:error": [{ readonly sentinel: string; readonly error: Error }];
}

/** Where withConnection() borrows a connection: a shard name, a key, or either made explicit. */
export type ConnectionTarget = string | Buffer | { shard: string } | { key: RedisKey };

type Omitted = "quit" | "multi" | "mget" | "mgetBuffer" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe";

export interface ShardedClient extends Omit<RedisCommander, Omitted> {}

export class ShardedClient extends EventEmitter<ShardisEvents> implements Dispatcher {
  readonly #executor: Executor;
  readonly #pubsub: PubSub;
  readonly #handles = new Map<string, ShardHandle>();
  readonly #scripts = new Map<string, Script>();
  readonly #exporter: MetricsExporter | undefined;

  /** Throws ConfigError, listing every problem, before any connection is opened. */
  constructor(options: ShardedClientOptions) {
    super();
    const resolved = resolveOptions(options);
    // Checks the registry's metric names first: a clash is a ConfigError, and nothing is opened.
    this.#exporter = resolved.metrics && new MetricsExporter(resolved.metrics);
    const events = this.#nodeEvents();
    const source = (options as { [LAYOUT_SOURCE]?: LayoutSource })[LAYOUT_SOURCE];
    this.#executor = new Executor(resolved, events, this.#fleetEvents(), { connections: ioredisConnections(resolved.redis), source });
    const fleet = this.#executor.fleet;
    this.#exporter?.attach(() => fleet.figures());
    const executor = this.#executor;
    this.#pubsub = new PubSub(
      {
        shardCount: resolved.shards.length,
        shardOf: (channel) => executor.strategy.shardIndexOf(channel),
        open: (shard) => executor.openDedicated(shard),
        timeoutMs: executor.defaults.timeoutMs,
        get closed() {
          return executor.closed;
        },
      },
      {
        message: (channel, message) => {
          this.emit("message", channel.toString(), message.toString());
          this.emit("messageBuffer", channel, message);
        },
        pmessage: (pattern, channel, message) => {
          this.emit("pmessage", pattern.toString(), channel.toString(), message.toString());
          this.emit("pmessageBuffer", pattern, channel, message);
        },
        handlerError: (error, channel) => this.emit("pubsub:error", { channel, error }),
      },
    );
  }

  /** Name of the shard that owns key. */
  shardOf(key: string | Buffer): string {
    if (typeof key !== "string" && !Buffer.isBuffer(key)) {
      throw new InvalidArgumentError(`shardOf(key) needs a string or Buffer (got ${typeof key})`);
    }
    return this.#executor.shardName(this.#executor.strategy.shardIndexOf(key));
  }

  /** That shard's node client, for keyless commands (PING, INFO, DBSIZE, FLUSHDB, SCAN, ...). */
  shard(name: string): ShardHandle {
    let handle = this.#handles.get(name);
    if (handle) return handle;
    const index = this.#executor.shardIndex(name);
    if (index === -1) throw new UnknownShardError(String(name), this.#executor.options.shards.map((s) => s.name));
    handle = new ShardHandle(this.#executor, index);
    for (const script of this.#scripts.values()) this.#addScriptMethods(handle, script, index);
    this.#handles.set(name, handle);
    return handle;
  }

  /**
   * The client's commands with per-call settings: a deadline of their own, or
   * permission to retry a write. Throws InvalidArgumentError for bad settings.
   */
  with(settings: CallSettings): CallScope {
    return new CallScope(this.#executor, resolveCallOptions(settings, this.#executor.defaults));
  }

  /** Reads through this policy (writes still go to masters): client.readFrom("replicaPreferred").get(k). */
  readFrom(policy: ReadPolicy): CallScope {
    return this.with({ readFrom: policy });
  }

  /** The topology now, as an immutable snapshot: epoch, each shard's master and replicas with their health. */
  topology(): TopologySnapshot {
    return this.#executor.fleet.snapshot();
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

  /** Resolves once every shard's master is known (Sentinel-managed shards); rejects after timeoutMs. */
  async ready(timeoutMs = this.#executor.defaults.timeoutMs): Promise<void> {
    await Promise.all(this.#executor.options.shards.map((_, i) => this.#executor.masterWhenPlaced(i, timeoutMs)));
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
    const commands = Array.isArray(first) ? first : undefined;
    const options = (Array.isArray(first) ? second : first) ?? {};
    if (typeof options !== "object" || options === null) throw new InvalidArgumentError("pipeline(options) takes { partial?: boolean }");
    const partial = options.partial ?? true;
    if (typeof partial !== "boolean") throw new InvalidArgumentError("pipeline({ partial }) must be true or false");
    const pipeline = new ShardedPipeline(
      { checkOpen: () => this.#checkOpen(), run: (name, args, encoding) => this.#executor.run(name, args, encoding) },
      partial,
    );
    for (const script of this.#scripts.values()) {
      for (const [method, encoding] of scriptMethodNames(script)) {
        Object.defineProperty(pipeline, method, {
          value: (...args: unknown[]) => {
            const callback = popCallback(args);
            return pipeline.queueRun(() => this.#executor.runScript(script, args, encoding), callback);
          },
        });
      }
    }
    if (commands) addBatch(pipeline, commands, "pipeline");
    return pipeline;
  }

  /**
   * A MULTI/EXEC block; all its keys must live on one shard (CrossShardError
   * otherwise, before anything is sent). Also takes the commands as an array,
   * like ioredis: `multi([["incr", "{a}n"], ["get", "{a}n"]])`.
   */
  multi(commands?: unknown[][]): ShardedTransaction {
    const executor = this.#executor;
    const transaction = new ShardedTransaction({
      checkOpen: () => this.#checkOpen(),
      shardOf: (spec, cmd) => {
        try {
          const shard = executor.router.route(spec, cmd.args as Args);
          const args = cmd.args as Args;
          if (shard === SPLIT) throw new CrossShardError(spec.name, executor.router.namesOf(spec, args), "a transaction runs on one shard");
          return shard;
        } catch (error) {
          if (error instanceof KeylessCommandError) return undefined;
          throw error;
        }
      },
      node: (shards) => {
        if (shards.size > 1) {
          throw new CrossShardError("multi", [...shards].map((s) => executor.shardName(s)), "a transaction runs on one shard; use hash tags");
        }
        const [shard] = shards;
        if (shard === undefined) throw new KeylessCommandError("multi");
        return executor.masterWhenPlaced(shard);
      },
      timeoutMs: executor.defaults.timeoutMs,
    });
    for (const script of this.#scripts.values()) {
      for (const [method, encoding] of scriptMethodNames(script)) {
        Object.defineProperty(transaction, method, {
          value: (...args: unknown[]) => {
            const callback = popCallback(args);
            // Inside MULTI a NOSCRIPT cannot be retried, so scripts go as EVAL.
            transaction[QUEUE]("eval", [script.lua, ...script.evalArgs(args)], encoding, callback);
            return transaction;
          },
        });
      }
    }
    if (commands !== undefined) addBatch(transaction, commands, "multi");
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
    const shard = this.#connectionShard(target);
    return this.#executor.withPooled(shard, async (node: NodeClient) => {
      const conn = new DedicatedConnection(this.#executor, shard, node);
      try {
        return await fn(conn);
      } finally {
        await conn.release();
      }
    });
  }

  /**
   * Adds a method that runs a Lua script (EVALSHA, falling back to EVAL where
   * the node lacks it). All keys of one call must live on one shard. For
   * TypeScript, declare the method by merging into the ShardedClient interface.
   */
  defineCommand(name: string, definition: ScriptDefinition): void {
    const script = Script.define(name, definition, (n) => n in this || `${n}Buffer` in this);
    this.#scripts.set(name, script);
    this.#addScriptMethods(this, script);
    for (const [shardName, handle] of this.#handles) {
      this.#addScriptMethods(handle, script, this.#executor.shardIndex(shardName));
    }
  }

  /**
   * Listens on channels, each on the shard its name hashes to. With a
   * handler, the handler gets the channel's messages; without one (ioredis's
   * form), the client emits "message" and "messageBuffer". Resolves, once
   * subscribed, the number of channels and patterns listened to.
   */
  subscribe(channel: string | Buffer, handler: MessageHandler): Promise<number>;
  subscribe(...channels: Array<string | Buffer>): Promise<number>;
  subscribe(...args: unknown[]): Promise<number> {
    return listening(args, (names, handler) => this.#pubsub.subscribe(names, handler as MessageHandler | undefined));
  }

  /** Removes a handler, or every listener of the channels (of all channels, given none); unsubscribes when none is left. */
  unsubscribe(channel: string | Buffer, handler?: MessageHandler): Promise<number>;
  unsubscribe(...channels: Array<string | Buffer>): Promise<number>;
  unsubscribe(...args: unknown[]): Promise<number> {
    return listening(args, (names, handler) => this.#pubsub.unsubscribe(names, handler as MessageHandler | undefined), true);
  }

  /** Listens on patterns, on every shard: with a handler, or as "pmessage"/"pmessageBuffer" events. */
  psubscribe(pattern: string | Buffer, handler: PatternHandler): Promise<number>;
  psubscribe(...patterns: Array<string | Buffer>): Promise<number>;
  psubscribe(...args: unknown[]): Promise<number> {
    return listening(args, (names, handler) => this.#pubsub.psubscribe(names, handler as PatternHandler | undefined));
  }

  punsubscribe(pattern: string | Buffer, handler?: PatternHandler): Promise<number>;
  punsubscribe(...patterns: Array<string | Buffer>): Promise<number>;
  punsubscribe(...args: unknown[]): Promise<number> {
    return listening(args, (names, handler) => this.#pubsub.punsubscribe(names, handler as PatternHandler | undefined), true);
  }

  /** Every key of every shard, as arrays of keys (a Node Readable in object mode). */
  scanStream(options: ScanStreamOptions = {}): Readable {
    return scanStream([...this.#allHandles()].map((h) => h.scanner<string>("utf8")), options);
  }

  scanBufferStream(options: ScanStreamOptions = {}): Readable {
    return scanStream([...this.#allHandles()].map((h) => h.scanner<Buffer>(null)), options);
  }

  /** Runs fn for every shard in parallel; resolves the results in shard order. */
  forEachShard<T>(fn: (name: string, shard: ShardHandle) => Promise<T>): Promise<T[]> {
    return Promise.all([...this.#allHandles()].map((handle) => fn(handle.name, handle)));
  }

  /**
   * Stops accepting commands (ClientClosedError), fails those still waiting
   * for a connection, lets written ones finish for up to timeoutMs (default
   * commandTimeoutMs), then closes every connection, pool and timer.
   */
  async quit(options: { timeoutMs?: number } = {}): Promise<"OK"> {
    const { timeoutMs } = resolveCallOptions({ timeoutMs: options.timeoutMs }, this.#executor.defaults);
    await Promise.all([this.#executor.close(timeoutMs), this.#pubsub.close()]);
    this.#exporter?.detach();
    return "OK";
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.#executor.run(name, args, encoding);
  }

  #mget(args: unknown[], encoding: Encoding): Promise<unknown> {
    const callback = popCallback(args);
    const last = args[args.length - 1];
    let call = this.#executor.defaults;
    if (typeof last === "object" && last !== null && !Array.isArray(last) && !Buffer.isBuffer(last)) {
      args.pop();
      const { partial, ...rest } = last as { partial?: unknown };
      if (Object.keys(rest).length || (partial !== undefined && typeof partial !== "boolean")) {
        return withCallback(Promise.reject(new InvalidArgumentError("mget options are { partial?: boolean }")), callback);
      }
      if (partial) call = { ...call, partial: true };
    }
    return withCallback(this.#executor.run("mget", args, encoding, call), callback);
  }

  #addScriptMethods(target: object, script: Script, shard?: number): void {
    for (const [method, encoding] of scriptMethodNames(script)) {
      Object.defineProperty(target, method, {
        configurable: true,
        value: (...args: unknown[]) => {
          const callback = popCallback(args);
          return withCallback(this.#executor.runScript(script, args, encoding, this.#executor.defaults, shard), callback);
        },
      });
    }
  }

  *#allHandles(): Iterable<ShardHandle> {
    for (const shard of this.#executor.options.shards) yield this.shard(shard.name);
  }

  #connectionShard(target: ConnectionTarget): number {
    if (typeof target === "object" && !Buffer.isBuffer(target) && target !== null) {
      if ("shard" in target) {
        const index = this.#executor.shardIndex(target.shard);
        if (index === -1) throw new UnknownShardError(String(target.shard), this.#executor.options.shards.map((s) => s.name));
        return index;
      }
      if ("key" in target) return this.#executor.strategy.shardIndexOf(target.key);
    }
    if (typeof target === "string") {
      const index = this.#executor.shardIndex(target);
      return index !== -1 ? index : this.#executor.strategy.shardIndexOf(target);
    }
    if (Buffer.isBuffer(target)) return this.#executor.strategy.shardIndexOf(target);
    throw new InvalidArgumentError("withConnection(target) takes a shard name, a key, { shard } or { key }");
  }

  #checkOpen(): void {
    if (this.#executor.closed) throw new ClientClosedError();
  }

  #nodeEvents(): NodeEvents {
    const at = (node: NodeClient) => ({ shard: node.shard, node: node.id });
    return {
      ready: (node) => this.emit("node:ready", at(node)),
      down: (node, error) => this.emit("node:down", { ...at(node), error }),
      error: (node, error) => this.emit("node:error", { ...at(node), error }),
      breaker: (shard, node, state) => this.emit("breaker", { shard, node, state }),
    };
  }

  #fleetEvents(): FleetEvents {
    return {
      topology: (epoch, reason) => this.emit("topology", { epoch, reason }),
      failover: (shard, from, to) => this.emit("failover", { shard, from, to }),
      refused: (shard, address, reason) => this.emit("topology:refused", { shard, address, reason }),
      sentinelError: (sentinel, error) => this.emit("sentinel:error", { sentinel, error }),
      mastersChanged: (shards) => this.#pubsub?.follow(shards),
    };
  }

  [inspect.custom](): string {
    const shards = this.topology().shards.map((s) => `${s.name}=${s.master?.address ?? "?"}`).join(", ");
    const state = this.#executor.closed ? "closed" : "open";
    return `ShardedClient { strategy: ${this.#executor.strategy.kind}, shards: [${shards}], ${state} }`;
  }
}

/**
 * Splits (un)subscribe arguments: names (arrays flattened, as ioredis does)
 * and a trailing handler. Errors reject, never throw.
 */
function listening(
  args: unknown[],
  run: (names: Array<string | Buffer>, handler: Function | undefined) => Promise<number>,
  namesOptional = false,
): Promise<number> {
  const handler = typeof args[args.length - 1] === "function" ? (args.pop() as Function) : undefined;
  const names = args.flat() as Array<string | Buffer>;
  if (names.length === 0 && !namesOptional) return Promise.reject(new InvalidArgumentError("subscribe needs at least one channel or pattern"));
  try {
    return run(names, handler);
  } catch (error) {
    return Promise.reject(error);
  }
}

function scriptMethodNames(script: Script): Array<[string, Encoding]> {
  return [
    [script.name, "utf8"],
    [`${script.name}Buffer`, null],
  ];
}

installCommands(ShardedClient, new Set(["quit", "multi", "mget", "subscribe", "unsubscribe", "psubscribe", "punsubscribe"]));
