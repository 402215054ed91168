/**
 * A MULTI/EXEC block on one node. Commands are queued locally; exec() checks
 * they all belong on one node, then sends MULTI, the commands and EXEC as
 * one BlockCommand: one entry in the connection's queue, written in one
 * piece, so nothing else on a shared connection can land inside the block
 * and no fault can send part of it. Results come back like ioredis's:
 * [error, result] per command, or null when a WATCHed key changed.
 */
import { BlockCommand } from "../commands/block.js";
import { ShardisCommand } from "../commands/command.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { ChainableCommander } from "ioredis";
import { installChainable, QUEUE, type Callback, type Chainable, type Encoding } from "../commands/install.js";
import { AlreadyExecutedError, UnsupportedCommandError } from "../errors.js";
import { BLOCK, type NodeClient, type Pin } from "../connection/NodeClient.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import { refusal } from "../routing/refusals.js";

export type PipelineResult = Array<[error: Error | null, result: unknown]>;

/** Where a transaction runs; implemented by the client, a shard handle and a dedicated connection. */
export interface TransactionTarget {
  /** Throws if no more commands may be sent (client closed, connection released). */
  checkOpen(): void;
  /** The shard a command's keys live on, or undefined when it has none; throws for commands that cannot run here. */
  shardOf(spec: CommandSpec, cmd: ShardisCommand): number | undefined;
  /** The node for a block whose keyed commands live on these shards; throws when they disagree. */
  node(shards: ReadonlySet<number>): NodeClient | Promise<NodeClient>;
  readonly timeoutMs: number;
  /**
   * Called with the outcome: a dedicated connection tracks whether a WATCH
   * is still active. `watchEnded` is false when MULTI was refused or never
   * sent: EXEC did not run as a block, and the server still holds the WATCH.
   */
  settled?(watchEnded: boolean): void;
  /** The WATCH the block depends on (a dedicated connection): the block goes only on the connection that holds it. */
  pin?(): Pin | undefined;
  /** What the client knows of nodes that refuse MULTI (their ACL). */
  readonly multi?: MultiGuard;
  /**
   * Over a cluster, for a block the node refused because its slot is
   * elsewhere or moving (MOVED, ASK, TRYAGAIN): resolves once running the
   * whole block again may succeed (the slot map re-read). Absent where the
   * block must not move (a dedicated connection, a named shard).
   */
  relocated?(): Promise<void>;
}

/**
 * A node whose ACL refuses MULTI runs the commands that follow it on their
 * own: the block cannot be made safe on the wire, so the refusal is typed
 * and remembered, and later blocks fail before anything is sent.
 */
export interface MultiGuard {
  /** The node is known to refuse MULTI: the error to fail with, before sending. */
  refused(node: NodeClient): Error | undefined;
  /** MULTI was answered with an error: what the caller gets (a NOPERM becomes a NoPermissionError, remembered). */
  failed(node: NodeClient, error: Error): Error;
  /** MULTI ran on the node: a refusal seen before is lifted. */
  ran(node: NodeClient): void;
  /** The node's shared connection, to ask whether MULTI is allowed again (its DISCARD would drop a dedicated one's WATCH). */
  shared(node: NodeClient): NodeClient | undefined;
}

/** Refusals of queued commands that mean "not on this node, or not yet": the block did not run, and may run again. */
const RELOCATED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;
/** Runs of one block before its caller gets the refusal (as a command's redirections). */
const MAX_RUNS = 16;

interface Queued {
  readonly cmd: ShardisCommand;
  readonly shard: number | undefined;
  readonly callback: Callback | undefined;
}

/** Commands that may not appear inside MULTI/EXEC here: they would nest or end the block early. */
const NOT_IN_BLOCK = new Set(["multi", "exec", "discard", "watch", "unwatch"]);

// Keyless commands stay: inside a block they run on the block's shard.
export interface ShardedTransaction extends Omit<ChainableCommander, "exec"> {}

export class ShardedTransaction implements Chainable, ScriptRunner {
  private readonly queued: Queued[] = [];
  private problem: Error | undefined;
  private executed = false;

  constructor(private readonly target: TransactionTarget) {}

  get length(): number {
    return this.queued.length;
  }

  [QUEUE](name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): void {
    if (this.problem) return;
    try {
      const refused = NOT_IN_BLOCK.has(name) ? "it cannot appear inside MULTI/EXEC" : refusal(name, args);
      if (refused) throw new UnsupportedCommandError(name, refused);
      const cmd = new ShardisCommand(name, args, { replyEncoding: encoding });
      this.queued.push({ cmd, shard: this.target.shardOf(commandSpec(name), cmd), callback });
    } catch (error) {
      // Remembered and thrown by exec(), before anything is sent.
      this.problem = error as Error;
    }
  }

