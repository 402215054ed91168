/**
 * A MULTI/EXEC block on one node. Commands are queued locally; exec() checks
 * they all belong on one node, then sends MULTI, the commands and EXEC as
 * one BlockCommand: one entry in the connection's queue, written in one
 * piece, so nothing else on a shared connection can land inside the block
 * and no fault can send part of it. Results come back like ioredis's:
 * [error, result] per command, or null when a WATCHed key changed.
 */
import { prefixKeys } from "../commands/keyPrefix.js";
import { BlockCommand } from "../commands/block.js";
import { ShardisCommand } from "../commands/command.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { ChainableCommander } from "ioredis";
import { installChainable, nodeback, QUEUE, withCallback, type Callback, type Chainable, type Encoding } from "../commands/install.js";
import { AlreadyExecutedError, SlotMovedError, UnsupportedCommandError } from "../errors.js";
import { clusterRedirectOf } from "../connection/recovery.js";
import { within } from "../util/within.js";
import { BLOCK, type NodeClient, type Pin } from "../connection/NodeClient.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import { refusal } from "../routing/refusals.js";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced, currentCall, resumeCall, type CallTrace } from "../metrics/tracing.js";

// A failed entry is [error] alone, as ioredis has it (libraries read results[i].length and [0]).
export type PipelineResult = Array<[error: Error | null, result?: unknown]>;

/** Where a transaction runs; implemented by the client, a shard handle and a dedicated connection. */
export interface TransactionTarget {
  /** Throws if no more commands may be sent (client closed, connection released). */
  checkOpen(): void;
  /** The shard a command's keys live on, or undefined when it has none; throws for commands that cannot run here. */
  shardOf(spec: CommandSpec, cmd: ShardisCommand): number | undefined;
  /** The node for a block whose keyed commands live on these shards; throws when they disagree. */
  node(shards: ReadonlySet<number>): NodeClient | BlockPlace | Promise<NodeClient | BlockPlace>;
  readonly timeoutMs: number;
  /** ioredis's keyPrefix, put on the keys of every queued command; "" or undefined for none. */
  readonly keyPrefix?: string;
  /**
   * Called with the outcome: a dedicated connection tracks whether a WATCH is
   * still active. `ran`: MULTI was accepted, so EXEC ran inside it and ended
   * the WATCH on the server; otherwise (the block refused before it was
   * sent, MULTI refused) the WATCH may still be there.
   */
  settled?(ran: boolean): void;
  /** The WATCH the block depends on (a dedicated connection): the block goes only on the connection that holds it. */
  pin?(): Pin | undefined;
  /**
   * Where to ask whether a node that refused MULTI allows it now, when the
   * block's own connection holds a WATCH (the probe's DISCARD would clear
   * it): another connection to the same node, or undefined (not asked).
   */
  probeNode?(): NodeClient | undefined;
  /** What the client knows of nodes that refuse MULTI (their ACL). */
  readonly multi?: MultiGuard;
  /**
   * Over a cluster, for a block the node refused because its slot is
   * elsewhere or moving (MOVED, ASK, TRYAGAIN): resolves once running the
   * whole block again may succeed (the slot map re-read, or the importing
   * node found). `replies`: each queued command's refusal (undefined:
   * QUEUED). Absent where the block must not move (a dedicated connection,
   * a named shard).
   */
  relocated?(queued: readonly ShardisCommand[], replies: ReadonlyArray<Error | undefined>): Promise<void>;
  /** Where exec() starts its trace (a MULTI call). */
  readonly tracing?: ClientTracing;
}

/** Where a block runs: `asking`, ASKING goes right before its MULTI (a cluster slot migrating to this node). */
export interface BlockPlace {
  readonly node: NodeClient;
  readonly asking: boolean;
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
}

/** Refusals of queued commands that mean "not on this node, or not yet": the block did not run, and may run again. */
const RELOCATED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;
/** Runs of one block before its caller gets the refusal (as a command's redirections). */
const MAX_RUNS = 16;

/** One run of the block: EXEC's reply, or its failure with the server's refusals of queued commands (by position, and in a list). */
type RunResult =
  | { readonly ok: true; readonly reply: unknown }
  | {
      readonly ok: false;
      readonly error: Error;
      readonly previous: Error[];
      readonly replies: ReadonlyArray<Error | undefined>;
      /** Where it ran (undefined: no node was reached). */
      readonly node?: NodeClient;
    };

