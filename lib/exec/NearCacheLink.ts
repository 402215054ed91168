/**
 * Wires the near cache to the fleet: tracking on each shard's master
 * connection (its confirmation starts the shard's domain, its loss or a
 * failover flushes it), Redis's invalidations, the keys every write
 * touches, and the read path (serve a cached reply, or send the read and
 * keep its reply).
 *
 * Writes through this process drop their keys when sent: reads sent after
 * a write on the tracking connection run after it. A write on another
 * connection (a transaction on a pooled one) drops them again when answered:
 * Redis reports it on the tracking connection at a time of its own, and a
 * read sent meanwhile may have run first; this is what gives
 * read-your-writes there.
 */
import type { ResolvedNearCache } from "../config/nearCache.js";
import type { ShardisCommand } from "../commands/command.js";
import type { NodeClient } from "../connection/NodeClient.js";
import type { TrackingHooks } from "../connection/context.js";
import { installInvalidationPushes } from "../connection/pushes.js";
import { ConfigError } from "../errors.js";
import { NearCache, type Table, type Ticket } from "../nearcache/NearCache.js";
import { commandSpec, keyIndexes, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";

/**
 * Keyless commands that change keys: they empty the shard's domain. Not
 * EXEC: a block's writes are sent (and drop their keys) like any other.
 */
const DATASET_WRITES = new Set(["flushall", "flushdb", "swapdb", "debug"]);
/** What opens and closes a MULTI block on a connection. */
const BLOCK_EDGES = new Set(["multi", "exec", "discard"]);

/** A MULTI block open on a connection without tracking: what its writes touched, dropped again once EXEC is answered. */
interface Block {
  readonly keys: string[];
  all: boolean;
}
/** Bytes counted per entry besides its reply: the entry, its id and its index slots. */
const ENTRY_OVERHEAD = 96;

export interface NearCacheHost {
  /** The shard's master now. */
  master(shard: number): NodeClient | undefined;
  /** Tracking could not be turned on for a shard (on `node`, its master or a replica): it does not cache. */
  refused(shard: number, node: NodeClient, error: Error): void;
  /** The hot-key detector, for `hotOnly`: whether a key ranks hot, and reads answered from memory (demand the shard does not see). */
  readonly hot?: { isHot(shard: number, key: string): boolean; observe(shard: number, key: string, load: boolean): void };
}

export class NearCacheLink {
  readonly cache: NearCache;
  private readonly tracked = new Set<NodeClient>();
  private readonly command: readonly string[];
  /** The cached commands' tables, by command name: one per reply encoding. */
  private readonly tables = new Map<string, { readonly utf8: Table; readonly buffer: Table }>();
  /**
   * Reads answered by the `fallback` option so far, by shard (`fellBack`):
   * a reply that arrives after one was given may be that answer, a value
   * Redis never saw (no invalidation would ever drop it), so it is not kept.
   */
  private readonly fallbacks: number[] = [];

  constructor(
    readonly options: ResolvedNearCache,
    private readonly host: NearCacheHost,
  ) {
    if (!installInvalidationPushes()) {
      throw new ConfigError(["nearCache: this ioredis version does not let shardis receive invalidation messages (ioredis 6 is supported)"]);
    }
    const hot = host.hot;
    if (options.hotOnly && hot === undefined) throw new ConfigError(["nearCache.hotOnly needs the hot-key detector"]);
    this.cache = new NearCache(options, Date.now, options.hotOnly ? (shard, key) => hot!.observe(shard, key, false) : undefined);
    // MGET has no table of its own: it is answered from (and fills) GET's.
    const named = new Set([...options.commands].map((name) => (name === "mget" ? "get" : name)));
    for (const name of named) this.tables.set(name, { utf8: this.cache.table(`${name} utf8`), buffer: this.cache.table(`${name} buffer`) });
    const bcast = options.mode === "broadcast" ? ["BCAST", ...options.prefixes.flatMap((p) => ["PREFIX", p])] : [];
    this.command = ["TRACKING", "ON", ...bcast];
  }

  tracking(shard: number): TrackingHooks {
    const isMaster = (node: NodeClient) => this.host.master(shard) === node;
    return {
      command: this.command,
      on: (node) => {
        this.tracked.add(node);
        if (isMaster(node)) this.cache.track(shard);
      },
      refused: (node, error) => {
        this.tracked.delete(node);
        if (isMaster(node)) this.cache.flush(shard, "tracking");
        this.host.refused(shard, node, error);
      },
      invalidated: (_node, keys) => {
        // From a replica's connection too: an extra invalidation is always safe.
        if (keys === null) this.cache.flush(shard, "server", this.cache.tracking(shard));
        else this.cache.invalidate(keys);
      },
      lost: (node) => {
        this.tracked.delete(node);
        if (isMaster(node) || this.host.master(shard) === undefined) this.cache.flush(shard, "connection");
      },
    };
  }

  /**
   * The hook told of every command a node's connections send. A write
   * drops its keys when sent. On the tracking connection, reads sent after
   * it run after it (one connection, in order), a MULTI block's included:
   * nothing more to drop, and EXEC drops nothing of its own. On another
   * connection (a pooled one's transaction), a read sent meanwhile may
   * still run before the write: its keys are dropped again once it is
   * done, and inside MULTI it is done when EXEC is answered (its own reply
   * only says QUEUED), so each such connection's open block keeps its
   * writes' keys until then.
   */
  sending(shard: number): (cmd: ShardisCommand, tracked: boolean, connection: object) => void {
    const blocks = new WeakMap<object, Block>();
    return (cmd, tracked, connection) => {
      const spec = commandSpec(cmd.name);
      if (spec.readOnly) return;
      if (!tracked && BLOCK_EDGES.has(spec.name)) return this.blockEdge(shard, blocks, spec.name, cmd, connection);
      const touched = this.touched(spec, cmd);
      if (touched === undefined) return;
      const drop = () => this.drop(shard, touched);
      drop();
      if (tracked) return;
      cmd.promise.then(drop, drop);
      const block = blocks.get(connection);
      if (block === undefined) return;
      if (touched === "all") block.all = true;
      else block.keys.push(...touched);
    };
  }

  /** MULTI opens a block on a connection without tracking; EXEC drops what it wrote once answered; DISCARD forgets it. */
  private blockEdge(shard: number, blocks: WeakMap<object, Block>, name: string, cmd: ShardisCommand, connection: object): void {
    const block = blocks.get(connection);
    if (name === "multi") {
      blocks.set(connection, { keys: [], all: false });
      return;
    }
    blocks.delete(connection);
    if (name !== "exec" || block === undefined || (!block.all && block.keys.length === 0)) return;
    const drop = () => this.drop(shard, block.all ? "all" : block.keys);
    cmd.promise.then(drop, drop);
  }

  private drop(shard: number, touched: string[] | "all"): void {
    if (touched === "all") this.cache.flush(shard, "write", this.cache.tracking(shard));
    else this.cache.invalidate(touched);
  }

  /**
   * A read of the shard is answered by the `fallback` option, not by Redis
   * (its breaker is open): replies of the shard's reads in flight now,
   * this one's among them, are not kept. Whatever path gave the answer
   * (the read sent after the breaker opened, or before), this is called
   * before the answer settles.
   */
  fellBack(shard: number): void {
    this.fallbacks[shard] = (this.fallbacks[shard] ?? 0) + 1;
  }

  /**
   * Shards whose master changed: where one moved (`moved`), what the old one
   * tracked is gone; a master found for the first time has nothing to
   * flush. Either way the new master caches once its tracking is on
   * (perhaps already, if it was tracking as a replica).
   */
  mastersChanged(shards: readonly number[], moved: (shard: number) => boolean): void {
    for (const shard of shards) {
      if (moved(shard)) this.cache.flush(shard, "failover");
      const master = this.host.master(shard);
      if (master && this.tracked.has(master) && !this.cache.tracking(shard)) this.cache.track(shard);
    }
  }

  /**
   * Before routing, for a read as the caller gave it: a cached reply, or
   * the reply of the same read already in flight. undefined: go on and send
   * it (then `read`). Every cacheable command's key is its first argument.
   * Costs one lookup by the key on a hit: no command is built, no slot
   * computed. Arguments given as arrays (`exists([k])`, `hmget(h, [f, g])`)
   * name the entry of their flat form, as the command built from them would.
   */
  fast(name: string, args: readonly unknown[], encoding: string | null): Promise<unknown> | undefined {
    const tables = this.tables.get(name);
    if (tables === undefined) return undefined;
    let id = idOf(args);
    // As the command builder sends them (ioredis's Command spreads arrays in place, one level deep).
    if (id === undefined && args.some(Array.isArray)) id = idOf((args = args.flat()));
    const key = args[0];
    if (id === undefined || typeof key !== "string") return undefined;
    const table = encoding === null ? tables.buffer : tables.utf8;
    const found = this.cache.probe(table, key, id);
    if (found === undefined) return undefined;
    // A read of this entry in flight, sent after its key last changed: its reply is as fresh as a new one.
    if (found instanceof Promise) return encoding === null ? found.then(copyOut) : found;
    // Replies decoded as strings hold no Buffer: kept frozen, they are handed out as they are.
    return Promise.resolve(encoding === null ? copyOut(found) : found);
  }

  /**
   * MGET answered key by key from the GET entries (MGET is cached through
   * GET's table: the same reply per key): hits from memory, the rest in one
   * MGET (`send`, split by shard as usual) whose values then fill GET
   * entries. A nil is not kept: MGET answers nil for a key of another type,
   * where GET fails. undefined: not cached (MGET not configured, a key not
   * a string), send it as it is.
   */
  mget(keys: readonly unknown[], encoding: string | null, shardOf: (key: string) => number, send: (keys: string[]) => Promise<unknown>): Promise<unknown> | undefined {
    const tables = this.tables.get("get");
    if (!this.options.commands.has("mget") || tables === undefined || keys.length === 0) return undefined;
    for (const key of keys) if (typeof key !== "string" || key.charCodeAt(0) === 0) return undefined;
    const table = encoding === null ? tables.buffer : tables.utf8;
    const out: unknown[] = new Array(keys.length);
    const missing: string[] = [];
    const at: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const cached = this.cache.lookup(table, key, key);
      if (cached !== undefined) out[i] = encoding === null ? copyOut(cached) : cached;
      else {
        missing.push(key);
        at.push(i);
      }
    }
    if (missing.length === 0) return Promise.resolve(out);
    const tickets: Array<Ticket | undefined> = [];
    const shards: number[] = [];
    // Counted before sending: an open breaker's fallback answers inside send().
    const answered: Array<number | undefined> = [];
    for (const key of missing) {
      let shard = this.cache.pending(table, key, key) ? -1 : shardOf(key);
      if (shard >= 0 && !this.admits(shard, key)) shard = -1;
      // No reply to share: a GET arriving meanwhile sends its own (it must fail where MGET says nil).
      tickets.push(shard >= 0 ? this.cache.begin(shard, table, key, key) : undefined);
      shards.push(shard);
      answered.push(this.fallbacks[shard]);
    }
    return send(missing).then(
      (values) => {
        const got = values as unknown[];
        for (let j = 0; j < missing.length; j++) {
          const value = got[j];
          const ticket = tickets[j];
          if (ticket === undefined) out[at[j]!] = value;
          else if (value === null || value instanceof Error || this.fallbacks[shards[j]!] !== answered[j]) {
            this.cache.abandon(ticket);
            out[at[j]!] = value;
          } else {
            const kept = this.keepReply(ticket, value, missing[j]!);
            out[at[j]!] = encoding === null ? copyOut(kept) : kept;
          }
        }
        return out;
      },
      (error: unknown) => {
        for (const ticket of tickets) if (ticket) this.cache.abandon(ticket);
        throw error;
      },
    );
  }

  /**
   * A read of one shard that `fast` did not answer: `send()`'s reply, kept
   * for next time. Only commands of one key with string arguments are kept
   * (the arguments name the entry).
   */
  read(shard: number, spec: CommandSpec, cmd: ShardisCommand, encoding: string | null, send: () => Promise<unknown>): Promise<unknown> {
    const tables = this.tables.get(spec.name);
    const args = cmd.args as Args;
    const keyIndex = spec.singleKeyIndex >= 0 ? spec.singleKeyIndex : oneKey(spec, args);
    const id = idOf(args);
    if (tables === undefined || keyIndex < 0 || id === undefined) return send();
    const key = args[keyIndex] as string;
    if (!this.admits(shard, key)) return send();
    const table = encoding === null ? tables.buffer : tables.utf8;
    let ticket: Ticket | undefined;
    // Counted before sending: an open breaker's fallback answers inside send().
    const answered = this.fallbacks[shard];
    // Every caller gets the reply as the cache keeps it (frozen; Buffers their own copy), hit or not.
    const reply = send().then(
      (value) => (this.fallbacks[shard] === answered ? this.keepReply(ticket, value, id) : this.passOn(ticket, value)),
      (error: unknown) => {
        if (ticket) this.cache.abandon(ticket);
        throw error;
      },
    );
    ticket = this.cache.begin(shard, table, key, id, reply);
    return encoding === null ? reply.then(copyOut) : reply;
  }

  /** What the cache keeps of a read's reply (frozen; Buffers copied), filled into the read's entry if it is still current. */
  private keepReply(ticket: Ticket | undefined, value: unknown, id: string): unknown {
    const kept = keep(value);
    if (ticket) this.cache.fill(ticket, kept, sizeOf(value) + id.length + ENTRY_OVERHEAD);
    return kept;
  }

  /** A reply not to keep (perhaps the fallback's): its placeholder goes; callers get it as a kept one would look. */
  private passOn(ticket: Ticket | undefined, value: unknown): unknown {
    if (ticket) this.cache.abandon(ticket);
    return keep(value);
  }

  /**
   * Whether a read of `key` is kept. In broadcast mode Redis reports changes
   * under the prefixes only: other keys are read from Redis every time. With
   * `hotOnly`, only keys the detector ranks hot are kept.
   */
  private admits(shard: number, key: string): boolean {
    if (this.options.prefixes.length && !this.options.prefixes.some((prefix) => key.startsWith(prefix))) return false;
    return !this.options.hotOnly || this.host.hot!.isHot(shard, key);
  }

  private touched(spec: CommandSpec, cmd: ShardisCommand): string[] | "all" | undefined {
    if (!spec.known || DATASET_WRITES.has(spec.name)) return "all";
    const args = cmd.args as Args;
    const indexes = keyIndexes(spec, args);
    return indexes.length ? indexes.map((i) => String(args[i])) : undefined;
  }
}

