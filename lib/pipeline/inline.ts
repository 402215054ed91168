/**
 * ioredis's inline transaction, pipeline().set(...).multi().incr(...).exec().get(...).exec():
 * the commands between multi() and exec() form one MULTI/EXEC block (a
 * ShardedTransaction, so its keys must share a shard) sent with the rest of
 * the pipeline. Its pipeline entries read as ioredis's: "OK" for MULTI,
 * "QUEUED" (or the refusal) per command, and EXEC's replies as one array.
 */
import { QUEUE, type Callback, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script } from "../commands/script.js";
import type { PipelineResult, ShardedTransaction } from "./Transaction.js";

/** One pipeline entry: what it runs at exec() and its own callback. */
export interface InlineEntry {
  readonly run: () => Promise<unknown>;
  readonly callback: Callback | undefined;
}

export class InlineTransaction {
  private outcome: Promise<PipelineResult | null> | undefined;

  constructor(private readonly transaction: ShardedTransaction) {}

  /** The MULTI entry: "OK" when the server opened the block (also when it then refused it: EXECABORT). */
  opened(callback: Callback | undefined): InlineEntry {
    return {
      run: () =>
        this.start().then(
          () => "OK",
          (error: Error) => {
            if (error.name === "ReplyError" && error.message.startsWith("EXECABORT")) return "OK";
            throw error;
          },
        ),
      callback,
    };
  }

  /** A command inside the block: settles with the server's answer to queueing it. */
  add(name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): InlineEntry {
    const queued = this.queued((settle) => this.transaction[QUEUE](name, args, encoding, settle));
    return { run: () => (this.start(), queued), callback };
  }

  addScript(script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): InlineEntry {
    const queued = this.queued((settle) => this.transaction[RUN_SCRIPT](script, args, encoding, settle));
    return { run: () => (this.start(), queued), callback };
  }

  /** The EXEC entry: EXEC's replies as one array (a failed command's Error in its place), or null when a WATCHed key changed. */
  closed(callback: Callback | undefined): InlineEntry {
    return {
      run: () => this.start().then((results) => results && results.map(([error, value]) => error ?? value)),
      callback,
    };
  }

  /** Runs the block once, whichever entry asks first (all are asked in the same turn). */
  private start(): Promise<PipelineResult | null> {
    return (this.outcome ??= this.transaction.exec());
  }

  private queued(enqueue: (settle: Callback) => void): Promise<unknown> {
    let settle!: Callback;
    const reply = new Promise((resolve, reject) => (settle = (error, value) => (error ? reject(error) : resolve(value))));
    enqueue(settle);
    return reply;
  }
}
