/**
 * client.pipeline(): commands queued locally, then sent together by exec().
 * Each entry runs exactly as the same command on the client would (routed,
 * split across shards, refused), and since exec() issues them all in one
 * event-loop turn, each node's share leaves in one write. Results come back
 * in caller order as [error, result] pairs.
 */
import { installChainable, QUEUE, type Callback, type Chainable, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { ShardedChainable } from "../commands/surface.js";
import { AlreadyExecutedError, NodeError, PartialFailureError } from "../errors.js";
import type { PipelineResult } from "./Transaction.js";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced } from "../metrics/tracing.js";

export interface PipelineRunner {
  checkOpen(): void;
  run(name: string, args: unknown[], encoding: Encoding): Promise<unknown>;
  runScript(script: Script, args: unknown[], encoding: Encoding): Promise<unknown>;
  /** Where exec() starts its trace (a PIPELINE call, each command a call inside it). */
  readonly tracing?: ClientTracing;
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

interface Entry {
  readonly run: () => Promise<unknown>;
  readonly callback: Callback | undefined;
}

export interface ShardedPipeline extends ShardedChainable<"exec"> {}

export class ShardedPipeline implements Chainable, ScriptRunner {
  private readonly entries: Entry[] = [];
  private executed = false;

  constructor(
    private readonly runner: PipelineRunner,
    private readonly partial: boolean,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  [QUEUE](name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): void {
    this.entries.push({ run: () => this.runner.run(name, args, encoding), callback });
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): this {
    this.entries.push({ run: () => this.runner.runScript(script, args, encoding), callback });
    return this;
  }

  async exec(): Promise<PipelineResult> {
    if (this.executed) throw new AlreadyExecutedError("pipeline");
    this.executed = true;
    this.runner.checkOpen();
    const tracing = this.runner.tracing;
    if (tracing !== undefined && callsTraced()) return tracing.call("pipeline", "pipeline", undefined, () => this.runAll(), { batchSize: this.entries.length });
    return this.runAll();
  }

  private async runAll(): Promise<PipelineResult> {
    // Every entry starts in this turn, so each node gets its share in one write.
    const settled = await Promise.allSettled(this.entries.map((entry) => entry.run()));
    const results: PipelineResult = settled.map((r) => (r.status === "fulfilled" ? [null, r.value] : [r.reason as Error, undefined]));
    this.entries.forEach((entry, i) => entry.callback?.(results[i]![0], results[i]![1]));
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

installChainable(ShardedPipeline, new Set(["exec"]));
