/**
 * Runs commands: builds each one, routes it, and sends it to the right
 * connection of the right node (the shared auto-pipelined one, or a pooled
 * dedicated one for blocking commands), splitting multi-key commands across
 * shards. Every facade (client, shard handle, pipeline, dedicated connection)
 * goes through here, so they all follow the same rules.
 */
import { Command } from "ioredis";
import type { CallOptions } from "../config/callOptions.js";
import type { ResolvedOptions } from "../config/resolve.js";
import type { Encoding } from "../commands/install.js";
import { ClientClosedError, FallbackError, NodeError, PartialFailureError, UnsupportedCommandError } from "../errors.js";
import { RETRYABLE, type NodeClient, type NodeEvents } from "../node/NodeClient.js";
import { NodeSet } from "../node/NodeSet.js";
import { NodePool } from "../pool/NodePool.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import { Router, SPLIT, type Args } from "../routing/plan.js";
import { reduceReplies } from "../routing/reduce.js";
import { refusal } from "../routing/refusals.js";
import type { Script } from "../scripts/Script.js";
import { colocateHint, createStrategy } from "../sharding/create.js";
import type { ShardingStrategy } from "../sharding/strategy.js";

export type { CallOptions } from "../config/callOptions.js";

export class Executor {
  readonly strategy: ShardingStrategy;
  readonly router: Router;
  readonly nodes: NodeSet;
  readonly defaults: CallOptions;
  private readonly pools = new Map<number, NodePool>();
  /** Writes the options say may be repeated, retried like reads. */
  private readonly idempotent: ReadonlySet<string>;
  private closing: Promise<void> | undefined;

  constructor(
    readonly options: ResolvedOptions,
    private readonly events: NodeEvents,
  ) {
    this.strategy = createStrategy(options);
    this.router = new Router(this.strategy, options.shards.map((s) => s.name), colocateHint(options.sharding));
    this.nodes = new NodeSet(options, events);
    this.defaults = Object.freeze({ timeoutMs: options.commandTimeoutMs, partial: false, idempotent: false });
    this.idempotent = new Set(options.retry.idempotentCommands);
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  shardName(index: number): string {
    return this.options.shards[index]!.name;
  }

  /** Index of the shard with this name, or -1. */
  shardIndex(name: string): number {
    return this.options.shards.findIndex((s) => s.name === name);
  }

  /** The path behind every routed command method. */
  run(name: string, args: unknown[], encoding: Encoding, call: CallOptions = this.defaults): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const refused = refusal(name, args);
    if (refused) return Promise.reject(new UnsupportedCommandError(name, refused));
    const spec = commandSpec(name);
    const cmd = new Command(name, args as never[], { replyEncoding: encoding });
    let shard: number;
    try {
      shard = this.router.route(spec, cmd.args as Args);
    } catch (error) {
      return Promise.reject(error);
    }
    if (shard === SPLIT) return this.scatter(spec, cmd.args as Args, encoding, call);
    return this.runOn(shard, spec, cmd, call);
  }

