/**
 * What lets a ShardedClient stand in for an ioredis client in libraries
 * written for ioredis. Some check `client instanceof Redis` (bentocache,
 * @boringnode/bus), so the client's prototype chain goes through
 * Redis.prototype; every member of it that is not a command and that
 * shardis does not implement answers with a clear error instead of running
 * ioredis internals on a client that has no single connection. `options`
 * reads like ioredis's (libraries read keyPrefix and maxRetriesPerRequest),
 * and duplicate() takes ioredis's connection options.
 */
import { list } from "@ioredis/commands";
import { EventEmitter } from "node:events";
import { Redis, type Command } from "ioredis";
import type { ShardedClientOptions, RedisConnectionOptions } from "../config/types.js";
import { REDIS_FIELDS } from "../config/resolve.js";
import { TOP_LEVEL_FIELDS } from "../config/resolve.js";
import { ConfigError, UnsupportedCommandError } from "../errors.js";

/** ioredis internals that answer harmlessly instead of refusing. */
const HARMLESS: Record<string, PropertyDescriptor> = {
  mode: { get: () => "normal" },
  autoPipelineQueueSize: { get: () => 0 },
};

/** ioredis names for what the client already has. */
const ALIASES: Record<string, string> = { end: "disconnect", send_command: "sendCommand" };

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

/** Fields of tls.connect() options that are secrets: the private key, its passphrase, a PKCS#12 bundle. */
const TLS_SECRETS = ["key", "passphrase", "pfx"];

/**
 * A copy of `object` whose `secrets` are readable by name but not
 * enumerable: util.inspect, JSON.stringify, loggers and Object.keys leave
 * them out (a spread copy does too: read them by name).
 */
export function withHidden<T extends object>(object: T, secrets: readonly string[]): T {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    Object.defineProperty(copy, key, { value, enumerable: !secrets.includes(key), writable: false, configurable: false });
  }
  return Object.freeze(copy) as T;
}

/** Connection options as client.options shows them: the password and tls secrets hidden, the tls object copied. */
function connectionView<T extends { tls?: unknown }>(options: T): T {
  const tls = typeof options.tls === "object" && options.tls !== null ? withHidden(options.tls, TLS_SECRETS) : options.tls;
  return withHidden({ ...options, ...(options.tls !== undefined && { tls }) }, ["password"]);
}

/**
 * What `client.options` shows: the client's options, plus the fields
 * libraries read off an ioredis client's (keyPrefix, maxRetriesPerRequest,
 * and username, password and tls as in `redis`). Secrets (passwords, TLS
 * keys and passphrases) stay readable by name but are not enumerable, so
 * nothing that prints the options prints them.
 */
export function ioredisOptions(input: ShardedClientOptions): Readonly<ShardedClientOptions & IoredisView> {
  const redis = input.redis && connectionView(input.redis);
  const sentinelOptions = input.sentinelOptions && connectionView(input.sentinelOptions);
  // keyPrefix: shardis has none (libraries prefix with it). maxRetriesPerRequest: commands are bounded by their deadline.
  const view: Record<string, unknown> = { ...input, ...(redis && { redis }), ...(sentinelOptions && { sentinelOptions }), keyPrefix: "", maxRetriesPerRequest: null };
  if (redis?.username !== undefined) view.username = redis.username;
  if (redis?.tls !== undefined) view.tls = redis.tls;
  if (redis?.password !== undefined) view.password = redis.password;
  return withHidden(view, ["password"]) as Readonly<ShardedClientOptions & IoredisView>;
}

/** The ioredis option fields client.options adds to the client's own. */
export interface IoredisView {
  readonly keyPrefix: "";
  readonly maxRetriesPerRequest: null;
  /** As `redis.username`. */
  readonly username?: string;
  /** As `redis.password`; not enumerable. */
  readonly password?: string;
  /** As `redis.tls`; its key, passphrase and pfx are not enumerable. */
  readonly tls?: RedisConnectionOptions["tls"];
}

/** ioredis options that ask for what shardis does anyway: accepted by duplicate() and ignored. */
const ALREADY_SO: Record<string, unknown> = { maxRetriesPerRequest: null, enableAutoPipelining: false, enableOfflineQueue: false };

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
    else if (Object.hasOwn(ALREADY_SO, key) && ALREADY_SO[key] === value) continue;
    else problems.push(`duplicate(): '${key}' is neither a shardis option nor a connection option shardis lets you set`);
  }
  if (problems.length) throw new ConfigError(problems);
  return { ...input, ...top, redis: { ...input.redis, ...(top.redis as RedisConnectionOptions | undefined), ...redis } };
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
