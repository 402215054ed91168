/**
 * The connection withConnection() lends: a pooled connection to one shard's
 * master, for WATCH/MULTI/EXEC and other per-connection state. Keys of other
 * shards are refused (a WATCH there would watch nothing); when the callback
 * ends, an active WATCH is cleared and the connection goes back to the pool.
 */
import { inspect } from "node:util";
import type { RedisCommander } from "ioredis";
import { DISPATCH, installCommands, type Dispatcher, type Encoding } from "../commands/install.js";
import {
  ClientClosedError,
  ConnectionReleasedError,
  CrossShardError,
  KeylessCommandError,
  UnknownCommandError,
  UnsupportedCommandError,
} from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { buildCommand, internalCommand, type ShardisCommand } from "../commands/command.js";
import type { NodeClient } from "../connection/NodeClient.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";
import { refusal } from "../routing/refusals.js";
import { ShardedTransaction } from "../pipeline/Transaction.js";

/** Allowed here although refused on shared connections: this connection is the caller's alone. */
const ALLOWED = new Set(["watch", "unwatch"]);

export interface DedicatedConnection extends Omit<RedisCommander, "quit" | "multi" | "exec" | "discard"> {}

export class DedicatedConnection implements Dispatcher {
  private released = false;
  private watching = false;

  constructor(
    private readonly executor: Executor,
    private readonly shardIndex: number,
    private readonly node: NodeClient,
  ) {}

  /** The shard this connection belongs to. */
  get shard(): string {
    return this.executor.shardName(this.shardIndex);
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    try {
      this.checkOpen();
      const refused = ALLOWED.has(name)
        ? undefined
        : name === "multi" || name === "exec" || name === "discard"
          ? "use conn.multi()...exec(), which sends the whole block at once"
          : refusal(name, args);
      if (refused) throw new UnsupportedCommandError(name, refused);
      const spec = commandSpec(name);
      const cmd = buildCommand(name, args, encoding);
      this.checkShard(spec, cmd);
      const blockMs = blockingTimeoutMs(spec, cmd.args as Args) ?? 0;
      const reply = this.node.send(cmd, blockMs + this.executor.defaults.timeoutMs);
      if (name === "watch") reply.then(() => (this.watching = true), () => undefined);
      if (name === "unwatch") this.watching = false;
      return reply;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A MULTI/EXEC block on this connection; exec() resolves null if a WATCHed key changed. */
  multi(): ShardedTransaction {
    return new ShardedTransaction({
      checkOpen: () => this.checkOpen(),
      shardOf: (spec, cmd) => {
        this.checkShard(spec, cmd);
        return this.shardIndex;
      },
      node: () => this.node,
      timeoutMs: this.executor.defaults.timeoutMs,
      // EXEC (or its failure) ends the WATCH.
      settled: () => (this.watching = false),
    });
  }

  /** Ends the loan: clears a WATCH left behind so the next borrower starts clean. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.watching && this.node.reusable) {
      await this.node.send(internalCommand("unwatch"), this.executor.defaults.timeoutMs).catch(() => undefined);
    }
  }

  private checkOpen(): void {
    if (this.released) throw new ConnectionReleasedError();
    if (this.executor.closed) throw new ClientClosedError();
  }

  /** Keys must live on this connection's shard; keyless and unknown commands pass. */
  private checkShard(spec: CommandSpec, cmd: ShardisCommand): void {
    let shard: number;
    try {
      shard = this.executor.router.route(spec, cmd.args as Args);
    } catch (error) {
      if (error instanceof KeylessCommandError || error instanceof UnknownCommandError) return;
      throw error;
    }
    if (shard === this.shardIndex) return;
    const names = this.executor.router.namesOf(spec, cmd.args as Args);
    throw new CrossShardError(spec.name, [...new Set([this.shard, ...names])], `this connection only reaches ${this.shard}`);
  }

  [inspect.custom](): string {
    return `DedicatedConnection { shard: ${this.shard}, node: ${this.node.id}${this.released ? ", released" : ""} }`;
  }
}

installCommands(DedicatedConnection, new Set(["quit", "multi", "exec", "discard"]));
