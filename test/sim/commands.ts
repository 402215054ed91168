/**
 * The commands a simulated node answers, on its Keyspace, with Redis's
 * replies and errors (as ioredis's parser hands them over: Buffers for bulk
 * strings, numbers, "OK"-style status strings, arrays, null, ReplyError).
 * Enough of Redis for the simulation's workload and for everything shardis
 * sends on its own; anything else is "ERR unknown command", so a command
 * the model lacks shows up as a failure, never as a silent wrong answer.
 */
import { ReplyError } from "ioredis";
import type { Keyspace, Value } from "./keyspace.js";

/** Arguments as latin1 strings of their bytes (binary-safe). */
export type Args = readonly string[];

/** What a reply can be; a Promise for commands that block (WAIT). */
export type Reply = null | number | string | Buffer | Error | Reply[] | Promise<Reply>;

export interface CommandContext {
  readonly keys: Keyspace;
  /** Reads of this connection, for client tracking (undefined: tracking off). */
  tracked?(key: string): void;
}

export const bulk = (value: string): Buffer => Buffer.from(value, "latin1");
export const err = (message: string): Error => new ReplyError(message) as Error;

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER = "ERR value is not an integer or out of range";
const SYNTAX = "ERR syntax error";

/** Commands that change data: refused on a replica (READONLY), replicated from a master, counted for WATCH. */
export const WRITES = new Set([
  "set", "del", "unlink", "incr", "incrby", "decr", "decrby", "mset", "hset", "hdel", "hincrby",
  "rpush", "lpush", "expire", "pexpire", "getdel", "flushall", "flushdb",
]);

type Handler = (args: Args, ctx: CommandContext) => Reply;

function integer(text: string | undefined): number {
  if (text === undefined || !/^-?\d+$/.test(text)) throw err(NOT_INTEGER);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw err(NOT_INTEGER);
  return n;
}

function read(ctx: CommandContext, key: string, type: Value["type"]): Value | undefined {
  ctx.tracked?.(key);
  const value = ctx.keys.get(key);
  if (value && value.type !== type) throw err(WRONGTYPE);
  return value;
}

function str(ctx: CommandContext, key: string): string | undefined {
  return (read(ctx, key, "string") as { value: string } | undefined)?.value;
}

function incrBy(ctx: CommandContext, key: string, by: number): number {
  const current = str(ctx, key);
  const base = current === undefined ? 0 : integer(current);
  const next = base + by;
  if (!Number.isSafeInteger(next)) throw err("ERR increment or decrement would overflow");
  ctx.keys.set(key, { type: "string", value: String(next) }, ctx.keys.expiresAt(key) ?? Infinity);
  return next;
}

