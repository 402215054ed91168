/**
 * What lets a ShardedClient stand in for an ioredis client in libraries
 * written for ioredis. Some check `client instanceof Redis` (bentocache,
 * @boringnode/bus), so the client's prototype chain goes through
 * Redis.prototype; every member of it that is not a command and that
 * shardis does not implement answers with a clear error instead of running
 * ioredis internals on a client that has no single connection. `options`
 * reads like ioredis's (client/options.ts), and duplicate() takes ioredis's
 * connection options.
 */
import { list } from "@ioredis/commands";
import { EventEmitter } from "node:events";
import { Redis, type Command } from "ioredis";
import type { ShardedClientOptions, RedisConnectionOptions } from "../config/types.js";
export { ioredisOptions, withHidden, type IoredisView } from "./options.js";
import { REDIS_ALIASES, REDIS_FIELDS } from "../config/resolve.js";
import { TOP_LEVEL_FIELDS } from "../config/resolve.js";
import { ConfigError, UnsupportedCommandError } from "../errors.js";
import { IGNORED_REDIS_FIELDS } from "../config/ignoredRedisFields.js";

/** ioredis internals that answer harmlessly instead of refusing. */
const HARMLESS: Record<string, PropertyDescriptor> = {
  mode: { get: () => "normal" },
  autoPipelineQueueSize: { get: () => 0 },
  // The command names, as ioredis lists them (libraries check a command exists before calling it).
  getBuiltinCommands: { writable: true, value: () => list.filter((name) => name !== "monitor") },
};

/** ioredis names for what the client already has. */
// send_command is call in ioredis (socket.io's redis adapter sends with it), not sendCommand(Command).
const ALIASES: Record<string, string> = { end: "disconnect", send_command: "call" };

/**
 * Makes `client instanceof Redis` true for instances of `Client`, and fills
 * every non-command member of Redis.prototype it lacks: an alias, a harmless
 * value, or a method that rejects with UnsupportedCommandError.
 */
export function adoptRedisIdentity(Client: { prototype: object }): void {
  const own = Client.prototype;
  const commands = new Set(list.flatMap((name) => [name, `${name}Buffer`]));
  const emitter = new Set(Object.getOwnPropertyNames(EventEmitter.prototype));
  for (let proto: object | null = Redis.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (commands.has(name) || emitter.has(name) || name === "constructor" || name.startsWith("_events") || name === "_maxListeners") continue;
      if (Object.hasOwn(own, name)) continue;
      if (HARMLESS[name]) Object.defineProperty(own, name, { ...HARMLESS[name], configurable: true });
      else if (ALIASES[name]) Object.defineProperty(own, name, { configurable: true, writable: true, value: (own as Record<string, unknown>)[ALIASES[name]!] });
      else Object.defineProperty(own, name, { configurable: true, writable: true, value: refused(name) });
    }
  }
  // Last, so the loop above saw only what the client defines itself. EventEmitter methods come through Redis.prototype's copies.
  Object.setPrototypeOf(own, Redis.prototype);
}

function refused(name: string) {
  return function (): never {
    throw new UnsupportedCommandError(name, "it is part of ioredis's single-connection internals; a sharded client has none (use client.shard(name) for one shard)");
  };
}


/**
 * The options of a duplicate: this client's, overridden by `override`, which
 * may hold ShardedClientOptions fields or ioredis connection options
 * (`connectionName`, `password`, ...; they go under `redis`).
 */
export function duplicateOptions(input: ShardedClientOptions, override: unknown): ShardedClientOptions {
  if (override === undefined) return input;
  if (typeof override !== "object" || override === null || Array.isArray(override)) {
    throw new ConfigError([`duplicate(options) takes an object of client or connection options`]);
  }
  const top: Record<string, unknown> = {};
  const redis: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(override)) {
    if (TOP_LEVEL_FIELDS.includes(key)) top[key] = value;
    else if (Object.hasOwn(REDIS_FIELDS, key)) redis[key] = value;
    else if (Object.hasOwn(IGNORED_REDIS_FIELDS, key)) redis[key] = value; // accepted, and warned about, by the options' resolution
    else if (Object.hasOwn(REDIS_ALIASES, key)) top[REDIS_ALIASES[key]!] = value; // ioredis's commandTimeout, lazyConnect
    else problems.push(`duplicate(): '${key}' is neither a shardis option nor a connection option shardis lets you set`);
  }
  if (problems.length) throw new ConfigError(problems);
  const merged: Record<string, unknown> = { ...input.redis, ...(top.redis as RedisConnectionOptions | undefined), ...redis };
  // An option given again at the top level replaces the client's ioredis-style one under redis.
  for (const [alias, field] of Object.entries(REDIS_ALIASES)) if (top[field] !== undefined) delete merged[alias];
  return { ...input, ...top, redis: merged as RedisConnectionOptions };
}

/**
 * client.sendCommand(new Command(...)), as ioredis has it: the command is
 * routed like any other; its raw reply is handed to the caller's Command,
 * which transforms it once, as ioredis would have.
 */
export function sendForeign(command: Command, run: (name: string, args: unknown[]) => Promise<unknown>): Promise<unknown> {
  run(String(command.name).toLowerCase(), [...command.args]).then(
    (reply) => command.resolve(reply),
    (error: Error) => command.reject(error),
  );
  return command.promise;
}
