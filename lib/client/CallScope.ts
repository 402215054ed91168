/**
 * client.with({ timeoutMs, idempotent }): the client's commands with
 * per-call settings. Cheap to create; hold one or make one per call.
 */
import { inspect } from "node:util";
import type { RedisCommander } from "ioredis";
import { DISPATCH, installCommands, type Dispatcher, type Encoding } from "../commands/install.js";
import type { CallOptions } from "../config/callOptions.js";
import type { Executor } from "../exec/Executor.js";

type Omitted = "quit" | "multi" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe";

export interface CallScope extends Omit<RedisCommander, Omitted> {}

export class CallScope implements Dispatcher {
  constructor(
    private readonly executor: Executor,
    /** The settings every command of this scope runs with. */
    readonly options: CallOptions,
  ) {}

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.executor.run(name, args, encoding, this.options);
  }

  [inspect.custom](): string {
    return `CallScope { timeoutMs: ${this.options.timeoutMs}, idempotent: ${this.options.idempotent} }`;
  }
}

installCommands(CallScope, new Set(["quit", "multi", "subscribe", "unsubscribe", "psubscribe", "punsubscribe"]));