  /** Runs a command on one shard's master without routing (client.shard(name)). */
  runUnrouted(shard: number, name: string, args: unknown[], encoding: Encoding, call = this.defaults): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const refused = refusal(name, args);
    if (refused) return Promise.reject(new UnsupportedCommandError(name, refused));
    return this.runOn(shard, commandSpec(name), new Command(name, args as never[], { replyEncoding: encoding }), call);
  }

  /**
   * Sends a built command to a shard: on the shared connection, or, if it
   * blocks, on a pooled one with a deadline of its own timeout plus the call's.
   */
  runOn(shard: number, spec: CommandSpec, cmd: Command, call: CallOptions): Promise<unknown> {
    const node = this.nodes.master(shard);
    if (!node.admits) {
      // Fail fast without borrowing or touching anything; reads may have a fallback.
      if (this.options.fallback && spec.readOnly) return this.fallback(node, spec, cmd);
      return Promise.reject(node.circuitOpenError());
    }
    const flags = spec.readOnly || call.idempotent || this.idempotent.has(spec.name) ? RETRYABLE : 0;
    const blockMs = spec.blocking ? blockingTimeoutMs(spec, cmd.args as Args) : undefined;
    if (blockMs === undefined) return node.send(cmd, call.timeoutMs, flags);
    return this.withPooled(shard, (pooled) => pooled.send(cmd, blockMs + call.timeoutMs, flags));
  }

  /** The configured fallback's answer for a read whose breaker is open; its failures become FallbackError. */
  private fallback(node: NodeClient, spec: CommandSpec, cmd: Command): Promise<unknown> {
    const error = node.circuitOpenError();
    try {
      return Promise.resolve(this.options.fallback!(spec.name, [...cmd.args], error)).catch((cause: unknown) => {
        throw new FallbackError(spec.name, cause);
      });
    } catch (cause) {
      return Promise.reject(new FallbackError(spec.name, cause));
    }
  }

  /**
   * Runs a defined script: routed by its keys like EVALSHA, sent as EVALSHA
   * where the node is known to have it cached, else as EVAL (which caches it).
   */
  runScript(script: Script, callArgs: unknown[], encoding: Encoding, call = this.defaults, shard?: number): Promise<unknown> {
    if (this.closing) return Promise.reject(new ClientClosedError());
    const args = script.evalArgs(callArgs);
    const evalsha = new Command("evalsha", [script.sha, ...(args as never[])], { replyEncoding: encoding });
    let target: number;
    try {
      target = shard ?? this.router.route(commandSpec("evalsha"), evalsha.args as Args);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.scriptOn(this.nodes.master(target), script, evalsha, args, encoding, call.timeoutMs);
  }

  private async scriptOn(
    node: NodeClient,
    script: Script,
    evalsha: Command,
    args: unknown[],
    encoding: Encoding,
    timeoutMs: number,
  ): Promise<unknown> {
    if (node.knownScripts.has(script.sha)) {
      try {
        return await node.send(evalsha, timeoutMs);
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
        node.knownScripts.delete(script.sha);
      }
    }
    const result = node.send(new Command("eval", [script.lua, ...(args as never[])], { replyEncoding: encoding }), timeoutMs);
    try {
      return await result;
    } finally {
      // EVAL caches the script even when it raises; if it failed to compile, EVALSHA's NOSCRIPT brings us back here.
      node.knownScripts.add(script.sha);
    }
  }

  /** Borrows a dedicated connection to the shard's master for fn, and always returns it. */
  async withPooled<T>(shard: number, fn: (node: NodeClient) => Promise<T>): Promise<T> {
    const pool = this.pool(shard);
    const node = await pool.acquire();
    try {
      return await fn(node);
    } finally {
      await pool.release(node);
    }
  }

  /** Sends one command per shard in parallel and combines the replies in caller order. */
  async scatter(spec: CommandSpec, args: Args, encoding: Encoding, call: CallOptions): Promise<unknown> {
    const plan = this.router.split(spec, args);
    const settled = await Promise.allSettled(
      plan.parts.map((part) =>
        this.runOn(part.shard, spec, new Command(spec.name, part.args, { replyEncoding: encoding }), call),
      ),
    );
    const replies: unknown[] = [];
    const failures: Array<{ shard: string; error: Error }> = [];
    const succeeded: string[] = [];
    settled.forEach((result, i) => {
      const part = plan.parts[i]!;
      if (result.status === "fulfilled") {
        replies.push(result.value);
        succeeded.push(this.shardName(part.shard));
        return;
      }
      const error = result.reason as Error;
      failures.push({ shard: this.shardName(part.shard), error });
      // With partial results, each key of a failed part reads as its shard's error.
      replies.push(part.positions.map(() => error));
    });
    if (failures.length && !(call.partial && plan.reduce === "byKey")) {
      throw new PartialFailureError(spec.name, failures, succeeded);
    }
    return reduceReplies(plan, replies);
  }

  private pool(shard: number): NodePool {
    let pool = this.pools.get(shard);
    if (!pool) {
      const { name, master } = this.options.shards[shard]!;
      const node = this.nodes.master(shard);
      pool = new NodePool(
        name,
        master,
        node.id,
        this.options.redis,
        this.options.pool,
        this.nodes.scheduler,
        this.events,
        this.nodes.dedicatedContext(shard),
      );
      this.pools.set(shard, pool);
    }
    return pool;
  }

  /** Pool figures per shard name, for tests and (later) metrics. */
  poolStats(): Record<string, NodePool["stats"]> {
    return Object.fromEntries([...this.pools].map(([shard, pool]) => [this.shardName(shard), pool.stats]));
  }

  /** Refuses new commands, lets written ones settle for up to timeoutMs, closes every connection. */
  close(timeoutMs = this.options.commandTimeoutMs): Promise<void> {
    this.closing ??= Promise.all([...[...this.pools.values()].map((pool) => pool.close()), this.nodes.close(timeoutMs)]).then(
      () => undefined,
    );
    return this.closing;
  }

  /** Whether an error means a node failed, as opposed to Redis answering with an error. */
  static isNodeFailure(error: unknown): error is NodeError {
    return error instanceof NodeError;
  }
}
