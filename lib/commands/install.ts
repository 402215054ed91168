/**
 * Gives a class every Redis command as a method (`get`, `getBuffer`, `hset`,
 * ... and `call`), the way ioredis does, each forwarding to the class's
 * DISPATCH method. Types come from ioredis's RedisCommander interface.
 */
import { list } from "@ioredis/commands";

export const DISPATCH = Symbol("shardis.dispatch");

export type Encoding = "utf8" | null;

export interface Dispatcher {
  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown>;
}

type Callback = (error: Error | null, result?: unknown) => void;

export function installCommands(target: { prototype: Dispatcher }, skip: ReadonlySet<string>): void {
  const proto = target.prototype as unknown as Record<string, unknown>;
  for (const name of list) {
    if (skip.has(name)) continue;
    proto[name] = commandMethod(name, "utf8");
    proto[`${name}Buffer`] = commandMethod(name, null);
  }
  proto.call = callMethod("utf8");
  proto.callBuffer = callMethod(null);
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
    // Lower-case so call("HGETALL") gets the same argument and reply handling as hgetall().
    const command = typeof name === "string" ? name.toLowerCase() : String(name);
    return withCallback(this[DISPATCH](command, args, encoding), callback);
  };
}

function popCallback(args: unknown[]): Callback | undefined {
  return typeof args[args.length - 1] === "function" ? (args.pop() as Callback) : undefined;
}

function withCallback(promise: Promise<unknown>, callback: Callback | undefined): Promise<unknown> {
  // Handling the promise here also marks it handled, so callback users see no unhandled rejection.
  if (callback) promise.then((result) => callback(null, result), (error: Error) => callback(error));
  return promise;
}
