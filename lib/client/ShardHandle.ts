/**
 * client.shard(name): one shard's master, for keyless commands (INFO,
 * DBSIZE, FLUSHDB, KEYS, SCAN, ...) and scripts without keys. Commands go
 * unrouted through the same shared, auto-pipelined connection and deadlines
 * as routed ones; blocking ones (WAIT, ...) through the shard's pool.
 */
import { inspect } from "node:util";
import type { Readable } from "node:stream";
import type { RedisCommander } from "ioredis";
import { DISPATCH, installCommands, withCallback, type Callback, type Dispatcher, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { Executor } from "../exec/Executor.js";
import type { ShardedTransaction, TransactionTarget } from "../pipeline/Transaction.js";
import { scanStream, type ScanStreamOptions } from "../scan/scanStream.js";
import { ClientClosedError } from "../errors.js";

export interface ShardHandle extends Omit<RedisCommander, "quit" | "multi"> {}

export class ShardHandle implements Dispatcher, ScriptRunner {
  constructor(
    private readonly executor: Executor,
    private readonly index: number,
    private readonly transaction: (target: TransactionTarget) => ShardedTransaction,
  ) {}

  /** The shard's name. */
  get name(): string {
    return this.executor.shardName(this.index);
  }

  /** "host:port" of the shard's master right now; undefined while Sentinel has not named it. */
  get master(): string | undefined {
    return this.executor.master(this.index)?.id;
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.executor.runUnrouted(this.index, name, args, encoding);
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): Promise<unknown> {
    return withCallback(this.executor.runScript(script, args, encoding, this.executor.defaults, this.index), callback);
  }

  /** A MULTI/EXEC block on this shard; keys are not checked against the shard. */
  multi(): ShardedTransaction {
    return this.transaction({
      checkOpen: () => {
        if (this.executor.closed) throw new ClientClosedError();
      },
      shardOf: () => this.index,
      node: () => this.executor.masterWhenPlaced(this.index),
      timeoutMs: this.executor.defaults.timeoutMs,
      tracing: this.executor.tracing,
      multi: this.executor.multiGuard,
    });
  }

  /** This shard's keys, as arrays, like ioredis's scanStream. */
  scanStream(options: ScanStreamOptions = {}): Readable {
    return scanStream([this.scanner<string>("utf8")], options);
  }

  scanBufferStream(options: ScanStreamOptions = {}): Readable {
    return scanStream([this.scanner<Buffer>(null)], options);
  }

  /** @internal one SCAN call on this shard */
  scanner<K>(encoding: Encoding) {
    return (cursor: string, args: Array<string | number>) =>
      this.executor.runUnrouted(this.index, "scan", [cursor, ...args], encoding) as Promise<[string, K[]]>;
  }

  [inspect.custom](): string {
    return `ShardHandle { name: ${this.name}, master: ${this.master ?? "(not yet known)"} }`;
  }
}

installCommands(ShardHandle, new Set(["quit", "multi"]));