  /** Inside MULTI a NOSCRIPT cannot be answered with EVAL, so scripts go as EVAL. */
  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): this {
    this[QUEUE]("eval", [script.lua, ...script.evalArgs(args)], encoding, callback);
    return this;
  }

  async exec(): Promise<PipelineResult | null> {
    if (this.executed) throw new AlreadyExecutedError("transaction");
    this.executed = true;
    this.target.checkOpen();
    if (this.problem) throw this.problem;
    if (this.queued.length === 0) return [];
    const shards = new Set(this.queued.flatMap((q) => (q.shard === undefined ? [] : [q.shard])));
    const deadline = performance.now() + this.target.timeoutMs;
    let commands = this.queued.map((q) => q.cmd);
    let execResult = await this.run(commands, shards, this.target.timeoutMs);
    for (let runs = 1; !execResult.ok && this.target.relocated && runs < MAX_RUNS; runs++) {
      // A cluster moved the block's slot: nothing in it ran (EXECABORT), so the whole block goes again where the map now says.
      const refusals = execResult.previous;
      if (refusals.length === 0 || !refusals.every((error) => RELOCATED.test(error.message))) break;
      await this.target.relocated();
      const left = deadline - performance.now();
      if (left <= 0) break;
      commands = this.queued.map((q) => q.cmd.clone());
      execResult = await this.run(commands, shards, left);
    }
    this.target.settled?.(!("refused" in execResult));
    if (!execResult.ok) {
      // EXECABORT and friends: say which queued commands Redis refused, as ioredis does.
      if (execResult.error.name === "ReplyError") Object.assign(execResult.error, { previousErrors: execResult.previous });
      throw execResult.error;
    }
    if (execResult.reply === null) return null;
    const replies = execResult.reply as unknown[];
    const results: PipelineResult = this.queued.map((q, i) => {
      const reply = replies[i];
      if (reply instanceof Error) return [reply, undefined];
      try {
        return [null, commands[i]!.transformReply(reply as Buffer)];
      } catch (error) {
        return [error as Error, undefined];
      }
    });
    this.queued.forEach((q, i) => q.callback?.(results[i]![0], results[i]![1]));
    return results;
  }

  /**
   * The node refused MULTI before: asks again with MULTI then DISCARD (one
   * unit, harmless either way) before risking the block's commands running
   * on their own. Resolves true when MULTI is allowed now.
   */
  private async allowedAgain(node: NodeClient, timeout: number): Promise<boolean> {
    const asked = this.target.multi!.shared(node);
    if (!asked) return false;
    const probe = new BlockCommand([], "discard");
    await asked.send(probe, timeout, BLOCK).catch(() => undefined);
    const [multi] = await Promise.allSettled([probe.head[0]!.promise]);
    if (multi!.status === "rejected") return false; // refused still (or the probe failed): nothing of the block was sent
    this.target.multi!.ran(node);
    return true;
  }

  /** The block on its node; EXEC's outcome and the server's refusals of queued commands. */
  private async run(commands: ShardisCommand[], shards: ReadonlySet<number>, timeout: number) {
    const node = await this.target.node(shards);
    const known = this.target.multi?.refused(node);
    if (known && !(await this.allowedAgain(node, timeout))) return { ok: false as const, error: known, previous: [] as Error[], refused: true };
    const block = new BlockCommand(commands);
    const exec = node.send(block, timeout, BLOCK, this.target.pin?.());
    // Every part settles by the time EXEC does (replies come in order; a block that never went out fails them all).
    const [execResult, parts] = await Promise.all([
      exec.then(
        (reply) => ({ ok: true as const, reply }),
        (error: unknown) => ({ ok: false as const, error: error as Error }),
      ),
      Promise.allSettled(block.head.map((part) => part.promise)),
    ]);
    const multi = parts[0]!;
    if (multi.status === "fulfilled") this.target.multi?.ran(node);
    if (execResult.ok) return execResult;
    if (multi.status === "rejected" && multi.reason !== execResult.error) {
      // MULTI itself was refused: EXEC's "EXEC without MULTI" tells the caller nothing; the refusal does.
      return { ok: false as const, error: this.target.multi?.failed(node, multi.reason as Error) ?? (multi.reason as Error), previous: [] as Error[], refused: true };
    }
    // The server's refusals of queued commands (EXECABORT's reasons), not the block's own failure repeated.
    const previous = parts.slice(1).flatMap((r) => (r.status === "rejected" && r.reason !== execResult.error ? [r.reason as Error] : []));
    return { ...execResult, previous };
  }
}

installChainable(ShardedTransaction, new Set(["exec"]));
