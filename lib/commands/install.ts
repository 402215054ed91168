/**
 * Gives a class every Redis command as a method (`get`, `getBuffer`, `hset`,
 * ... and `call`), the way ioredis does, each forwarding to the class's
 * DISPATCH method. Types come from ioredis's RedisCommander interface.
 */
import { list } from "@ioredis/commands";
import { InvalidArgumentError } from "../errors.js";

export const DISPATCH = Symbol("shardis.dispatch");

export type Encoding = "utf8" | null;

export interface Dispatcher {
  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown>;
}

export type Callback = (error: Error | null, result?: unknown) => void;

export function installCommands(target: { prototype: Dispatcher }, skip: ReadonlySet<string>): void {
  install(target.prototype as unknown as Record<string, unknown>, skip, commandMethod, callMethod);
}

/** A builder that queues commands (pipeline, transaction): its DISPATCH queues, and methods return the builder. */
export interface Chainable {
  [QUEUE](name: string, args: unknown[], encoding: Encoding, callback: Callback | undefined): void;
}

export const QUEUE = Symbol("shardis.queue");

export function installChainable(target: { prototype: Chainable }, skip: ReadonlySet<string>): void {
  install(target.prototype as unknown as Record<string, unknown>, skip, chainMethod, chainCallMethod);
}

/** The plain command methods installed here: a script may take their names (ioredis lets defineCommand("echo") replace echo). */
const COMMAND_METHODS = new WeakSet<object>();

/** Whether `value` is a plain command method installed here (not one a class implements itself, such as quit or multi). */
export function isCommandMethod(value: unknown): boolean {
  return typeof value === "function" && COMMAND_METHODS.has(value);
}

function install(
  proto: Record<string, unknown>,
  skip: ReadonlySet<string>,
  method: (name: string, encoding: Encoding) => Function,
  call: (encoding: Encoding) => unknown,
): void {
  for (const name of list) {
    if (skip.has(name)) continue;
    for (const [key, encoding] of [[name, "utf8"], [`${name}Buffer`, null]] as const) {
      const fn = method(name, encoding);
      COMMAND_METHODS.add(fn);
      proto[key] = fn;
    }
  }
  proto.call = call("utf8");
  proto.callBuffer = call(null);
}

function chainMethod(name: string, encoding: Encoding) {
  return function <T extends Chainable>(this: T, ...args: unknown[]): T {
    const callback = popCallback(args);
    this[QUEUE](name, args, encoding, callback);
    return this;
  };
}

function chainCallMethod(encoding: Encoding) {
  return function <T extends Chainable>(this: T, name: unknown, ...args: unknown[]): T {
    const callback = popCallback(args);
    this[QUEUE](commandName(name), args, encoding, callback);
    return this;
  };
}

function commandMethod(name: string, encoding: Encoding) {
  return function (this: Dispatcher, ...args: unknown[]): Promise<unknown> {
    const callback = popCallback(args);
    return withCallback(this[DISPATCH](name, args, encoding), callback);
  };
}

function callMethod(encoding: Encoding) {
  return function (this: Dispatcher, name: unknown, ...args: unknown[]): Promise<unknown> {
    const callback = popCallback(args);
    return withCallback(this[DISPATCH](commandName(name), args, encoding), callback);
  };
}

/** Lower-cased, so call("HGETALL") gets the same argument and reply handling as hgetall(). */
function commandName(name: unknown): string {
  return typeof name === "string" ? name.toLowerCase() : String(name);
}

/**
 * Queues ioredis's batch form, `pipeline([["set", "k", "v"], ["get", "k"]])`:
 * each entry runs through the builder's own method (commands, `...Buffer`
 * variants, defined scripts), any other name through `call`. Checked before
 * anything is queued: a malformed batch throws and queues nothing.
 */
export function addBatch(builder: object, commands: unknown, what: string): void {
  if (!Array.isArray(commands)) throw new InvalidArgumentError(`${what}(commands) takes an array of [name, ...args] arrays`);
  const methods = builder as Record<string, unknown>;
  const steps = commands.map((entry: unknown, i) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || entry[0] === "") {
      throw new InvalidArgumentError(`${what}(commands): entry ${i} must be [name, ...args] with a command name (got ${describeEntry(entry)})`);
    }
    const [name, ...args] = entry as [string, ...unknown[]];
    const method = BATCH_EXCLUDED.has(name) ? undefined : methods[name];
    return typeof method === "function" ? () => method.apply(builder, args) : () => (methods.call as (...a: unknown[]) => unknown).call(builder, name, ...args);
  });
  for (const step of steps) step();
}

/** Builder members that are not commands, never reached through a batch entry. */
const BATCH_EXCLUDED = new Set(["exec", "constructor", "length"]);

function describeEntry(entry: unknown): string {
  if (Array.isArray(entry)) return `[${entry.length ? typeof entry[0] : ""}]`;
  return entry === null ? "null" : typeof entry;
}

export function popCallback(args: unknown[]): Callback | undefined {
  return typeof args[args.length - 1] === "function" ? (args.pop() as Callback) : undefined;
}

export function withCallback<T>(promise: Promise<T>, callback: Callback | undefined): Promise<T> {
  // Handling the promise here also marks it handled, so callback users see no unhandled rejection.
  if (callback) promise.then((result) => nodeback(callback, null, result), (error: Error) => nodeback(callback, error));
  return promise;
}

/**
 * Calls a node-style callback as ioredis does (standard-as-callback): what
 * it throws is rethrown outside the promise chain, an uncaught exception as
 * in ioredis, not an unhandled rejection of a promise nobody holds.
 */
export function nodeback(callback: Callback, error: Error | null, result?: unknown): void {
  try {
    if (error) callback(error);
    else callback(null, result);
  } catch (thrown) {
    setTimeout(() => {
      throw thrown;
    }, 0);
  }
}