const HANDLERS: Record<string, Handler> = {
  ping: (args) => (args.length ? bulk(args[0]!) : "PONG"),
  echo: (args) => bulk(args[0] ?? ""),
  get: ([key], ctx) => {
    const value = str(ctx, key!);
    return value === undefined ? null : bulk(value);
  },
  getdel: ([key], ctx) => {
    const value = str(ctx, key!);
    if (value !== undefined) ctx.keys.delete(key!);
    return value === undefined ? null : bulk(value);
  },
  set: ([key, value, ...options], ctx) => {
    let expiresAt = Infinity;
    let mode: "nx" | "xx" | undefined;
    let keepTtl = false;
    let get = false;
    for (let i = 0; i < options.length; i++) {
      const option = options[i]!.toLowerCase();
      if (option === "px" || option === "ex") {
        const n = integer(options[++i]);
        if (n <= 0) throw err("ERR invalid expire time in 'set' command");
        expiresAt = Date.now() + (option === "ex" ? n * 1000 : n);
      } else if (option === "nx" || option === "xx") mode = option;
      else if (option === "keepttl") keepTtl = true;
      else if (option === "get") get = true;
      else throw err(SYNTAX);
    }
    const current = ctx.keys.get(key!);
    if (get && current && current.type !== "string") throw err(WRONGTYPE);
    const previous = current?.type === "string" ? bulk(current.value) : null;
    if ((mode === "nx" && current) || (mode === "xx" && !current)) return get ? previous : null;
    if (keepTtl) expiresAt = ctx.keys.expiresAt(key!) ?? Infinity;
    ctx.keys.set(key!, { type: "string", value: value! }, expiresAt);
    return get ? previous : "OK";
  },
  del: (keys, ctx) => keys.reduce((n, key) => n + (ctx.keys.delete(key) ? 1 : 0), 0),
  unlink: (keys, ctx) => keys.reduce((n, key) => n + (ctx.keys.delete(key) ? 1 : 0), 0),
  exists: (keys, ctx) =>
    keys.reduce((n, key) => {
      ctx.tracked?.(key);
      return n + (ctx.keys.get(key) ? 1 : 0);
    }, 0),
  incr: ([key], ctx) => incrBy(ctx, key!, 1),
  decr: ([key], ctx) => incrBy(ctx, key!, -1),
  incrby: ([key, by], ctx) => incrBy(ctx, key!, integer(by)),
  decrby: ([key, by], ctx) => incrBy(ctx, key!, -integer(by)),
  mget: (keys, ctx) =>
    keys.map((key) => {
      ctx.tracked?.(key);
      const value = ctx.keys.get(key);
      return value?.type === "string" ? bulk(value.value) : null;
    }),
  mset: (args, ctx) => {
    if (args.length === 0 || args.length % 2) throw err("ERR wrong number of arguments for 'mset' command");
    for (let i = 0; i < args.length; i += 2) ctx.keys.set(args[i]!, { type: "string", value: args[i + 1]! });
    return "OK";
  },
  pexpire: ([key, ms], ctx) => (ctx.keys.expire(key!, Date.now() + integer(ms)) ? 1 : 0),
  expire: ([key, s], ctx) => (ctx.keys.expire(key!, Date.now() + integer(s) * 1000) ? 1 : 0),
  pttl: ([key], ctx) => {
    const at = ctx.keys.expiresAt(key!);
    return at === undefined ? -2 : at === Infinity ? -1 : Math.max(0, at - Date.now());
  },
  ttl: ([key], ctx) => {
    const at = ctx.keys.expiresAt(key!);
    return at === undefined ? -2 : at === Infinity ? -1 : Math.max(0, Math.round((at - Date.now()) / 1000));
  },
  hset: ([key, ...pairs], ctx) => {
    if (pairs.length === 0 || pairs.length % 2) throw err("ERR wrong number of arguments for 'hset' command");
    const hash = hashOf(ctx, key!, true)!;
    let added = 0;
    for (let i = 0; i < pairs.length; i += 2) {
      if (!hash.has(pairs[i]!)) added++;
      hash.set(pairs[i]!, pairs[i + 1]!);
    }
    ctx.keys.mutated(key!);
    return added;
  },
  hget: ([key, field], ctx) => {
    const value = hashOf(ctx, key!, false)?.get(field!);
    return value === undefined ? null : bulk(value);
  },
  hmget: ([key, ...fields], ctx) => {
    const hash = hashOf(ctx, key!, false);
    return fields.map((field) => {
      const value = hash?.get(field);
      return value === undefined ? null : bulk(value);
    });
  },
  hgetall: ([key], ctx) => {
    const hash = hashOf(ctx, key!, false);
    return hash ? [...hash].flatMap(([field, value]) => [bulk(field), bulk(value)]) : [];
  },
  hdel: ([key, ...fields], ctx) => {
    const hash = hashOf(ctx, key!, false);
    if (!hash) return 0;
    const removed = fields.reduce((n, field) => n + (hash.delete(field) ? 1 : 0), 0);
    if (hash.size === 0) ctx.keys.delete(key!);
    else if (removed) ctx.keys.mutated(key!);
    return removed;
  },
  hincrby: ([key, field, by], ctx) => {
    const hash = hashOf(ctx, key!, true)!;
    const current = hash.get(field!);
    const next = (current === undefined ? 0 : integer(current)) + integer(by);
    hash.set(field!, String(next));
    ctx.keys.mutated(key!);
    return next;
  },
  rpush: ([key, ...values], ctx) => push(ctx, key!, values, false),
  lpush: ([key, ...values], ctx) => push(ctx, key!, values, true),
  llen: ([key], ctx) => (read(ctx, key!, "list") as { value: string[] } | undefined)?.value.length ?? 0,
  lrange: ([key, start, stop], ctx) => {
    const list = (read(ctx, key!, "list") as { value: string[] } | undefined)?.value ?? [];
    const norm = (i: number) => (i < 0 ? Math.max(0, list.length + i) : i);
    return list.slice(norm(integer(start)), norm(integer(stop)) + 1).map(bulk);
  },
  dbsize: (_args, ctx) => ctx.keys.size,
  flushall: (_args, ctx) => {
    ctx.keys.flush();
    return "OK";
  },
  flushdb: (_args, ctx) => {
    ctx.keys.flush();
    return "OK";
  },
  time: () => {
    const now = Date.now();
    return [bulk(String(Math.floor(now / 1000))), bulk(String((now % 1000) * 1000))];
  },
};

function hashOf(ctx: CommandContext, key: string, create: boolean): Map<string, string> | undefined {
  const value = read(ctx, key, "hash") as { value: Map<string, string> } | undefined;
  if (value) return value.value;
  if (!create) return undefined;
  const hash = new Map<string, string>();
  ctx.keys.set(key, { type: "hash", value: hash }, Infinity);
  return hash;
}

function push(ctx: CommandContext, key: string, values: Args, left: boolean): number {
  let list = (read(ctx, key, "list") as { value: string[] } | undefined)?.value;
  if (!list) {
    list = [];
    ctx.keys.set(key, { type: "list", value: list }, Infinity);
  }
  for (const value of values) {
    if (left) list.unshift(value);
    else list.push(value);
  }
  ctx.keys.mutated(key);
  return list.length;
}

/** Whether the data model has this command. */
export function isDataCommand(name: string): boolean {
  return Object.hasOwn(HANDLERS, name);
}

/** Runs a data command; undefined when the model has no such command (the server decides what else it knows). */
export function runData(name: string, args: Args, ctx: CommandContext): Reply | undefined {
  const handler = HANDLERS[name];
  if (!handler) return undefined;
  try {
    return handler(args, ctx);
  } catch (error) {
    if (error instanceof ReplyError) return error as Error;
    throw error;
  }
}
