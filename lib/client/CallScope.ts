/**
 * client.with({ timeoutMs, idempotent, readFrom, writeConcern }): the
 * client's commands and defined scripts with per-call settings. Cheap to
 * create; hold one or make one per call.
 */
import { inspect } from "node:util";
import { DISPATCH, installCommands, withCallback, type Callback, type Dispatcher, type Encoding } from "../commands/install.js";
import { RUN_SCRIPT, type Script, type ScriptRunner } from "../commands/script.js";
import type { ShardedCommander } from "../commands/surface.js";
import type { CallOptions } from "../config/callOptions.js";
import type { Executor } from "../exec/Executor.js";

type Omitted = "quit" | "multi" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "scan" | "scanBuffer";

export interface CallScope extends ShardedCommander<Omitted> {}

export class CallScope implements Dispatcher, ScriptRunner {
  constructor(
    private readonly executor: Executor,
    /** The settings every command of this scope runs with. */
    readonly options: CallOptions,
  ) {}

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.executor.run(name, args, encoding, this.options);
  }

  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): Promise<unknown> {
    return withCallback(this.executor.runScript(script, args, encoding, this.options), callback);
  }

  [inspect.custom](): string {
    const { timeoutMs, idempotent, readFrom } = this.options;
    return `CallScope { timeoutMs: ${timeoutMs}, idempotent: ${idempotent}, readFrom: ${readFrom} }`;
  }
}

installCommands(CallScope, new Set(["quit", "multi", "subscribe", "unsubscribe", "psubscribe", "punsubscribe"]));
