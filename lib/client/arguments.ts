/** How the client reads ioredis-style arguments that are not plain command arguments. */
import type { CallOptions } from "../config/callOptions.js";
import { InvalidArgumentError } from "../errors.js";

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

/**
 * (Un)subscribe arguments: channel or pattern names (arrays flattened, as
 * ioredis does) and a trailing handler. Errors reject, never throw.
 */
export function listening(
  args: unknown[],
  run: (names: Array<string | Buffer>, handler: Function | undefined) => Promise<number>,
  namesOptional = false,
): Promise<number> {
  const handler = typeof args[args.length - 1] === "function" ? (args.pop() as Function) : undefined;
  const names = args.flat() as Array<string | Buffer>;
  if (names.length === 0 && !namesOptional) return Promise.reject(new InvalidArgumentError("subscribe needs at least one channel or pattern"));
  try {
    return run(names, handler);
  } catch (error) {
    return Promise.reject(error);
  }
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
