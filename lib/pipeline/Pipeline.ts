/**
 * client.pipeline(): commands queued locally, then sent together by exec().
 * Each entry runs exactly as the same command on the client would (routed,
 * split across shards, refused), and since exec() issues them all in one
 * event-loop turn, each node's share leaves in one write. Results come back
 * in caller order as [error, result] pairs.
 */
import { installChainable, nodeback, QUEUE, withCallback, type Callback, type Chainable, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { ShardedChainable } from "../commands/surface.js";
import { AlreadyExecutedError, NodeError, PartialFailureError, UnsupportedCommandError } from "../errors.js";
import type { PipelineResult, ShardedTransaction } from "./Transaction.js";
import { InlineTransaction, type InlineEntry } from "./inline.js";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced } from "../metrics/tracing.js";

export interface PipelineRunner {
  checkOpen(): void;
  run(name: string, args: unknown[], encoding: Encoding): Promise<unknown>;
  runScript(script: Script, args: unknown[], encoding: Encoding): Promise<unknown>;
  /** Where exec() starts its trace (a PIPELINE call, each command a call inside it). */
  readonly tracing?: ClientTracing;
  /** A MULTI/EXEC block for ioredis's inline form, pipeline().multi()...exec()...exec(). */
  transaction?(): ShardedTransaction;
  /** The client's options, which ioredis's pipeline.options is (libraries read keyPrefix there). */
  readonly options?: object;
}

export interface PipelineOptions {
  /**
   * `true`: a node that fails yields errors for its own entries only, and
   * exec() resolves. `false`: exec() rejects with PartialFailureError
   * (holding every entry's result) when any node failed.
   * Errors Redis replies with (WRONGTYPE, ...) are per entry either way.
   * @default true
   */
  partial?: boolean;
}

/** An entry and the part of the pipeline it belongs to: an inline transaction is a part of its own, with what comes before and after. */
type Entry = InlineEntry & { readonly part: number };

export interface ShardedPipeline extends ShardedChainable<"exec" | "multi"> {}

export class ShardedPipeline implements Chainable, ScriptRunner {
  private readonly entries: Entry[] = [];
  private executed = false;
  /** An inline transaction opened by multi() and not yet closed by exec(): commands go into it. */
  private inline: InlineTransaction | undefined;
  /** Parts so far: multi() and the exec() closing it each start one. */
  private part = 0;

  constructor(
    private readonly runner: PipelineRunner,
    private readonly partial: boolean,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /** The options of the client it came from, as ioredis's pipeline.options. */
  get options(): object | undefined {
    return this.runner.options;
  }

  [QUEUE](name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): void {
    if (this.inline) this.push(this.inline.add(name, args, encoding, callback));
    else this.push({ run: () => this.runner.run(name, args, encoding), callback });
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): this {
    if (this.inline) this.push(this.inline.addScript(script, args, encoding, callback));
    else this.push({ run: () => this.runner.runScript(script, args, encoding), callback });
    return this;
  }

  private push(entry: InlineEntry): void {
    this.entries.push({ ...entry, part: this.part });
  }

  /**
   * ioredis's inline transaction: the commands up to the next exec() form a
   * MULTI/EXEC block (keys on one shard), sent with the rest of the
   * pipeline. Its entries read as ioredis's: "OK" for MULTI, "QUEUED" per
   * command, EXEC's replies as one array.
   */
  multi(callback?: Callback): this {
    const transaction = this.runner.transaction?.();
    if (this.inline || !transaction) {
      const error = new UnsupportedCommandError("multi", this.inline ? "MULTI calls can not be nested: exec() the open one first" : "this pipeline cannot hold a transaction");
      this.push({ run: () => Promise.reject(error), callback });
      return this;
    }
    this.inline = new InlineTransaction(transaction);
    this.part++;
    this.push(this.inline.opened(callback));
    return this;
  }

  /**
   * Sends every queued command; a node-style callback, as in ioredis, gets
   * (error, results). Inside an inline transaction (after multi()), closes
   * it instead and returns the pipeline, as ioredis does.
   */
  exec(callback?: Callback): Promise<PipelineResult>;
  exec(callback?: Callback): Promise<PipelineResult> | this {
    if (this.inline) {
      this.push(this.inline.closed(callback));
      this.inline = undefined;
      this.part++;
      return this;
    }
    return withCallback(this.execute(), callback);
  }

  private async execute(): Promise<PipelineResult> {
    if (this.executed) throw new AlreadyExecutedError("pipeline");
    this.executed = true;
    this.runner.checkOpen();
    const tracing = this.runner.tracing;
    if (tracing !== undefined && callsTraced()) return tracing.call("pipeline", "pipeline", undefined, () => this.runAll(), { batchSize: this.entries.length });
    return this.runAll();
  }

  private async runAll(): Promise<PipelineResult> {
    // Every entry of a part starts in one turn, so each node gets its share in one write. Parts (an inline
    // transaction, what comes before and after it) run one after another: a transaction's block waits for its
    // node, and a later command must not overtake it.
    const settled: Array<PromiseSettledResult<unknown>> = [];
    for (let part = 0; part <= this.part; part++) {
      settled.push(...(await Promise.allSettled(this.entries.filter((entry) => entry.part === part).map((entry) => entry.run()))));
    }
    const results: PipelineResult = settled.map((r) => (r.status === "fulfilled" ? [null, r.value] : [r.reason as Error]));
    this.entries.forEach((entry, i) => entry.callback && nodeback(entry.callback, results[i]![0], results[i]![1]));
    if (!this.partial) {
      const failed = results.flatMap(([error]) => (error instanceof NodeError ? [error] : []));
      if (failed.length) {
        const byShard = new Map(failed.map((error) => [error.shard, error]));
        throw new PartialFailureError(
          "pipeline",
          [...byShard].map(([shard, error]) => ({ shard, error })),
          [],
          results,
        );
      }
    }
    return results;
  }
}

installChainable(ShardedPipeline, new Set(["exec", "multi"]));
