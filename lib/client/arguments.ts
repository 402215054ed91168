/** How the client reads ioredis-style arguments that are not plain command arguments. */
import type { CallOptions } from "../config/callOptions.js";
import { InvalidArgumentError } from "../errors.js";
import { popCallback, withCallback } from "../commands/install.js";

/** MGET's trailing `{ partial }` option, split off its keys (the callback already popped); throws InvalidArgumentError for other options. */
export function mgetOptions(args: unknown[], defaults: CallOptions): CallOptions {
  const last = args[args.length - 1];
  if (typeof last !== "object" || last === null || Array.isArray(last) || Buffer.isBuffer(last)) return defaults;
  args.pop();
  const { partial, ...rest } = last as { partial?: unknown };
  if (Object.keys(rest).length || (partial !== undefined && typeof partial !== "boolean")) {
    throw new InvalidArgumentError("mget options are { partial?: boolean }");
  }
  return partial ? { ...defaults, partial: true } : defaults;
}

/** shardis's own handler form of the (un)subscribe methods: `subscribe(channel, { handler })`. */
export interface ListenOptions<H> {
  /** Gets the messages of these channels (or patterns) instead of the client's "message" events. */
  handler: H;
}

/**
 * (Un)subscribe arguments as ioredis reads them: channel or pattern names
 * (arrays flattened) and a trailing node-style callback `(error, count)`;
 * or shardis's trailing `{ handler }`. Errors reject (and reach the
 * callback), never throw.
 */
export function listening(
  args: unknown[],
  run: (names: Array<string | Buffer>, handler: Function | undefined) => Promise<number>,
  namesOptional = false,
): Promise<number> {
  const callback = popCallback(args);
  try {
    const handler = handlerOption(args);
    const names = args.flat() as Array<string | Buffer>;
    if (names.length === 0 && !namesOptional) throw new InvalidArgumentError("subscribe needs at least one channel or pattern");
    return withCallback(run(names, handler), callback);
  } catch (error) {
    return withCallback(Promise.reject(error), callback);
  }
}

/** Pops a trailing `{ handler }`; throws InvalidArgumentError when its handler is not a function. */
function handlerOption(args: unknown[]): Function | undefined {
  const last = args[args.length - 1];
  if (typeof last !== "object" || last === null || Array.isArray(last) || Buffer.isBuffer(last)) return undefined;
  args.pop();
  const { handler } = last as { handler?: unknown };
  if (typeof handler !== "function") throw new InvalidArgumentError("subscribe options are { handler: (message, channel) => ... }");
  return handler;
}

/** pipeline()'s arguments, as ioredis takes them: options, or the commands as an array then options. */
export function pipelineArguments(first: unknown, second: unknown): { commands: unknown[][] | undefined; partial: boolean } {
  const commands = Array.isArray(first) ? (first as unknown[][]) : undefined;
  const options = (Array.isArray(first) ? second : first) ?? {};
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError("pipeline(options) takes { partial?: boolean }");
  const partial = (options as { partial?: unknown }).partial ?? true;
  if (typeof partial !== "boolean") throw new InvalidArgumentError("pipeline({ partial }) must be true or false");
  return { commands, partial };
}