/**
 * An entry's id within its command's table: the key alone for a command of
 * one argument; else every argument, length-prefixed after a NUL (no key
 * alone starts that way: such a key takes the long form too). undefined
 * when an argument is not a string or a number.
 */
function idOf(args: readonly unknown[]): string | undefined {
  const first = args[0];
  if (args.length === 1 && typeof first === "string" && first.charCodeAt(0) !== 0) return first;
  let id = "\u0000";
  for (const arg of args) {
    if (typeof arg === "string") id += `${arg.length}:${arg}`;
    else if (typeof arg === "number") id += `${String(arg).length}:${arg}`;
    else return undefined;
  }
  return id;
}

/** The one key's index for commands whose key count varies (EXISTS): -1 unless exactly one. */
function oneKey(spec: CommandSpec, args: Args): number {
  const indexes = keyIndexes(spec, args);
  return indexes.length === 1 ? indexes[0]! : -1;
}

/** What the cache keeps of a reply: Buffers copied (a caller may write into its own), the rest frozen (shared by every hit). */
function keep(reply: unknown): unknown {
  if (Buffer.isBuffer(reply)) return Buffer.from(reply);
  if (Array.isArray(reply)) return Object.freeze(reply.map(keep));
  if (reply !== null && typeof reply === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(reply)) out[k] = keep(v);
    return Object.freeze(out);
  }
  return reply;
}

/** A hit's reply: Buffers copied again, frozen structures as they are. */
function copyOut(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value) && value.some((v) => Buffer.isBuffer(v))) return Object.freeze(value.map(copyOut));
  return value;
}

/** The reply's size in bytes, near enough: string lengths, Buffer lengths, 8 per number. */
function sizeOf(reply: unknown): number {
  if (typeof reply === "string") return reply.length;
  if (Buffer.isBuffer(reply)) return reply.length;
  if (Array.isArray(reply)) return reply.reduce((sum: number, v) => sum + 8 + sizeOf(v), 0);
  if (reply !== null && typeof reply === "object") return Object.entries(reply).reduce((sum, [k, v]) => sum + 8 + k.length + sizeOf(v), 0);
  return 8;
}