/** The redirect every queued command was answered (MOVED/ASK for each, none QUEUED), or undefined. */
function redirectOfAll(replies: ReadonlyArray<Error | undefined>): ReturnType<typeof clusterRedirectOf> {
  const redirects = replies.map((reply) => (reply === undefined ? undefined : clusterRedirectOf(reply)));
  return redirects.length > 0 && redirects.every((r) => r !== undefined) ? redirects[0] : undefined;
}

interface Queued {
  readonly cmd: ShardisCommand;
  readonly shard: number | undefined;
  readonly callback: Callback | undefined;
  readonly encoding: Encoding;
}

/** Commands that may not appear inside MULTI/EXEC here: they would nest or end the block early. */
const NOT_IN_BLOCK = new Set(["multi", "exec", "discard", "watch", "unwatch"]);

// Keyless commands stay: inside a block they run on the block's shard.
export interface ShardedTransaction extends Omit<ChainableCommander, "exec"> {}

export class ShardedTransaction implements Chainable, ScriptRunner {
  private readonly queued: Queued[] = [];
  private problem: Error | undefined;
  private executed = false;
  /** MULTI of a run was accepted by the server (EXEC then ran inside it). */
  private multiRan = false;
  /** Each command's callback was called (once, with its queueing outcome). */
  private calledBack = false;

  constructor(private readonly target: TransactionTarget) {}

  get length(): number {
    return this.queued.length;
  }

