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
import { prefixKeys, prefixScriptArgs } from "../commands/keyPrefix.js";
import { inspect } from "node:util";
import type { RedisCommander } from "ioredis";
import { buildCommand, internalCommand, ShardisCommand } from "../commands/command.js";
import { addBatch, DISPATCH, installCommands, withCallback, type Callback, type Dispatcher, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import {
  CircuitOpenError,
  ClientClosedError,
  ConnectionReleasedError,
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  QueueFullError,
  UnknownCommandError,
  UnsupportedCommandError,
} from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { runScript } from "../exec/runScript.js";
import { Pin, PROBE, type NodeClient, type SessionState } from "../connection/NodeClient.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { commandSpec, keyIndexes, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";
import { refusal } from "../routing/refusals.js";
import type { PipelineResult, ShardedTransaction, TransactionTarget } from "../pipeline/Transaction.js";

const NESTED = "a MULTI block is already open on this connection; exec() or discard() it first";

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
      const cmd = buildCommand(name, prefixKeys(name, args, this.executor.options.keyPrefix), encoding);
      this.checkShard(spec, cmd);
      if (name === "unwatch" && this.pin?.holds === "watch") return this.endWatch(cmd, this.pin);
      if (name === "watch") this.hold("watch");
      const block = this.unpipelined;
      if (block) {
        // Inside MULTI the server answers QUEUED; the command itself is kept to transform its EXEC reply.
        const queued = this.node.send(internalCommand(name, [...cmd.args]), this.executor.defaults.timeoutMs, 0, this.pin);
        block.push(cmd);
        // Not queued by the server, so EXEC has no reply for it: refused before it was written (an open breaker, a full
        // queue), or answered with an error (WATCH inside MULTI; any other refusal aborts the block at EXEC anyway).
        queued.catch((error: unknown) => {
          const unqueued = error instanceof CircuitOpenError || error instanceof QueueFullError || (error instanceof Error && error.name === "ReplyError");
          if (unqueued && block.includes(cmd)) block.splice(block.indexOf(cmd), 1);
        });
        return queued;
      }
      const blockMs = blockingTimeoutMs(spec, cmd.args as Args) ?? 0;
      return this.node.send(cmd, blockMs + this.executor.defaults.timeoutMs, 0, this.pin);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * UNWATCH ends the WATCH scope: at once when the WATCH was lost with its
   * connection (the one in use now has none; UNWATCH answers OK all the
   * same), else once the server has answered it (refused before it was
   * sent, by an open breaker, the WATCH is still there for release to clear).
   */
  private endWatch(cmd: ShardisCommand, pin: Pin): Promise<unknown> {
    if (!this.node.holds(pin)) this.pin = undefined;
    const sent = this.node.send(cmd, this.executor.defaults.timeoutMs);
    sent.then(
      () => this.pin === pin && (this.pin = undefined),
      () => undefined,
    );
    return sent;
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): Promise<unknown> {
    try {
      this.checkOpen();
      // Inside multi({ pipeline: false }) EVALSHA is only QUEUED (a NOSCRIPT would come with EXEC, too late for EVAL), and
      // its reply must take its place among EXEC's: it goes as EVAL, kept with the block's commands (DISPATCH prefixes its keys).
      if (this.unpipelined) return withCallback(this[DISPATCH](script.evalCommand, [script.lua, ...script.evalArgs(args)], encoding), callback);
      const evalArgs = script.evalArgs(prefixScriptArgs(script, args, this.executor.options.keyPrefix));
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
    // Its keys, refused again at exec if a migration moves them: exec may come in a later phase than the queueing did.
    const keys: Array<string | Buffer> = [];
    const transaction = this.transaction({
      checkOpen: () => {
        this.checkOpen();
        // Inside the open block its MULTI would be refused as nested, and its EXEC commit that block.
        if (this.unpipelined) throw new UnsupportedCommandError("multi", NESTED);
        this.executor.moves.refuseMoving("multi", keys, "a transaction runs on one owner while its key moves between two");
      },
      shardOf: (spec, cmd) => {
        this.checkShard(spec, cmd);
        for (const i of keyIndexes(spec, cmd.args as Args)) keys.push((cmd.args as Args)[i]!);
        return this.shardIndex;
      },
      node: () => this.node,
      timeoutMs: this.executor.defaults.timeoutMs,
      keyPrefix: this.executor.options.keyPrefix,
      tracing: this.executor.tracing,
      multi: this.executor.multiGuard,
      pin: () => this.pin,
      // The shard master's shared connection, when it is this connection's node: MULTI+DISCARD there leaves this WATCH alone.
      probeNode: () => {
        const shared = this.executor.master(this.shardIndex);
        return shared?.id === this.node.id ? shared : undefined;
      },
      // EXEC ends the WATCH, and so does a lost connection; a block refused before it ran (an open breaker) leaves it.
      settled: (ran) => {
        if (ran || (this.pin && !this.node.holds(this.pin))) this.pin = undefined;
      },
    });
    if (Array.isArray(first)) addBatch(transaction, first, "multi");
    return transaction;
  }

  /** Ends a multi({ pipeline: false }) block: [error, result] per command, or null if a WATCHed key changed. */
  async exec(): Promise<PipelineResult | null> {
    const pin = this.pin;
    const queued = this.endUnpipelined("exec");
    // EXEC answered ends the scope, and so does a lost connection (WatchLostError, never sent).
    const reply = (await this.node.send(internalCommand("exec", [], null), this.executor.defaults.timeoutMs, 0, pin).catch((error: unknown) => this.stillOpen(error, pin, queued))) as
      | unknown[]
      | null;
    if (reply === null) return null;
    return queued.map((cmd, i) => {
      const result = reply[i];
      if (result instanceof Error) return [result];
      try {
        return [null, cmd.transformReply(result as Buffer)];
      } catch (error) {
        return [error as Error];
      }
    });
  }

  /** Abandons a multi({ pipeline: false }) block. */
  async discard(): Promise<"OK"> {
    const pin = this.pin;
    const queued = this.endUnpipelined("discard");
    // A block lost with its connection is abandoned already: the server forgot it.
    if (pin && !this.node.holds(pin)) return "OK";
    await this.node.send(internalCommand("discard"), this.executor.defaults.timeoutMs, 0, pin).catch((error: unknown) => this.stillOpen(error, pin, queued));
    return "OK";
  }

  /**
   * EXEC or DISCARD failed without an answer from the server (an open
   * breaker refused it): on the same connection the block is still open
   * there, so it stays open here too, for exec() or discard() again, or for
   * release() to clear. Rethrows.
   */
  private stillOpen(error: unknown, pin: Pin | undefined, queued: ShardisCommand[]): never {
    const answered = error instanceof Error && error.name === "ReplyError";
    if (!answered && pin && pin.generation === this.node.generation && !this.released) {
      this.unpipelined = queued;
      this.pin = pin;
    }
    throw error;
  }

  /** Ends the loan: clears a WATCH or an open MULTI left behind so the next borrower starts clean. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const pin = this.pin;
    this.pin = undefined;
    // A lost WATCH/MULTI went with its connection: the connection now in use has none to clear.
    if (!pin || !this.node.holds(pin) || !this.node.reusable) return;
    const reset = this.unpipelined ? "discard" : "unwatch";
    // Housekeeping of this connection alone: it goes even while the node's breaker is open (PROBE). If it still
    // fails, the connection is not lent again: the next borrower would inherit the WATCH or the open block.
    await this.node.send(internalCommand(reset), this.executor.defaults.timeoutMs, PROBE, pin).catch(() => this.node.keepsState());
  }

  private async beginUnpipelined(): Promise<"OK"> {
    this.checkOpen();
    if (this.unpipelined) throw new UnsupportedCommandError("multi", NESTED);
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
    if (route === this.shardIndex) {
      // A moving key's owner is one of two from dual to switch: refused, whenever the connection was taken.
      const args = cmd.args as Args;
      return this.executor.moves.refuseMoving(spec.name, keyIndexes(spec, args).map((i) => args[i]!), "a dedicated connection holds one owner while the key moves between two");
    }
    const names = this.executor.router.namesOf(spec, cmd.args as Args);
    throw new CrossShardError(spec.name, [...new Set([this.shard, ...names])], `this connection only reaches ${this.shard}`);
  }

  [inspect.custom](): string {
    return `DedicatedConnection { shard: ${this.shard}, node: ${this.node.id}${this.released ? ", released" : ""} }`;
  }
}

installCommands(DedicatedConnection, new Set(["quit", "multi", "exec", "discard"]));
