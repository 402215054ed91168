/**
 * The connection withConnection() lends: a pooled connection to one shard's
 * master, for WATCH/MULTI/EXEC and other per-connection state. Keys of other
 * shards are refused (a WATCH there would watch nothing); when the callback
 * ends, an active WATCH or MULTI is cleared and the connection goes back to
 * the pool. Transactions come pipelined (multi()...exec(), one write) or, as
 * ioredis's multi({ pipeline: false }), command by command.
 *
 * A WATCH or an open MULTI lives on the server for one socket only. From
 * the moment one is sent, every command of the connection is pinned to the
 * connection that holds it: if that connection is lost, the next command
 * rejects with WatchLostError instead of running without it (EXEC never
 * commits unwatched; a command meant for the block never runs outside it),
 * until exec(), discard() or UNWATCH ends the scope.
 */
import { inspect } from "node:util";
import type { RedisCommander } from "ioredis";
import { buildCommand, internalCommand, ShardisCommand } from "../commands/command.js";
import { addBatch, DISPATCH, installCommands, withCallback, type Callback, type Dispatcher, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import {
  ClientClosedError,
  ConnectionReleasedError,
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  UnknownCommandError,
  UnsupportedCommandError,
} from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { runScript } from "../exec/runScript.js";
import { Pin, type NodeClient, type SessionState } from "../connection/NodeClient.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";
import { refusal } from "../routing/refusals.js";
import type { PipelineResult, ShardedTransaction, TransactionTarget } from "../pipeline/Transaction.js";

/** Allowed here although refused on shared connections: this connection is the caller's alone. */
const ALLOWED = new Set(["watch", "unwatch"]);

export interface DedicatedConnection extends Omit<RedisCommander, "quit" | "multi" | "exec" | "discard"> {}

export class DedicatedConnection implements Dispatcher, ScriptRunner {
  private released = false;
  /** The WATCH and/or MULTI set up on this connection: what later commands depend on. */
  private pin: Pin | undefined;
  /** Commands queued on the server since multi({ pipeline: false }), for exec() to transform their replies. */
  private unpipelined: ShardisCommand[] | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly shardIndex: number,
    private readonly node: NodeClient,
    private readonly transaction: (target: TransactionTarget) => ShardedTransaction,
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
          ? "use conn.multi()...exec(), or conn.multi({ pipeline: false }) then conn.exec()"
          : refusal(name, args);
      if (refused) throw new UnsupportedCommandError(name, refused);
      const spec = commandSpec(name);
      const cmd = buildCommand(name, args, encoding);
      this.checkShard(spec, cmd);
      if (name === "unwatch" && this.pin?.holds === "watch") {
        // Ends the WATCH scope, also one already lost (UNWATCH on a new connection answers OK all the same).
        this.pin = undefined;
      } else if (name === "watch") {
        this.hold("watch");
      }
      if (this.unpipelined) {
        // Inside MULTI the server answers QUEUED; the command itself is kept to transform its EXEC reply.
        const queued = this.node.send(internalCommand(name, [...cmd.args]), this.executor.defaults.timeoutMs, 0, this.pin);
        this.unpipelined.push(cmd);
        return queued;
      }
      const blockMs = blockingTimeoutMs(spec, cmd.args as Args) ?? 0;
      // Over a cluster, a redirect cannot be followed from here: a typed error says where the slot went.
      return this.node.send(cmd, blockMs + this.executor.defaults.timeoutMs, 0, this.pin).catch((error: unknown) => Promise.reject(this.executor.stayedBehind(error)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): Promise<unknown> {
    try {
      this.checkOpen();
      const evalArgs = script.evalArgs(args);
      const evalsha = new ShardisCommand(script.evalshaCommand, [script.sha, ...evalArgs], { replyEncoding: encoding });
      this.checkShard(commandSpec(script.evalshaCommand), evalsha);
      return withCallback(runScript(this.node, script, evalsha, evalArgs, encoding, this.executor.defaults.timeoutMs, 0, this.pin), callback);
    } catch (error) {
      return withCallback(Promise.reject(error), callback);
    }
  }

  /**
   * A MULTI/EXEC block on this connection, sent whole by exec(); exec()
   * resolves null if a WATCHed key changed. With { pipeline: false }, MULTI
   * is sent now, each command is queued on the server as it is called, and
   * conn.exec() (or conn.discard()) ends the block.
   */
  multi(options: { pipeline: false }): Promise<"OK">;
  multi(commands?: unknown[][] | { pipeline?: true }): ShardedTransaction;
  multi(first?: unknown[][] | { pipeline?: boolean }): ShardedTransaction | Promise<"OK"> {
    if (first && !Array.isArray(first) && first.pipeline === false) return this.beginUnpipelined();
    const transaction = this.transaction({
      checkOpen: () => this.checkOpen(),
      shardOf: (spec, cmd) => {
        this.checkShard(spec, cmd);
        return this.shardIndex;
      },
      node: () => this.node,
      timeoutMs: this.executor.defaults.timeoutMs,
      multi: this.executor.multiGuard,
      pin: () => this.pin,
      // EXEC (or its failure) ends the WATCH; a refused MULTI does not, and release() clears it.
      settled: (watchEnded) => watchEnded && (this.pin = undefined),
    });
    if (Array.isArray(first)) addBatch(transaction, first, "multi");
    return transaction;
  }

  /** Ends a multi({ pipeline: false }) block: [error, result] per command, or null if a WATCHed key changed. */
  async exec(): Promise<PipelineResult | null> {
    const pin = this.pin;
    const queued = this.endUnpipelined("exec");
    // Success or failure, EXEC ends the scope (a lost one rejects here with WatchLostError, never sent).
    const reply = (await this.node.send(internalCommand("exec", [], null), this.executor.defaults.timeoutMs, 0, pin)) as unknown[] | null;
    if (reply === null) return null;
    return queued.map((cmd, i) => {
      const result = reply[i];
      if (result instanceof Error) return [result, undefined];
      try {
        return [null, cmd.transformReply(result as Buffer)];
      } catch (error) {
        return [error as Error, undefined];
      }
    });
  }

  /** Abandons a multi({ pipeline: false }) block. */
  async discard(): Promise<"OK"> {
    const pin = this.pin;
    this.endUnpipelined("discard");
    // A block lost with its connection is abandoned already: the server forgot it.
    if (pin && pin.generation !== this.node.generation) return "OK";
    await this.node.send(internalCommand("discard"), this.executor.defaults.timeoutMs, 0, pin);
    return "OK";
  }

  /** Ends the loan: clears a WATCH or an open MULTI left behind so the next borrower starts clean. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const pin = this.pin;
    this.pin = undefined;
    // A lost WATCH/MULTI went with its connection: the connection now in use has none to clear.
    if (!pin || pin.generation !== this.node.generation || !this.node.reusable) return;
    const reset = this.unpipelined ? "discard" : "unwatch";
    await this.node.send(internalCommand(reset), this.executor.defaults.timeoutMs, 0, pin).catch(() => undefined);
  }

  private async beginUnpipelined(): Promise<"OK"> {
    this.checkOpen();
    if (this.unpipelined) throw new UnsupportedCommandError("multi", "a MULTI block is already open on this connection; exec() or discard() it first");
    // MULTI goes alone here: a refusal costs nothing more than itself, so a known one is not assumed.
    this.unpipelined = [];
    const before = this.pin?.holds;
    this.hold("multi");
    try {
      await this.node.send(internalCommand("multi"), this.executor.defaults.timeoutMs, 0, this.pin);
      this.executor.multiGuard.ran(this.node);
    } catch (error) {
      // No block was opened: back to the WATCH alone, or to nothing.
      this.unpipelined = undefined;
      if (before === undefined) this.pin = undefined;
      else this.pin!.holds = before;
      throw error instanceof Error && error.name === "ReplyError" ? this.executor.multiGuard.failed(this.node, error) : error;
    }
    return "OK";
  }

  /** Ends a multi({ pipeline: false }) block, and with it the pin (EXEC and DISCARD clear a WATCH too). */
  private endUnpipelined(command: string): ShardisCommand[] {
    this.checkOpen();
    const queued = this.unpipelined;
    if (!queued) throw new InvalidArgumentError(`${command}() ends a block begun with conn.multi({ pipeline: false }); none is open`);
    this.unpipelined = undefined;
    this.pin = undefined;
    return queued;
  }

  /**
   * Notes state the server will keep for this connection only. The pin is
   * taken when the first of it is sent, so a command sent before the
   * connection drops and one sent after it never count as the same session.
   */
  private hold(state: "watch" | "multi"): void {
    const pin = this.pin;
    if (!pin) this.pin = new Pin(this.node.generation, state);
    else if (pin.holds !== state) pin.holds = "watch+multi" satisfies SessionState;
  }

  private checkOpen(): void {
    if (this.released) throw new ConnectionReleasedError();
    if (this.executor.closed) throw new ClientClosedError();
  }

  /** Keys must live on this connection's shard; keyless and unknown commands pass. */
  private checkShard(spec: CommandSpec, cmd: ShardisCommand): void {
    let route: unknown;
    try {
      route = this.executor.router.route(spec, cmd.args as Args);
    } catch (error) {
      if (error instanceof KeylessCommandError || error instanceof UnknownCommandError) return;
      throw error;
    }
    if (route === this.shardIndex) return;
    const names = this.executor.router.namesOf(spec, cmd.args as Args);
    throw new CrossShardError(spec.name, [...new Set([this.shard, ...names])], `this connection only reaches ${this.shard}`);
  }

  [inspect.custom](): string {
    return `DedicatedConnection { shard: ${this.shard}, node: ${this.node.id}${this.released ? ", released" : ""} }`;
  }
}

installCommands(DedicatedConnection, new Set(["quit", "multi", "exec", "discard"]));