  [QUEUE](name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): void {
    if (this.problem) return;
    try {
      const refused = NOT_IN_BLOCK.has(name) ? "it cannot appear inside MULTI/EXEC" : refusal(name, args);
      if (refused) throw new UnsupportedCommandError(name, refused);
      const cmd = new ShardisCommand(name, prefixKeys(name, args, this.target.keyPrefix ?? ""), { replyEncoding: encoding });
      this.queued.push({ cmd, shard: this.target.shardOf(commandSpec(name), cmd), callback, encoding });
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

  /** Runs the block; a node-style callback, as in ioredis, gets (error, results). */
  exec(callback?: Callback): Promise<PipelineResult | null> {
    return withCallback(this.execute(), callback);
  }

  private async execute(): Promise<PipelineResult | null> {
    if (this.executed) throw new AlreadyExecutedError("transaction");
    this.executed = true;
    try {
      this.target.checkOpen();
      if (this.problem) throw this.problem;
      if (this.queued.length === 0) return [];
      const tracing = this.target.tracing;
      if (tracing !== undefined && callsTraced()) return await tracing.call("multi", "multi", undefined, () => this.runBlock(), { batchSize: this.queued.length });
      return await this.runBlock();
    } catch (error) {
      // Refused before the block was sent (closed, cross-shard, no node): no command reached the server.
      this.queuedCallbacks(() => error as Error);
      throw error;
    }
  }

  /**
   * Each command's own callback, as ioredis calls it: with the server's
   * answer to queueing it ("QUEUED", or its refusal), not its result, which
   * exec() gives.
   */
  private queuedCallbacks(refusal: (i: number) => Error | undefined): void {
    if (this.calledBack) return;
    this.calledBack = true;
    this.queued.forEach((q, i) => {
      if (!q.callback) return;
      const error = refusal(i);
      // As ioredis: the answer comes in the command's encoding (typeBuffer's "QUEUED" is a Buffer).
      const queued = q.encoding === null ? Buffer.from("QUEUED") : "QUEUED";
      nodeback(q.callback, error ?? null, error ? undefined : queued);
    });
  }

  /** The block, run (again where a cluster moved its slot) until it ran or cannot. */
  private async runBlock(): Promise<PipelineResult | null> {
    const traced = currentCall();
    const shards = new Set(this.queued.flatMap((q) => (q.shard === undefined ? [] : [q.shard])));
    const deadline = performance.now() + this.target.timeoutMs;
    let commands = this.queued.map((q) => q.cmd);
    let execResult = await this.run(commands, shards, deadline, traced);
    for (let runs = 1; !execResult.ok && this.target.relocated && runs < MAX_RUNS; runs++) {
      // A cluster moved the block's slot: nothing in it ran (EXECABORT, or EXEC itself answered MOVED/ASK because the
      // slot moved while the block was queued), so the whole block goes again where the map now says.
      const refusals = execResult.previous.length ? execResult.previous : [execResult.error];
      if (!refusals.every((error) => RELOCATED.test(error.message))) break;
      // Bounded by the block's deadline: a map re-read stuck on a slow node must not hold the caller past it.
      await within(this.target.relocated(commands, execResult.replies), deadline - performance.now());
      if (deadline - performance.now() <= 0) break;
      commands = this.queued.map((q) => q.cmd.clone());
      execResult = await this.run(commands, shards, deadline, traced);
    }
    this.target.settled?.(this.multiRan);
    if (execResult.ok) this.queuedCallbacks(() => undefined);
    else {
      const { error, replies } = execResult;
      // MULTI ran: each command was QUEUED or refused; otherwise none of them reached the server.
      this.queuedCallbacks((i) => (this.multiRan ? replies[i] : error));
    }
    if (!execResult.ok) {
      // EXECABORT and friends: say which queued commands Redis refused, as ioredis does.
      if (execResult.error.name === "ReplyError") Object.assign(execResult.error, { previousErrors: execResult.previous });
      // Still redirected (a connection that cannot follow, or out of time): nothing ran; say where the slot went.
      const redirect = clusterRedirectOf(execResult.error) ?? redirectOfAll(execResult.replies);
      if (redirect && execResult.node) {
        throw new SlotMovedError(execResult.node.shard, execResult.node.id, redirect.slot, redirect.address, redirect.kind, execResult.error);
      }
      throw execResult.error;
    }
    if (execResult.reply === null) return null;
    const replies = execResult.reply as unknown[];
    const results: PipelineResult = this.queued.map((q, i) => {
      const reply = replies[i];
      if (reply instanceof Error) return [reply];
      try {
        return [null, commands[i]!.transformReply(reply as Buffer)];
      } catch (error) {
        return [error as Error];
      }
    });
    return results;
  }

  /**
   * The node refused MULTI before: asks again with MULTI then DISCARD (one
   * unit, harmless either way) before risking the block's commands running
   * on their own. Resolves true when MULTI is allowed now.
   */
  private async allowedAgain(node: NodeClient, timeout: number): Promise<boolean> {
    const probe = new BlockCommand([], "discard");
    await node.send(probe, timeout, BLOCK).catch(() => undefined);
    const [multi] = await Promise.allSettled([probe.multi.promise]);
    if (multi!.status === "rejected") return false; // refused still (or the probe failed): nothing of the block was sent
    this.target.multi!.ran(node);
    return true;
  }

  /**
   * The block on its node; EXEC's outcome and the server's refusals of queued commands. The wait for the node
   * (a master not named yet) and a MULTI probe count against the call's deadline: the block gets what is left.
   */
  private async run(commands: ShardisCommand[], shards: ReadonlySet<number>, deadline: number, traced: CallTrace | undefined): Promise<RunResult> {
    const left = () => Math.max(1, deadline - performance.now());
    const placed = await this.target.node(shards);
    const { node, asking } = "asking" in placed ? placed : { node: placed, asking: false };
    const pin = this.target.pin?.();
    const known = this.target.multi?.refused(node);
    if (known) {
      // Asked on another connection when this one holds a WATCH: DISCARD would clear it, and EXEC then commit unwatched.
      const asked = pin ? this.target.probeNode?.() : node;
      if (!asked || !(await this.allowedAgain(asked, left()))) return { ok: false, error: known, previous: [], replies: [] };
    }
    const block = new BlockCommand(commands, "exec", asking);
    // Sent after awaiting its node: as part of the exec() call still (its trace).
    const exec = resumeCall(traced, () => node.send(block, left(), BLOCK, pin));
    // Every part settles by the time EXEC does (replies come in order; a block that never went out fails them all).
    const [execResult, multi, queued] = await Promise.all([
      exec.then(
        (reply) => ({ ok: true as const, reply }),
        (error: unknown) => ({ ok: false as const, error: error as Error }),
      ),
      block.multi.promise.then(
        () => undefined,
        (error: unknown) => error as Error,
      ),
      Promise.allSettled(block.queued.map((cmd) => cmd.promise)),
    ]);
    if (multi === undefined) {
      this.multiRan = true;
      this.target.multi?.ran(node);
    }
    if (execResult.ok) return execResult;
    if (multi !== undefined && multi !== execResult.error) {
      // MULTI itself was refused: EXEC's "EXEC without MULTI" tells the caller nothing; the refusal does.
      return { ok: false, error: this.target.multi?.failed(node, multi) ?? multi, previous: [], replies: [] };
    }
    // The server's refusals of queued commands (EXECABORT's reasons), not the block's own failure repeated.
    const replies = queued.map((r) => (r.status === "rejected" && r.reason !== execResult.error ? (r.reason as Error) : undefined));
    return { ...execResult, previous: replies.filter((r): r is Error => r !== undefined), replies, node };
  }
}

installChainable(ShardedTransaction, new Set(["exec"]));
