/**
 * The objects one client hands out (scopes, shard handles, pipelines,
 * transactions, dedicated connections), each from a subclass of its own, so
 * a script defined with defineCommand() appears on every one of them, made
 * before or after, through one installer. Scripts live here, in one place.
 */
import { installScript, Script, type ScriptDefinition } from "../commands/script.js";
import { isCommandMethod } from "../commands/install.js";
import type { CallOptions } from "../config/callOptions.js";
import type { NodeClient } from "../connection/NodeClient.js";
import type { Executor } from "../exec/Executor.js";
import { ShardedPipeline, type PipelineRunner } from "../pipeline/Pipeline.js";
import { ShardedTransaction, type TransactionTarget } from "../pipeline/Transaction.js";
import { CallScope } from "./CallScope.js";
import { DedicatedConnection } from "./DedicatedConnection.js";
import { ShardHandle } from "./ShardHandle.js";

/** Names that change what a value is to the language or to common tools: a `then` method makes the client a thenable. */
const RESERVED = new Set(["then", "catch", "finally", "constructor", "__proto__", "prototype", "toJSON", "inspect"]);

export class Facades {
  private readonly Scope = class extends CallScope {};
  private readonly Handle = class extends ShardHandle {};
  private readonly Pipeline = class extends ShardedPipeline {};
  private readonly Transaction = class extends ShardedTransaction {};
  private readonly Dedicated = class extends DedicatedConnection {};
  private readonly scripts = new Map<string, Script>();
  private readonly handles = new Map<number, ShardHandle>();

  constructor(
    /** The client's executor now (a client opened again after quit() has a new one). */
    private readonly current: () => Executor,
    /** The client itself: scripts become its own methods too. */
    private readonly client: object,
  ) {}

  private get executor(): Executor {
    return this.current();
  }

  /** The client was opened again: shard handles are made anew, on the new connections. */
  reopened(): void {
    this.handles.clear();
  }

  /**
   * Validates and installs a script everywhere; throws InvalidArgumentError for a bad definition, ConfigError for a
   * name the client or any facade already has (or one `await`, `JSON.stringify` and the like give meaning to).
   */
  define(name: string, definition: ScriptDefinition): Script {
    const owners = [this.client, this.Scope.prototype, this.Handle.prototype, this.Pipeline.prototype, this.Transaction.prototype, this.Dedicated.prototype];
    // A plain command's name may be taken, as in ioredis (its README defines "echo"); quit, multi, exec and the like may not.
    const used = (n: string) => RESERVED.has(n) || owners.some((owner) => n in owner && !isCommandMethod((owner as Record<string, unknown>)[n]));
    const taken = (n: string) => this.scripts.has(n) || used(n) || used(`${n}Buffer`);
    const script = Script.define(name, definition, taken, (shard) => this.executor.shardIndex(shard));
    this.scripts.set(script.name, script);
    for (const target of [this.client, this.Scope.prototype, this.Handle.prototype, this.Pipeline.prototype, this.Transaction.prototype, this.Dedicated.prototype]) {
      installScript(target, script);
    }
    return script;
  }

  scope(options: CallOptions): CallScope {
    return new this.Scope(this.executor, options);
  }

  /** One handle per shard, kept. */
  handle(index: number): ShardHandle {
    let handle = this.handles.get(index);
    if (!handle) this.handles.set(index, (handle = new this.Handle(this.executor, index, (target) => this.transaction(target))));
    return handle;
  }

  pipeline(runner: PipelineRunner, partial: boolean): ShardedPipeline {
    // As ioredis's pipeline.options: the client's.
    return new this.Pipeline({ options: (this.client as { options?: object }).options, ...runner }, partial);
  }

  transaction(target: TransactionTarget): ShardedTransaction {
    return new this.Transaction(target);
  }

  /** Runs fn with a dedicated connection to the shard's master, released (a WATCH or MULTI left cleared) when fn settles. */
  lend<T>(shard: number, fn: (conn: DedicatedConnection) => Promise<T>): Promise<T> {
    return this.executor.withPooled(shard, async (node) => {
      const conn = this.dedicated(shard, node);
      try {
        return await fn(conn);
      } finally {
        await conn.release();
      }
    });
  }

  dedicated(shard: number, node: NodeClient): DedicatedConnection {
    return new this.Dedicated(this.executor, shard, node, (target) => this.transaction(target));
  }
}
