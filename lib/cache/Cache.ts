/**
 * client.cache(): cache-aside in front of a loader, with one load per key
 * across the whole fleet.
 *
 * A hit is one GET. A miss is rebuilt under the key's rebuild lock, once
 * in the fleet (Rebuilds.ts; the lock lives in the entry itself, see
 * record.ts). Callers in the same process share one promise: reads of one
 * event-loop turn, and loads while they run (one load per key per process,
 * whatever started it: Flights.ts).
 *
 * A stale value (past ttlMs, within staleMs) is served at once while one
 * caller in the fleet refreshes it; XFetch starts that refresh before
 * expiry, with a probability that grows with the last load's duration.
 * When the key's node is down the loader is called directly: the cache
 * being unavailable never fails a getOrSet.
 */
import { type Carried, CarriedFailure } from "../commands/command.js";
import type { ResolvedCacheOptions } from "../config/cache.js";
import { CacheArgumentError } from "../errors.js";
import type { CacheMeter, CacheResult } from "../metrics/cacheMeter.js";
import { turnClock } from "./clock.js";
import { CORRUPT, ValueCodec } from "./codec.js";
import { entryKey, type EntryKey } from "./keys.js";
import { decodeRecord, header, holdsValue, lastRecord, readHeader, type CacheRecord } from "./record.js";
import { one, Rebuilds, type Miss } from "./Rebuilds.js";
import type { CacheEvents, CacheKey, CacheStore } from "./store.js";
import { jitteredTtl, refreshEarly } from "./timing.js";
import type { CacheGetOptions, CacheSetOptions, Found, Loader, ManyLoader } from "./types.js";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced, currentCall, type CacheOutcome, type CallTrace } from "../metrics/tracing.js";

export type { CacheGetOptions, CacheSetOptions, Loader, LoaderContext, ManyLoader } from "./types.js";

/** What freshValue returns for anything but a fresh value. */
const NOT_FRESH: unique symbol = Symbol("not fresh");

/**
 * A read shared by the callers of one event-loop turn: what its first
 * caller asked for, the GET's reply (the store puts it here), and what it
 * found; `result` is known before `value` settles (joiners count it).
 */
class SharedRead<T> implements Carried {
  raw: Buffer | null = null;
  /** Set once, right after the read is made. */
  value!: Promise<T | undefined>;
  result: CacheResult = "miss";
  /** The first caller's trace, when traced: told what the read found. */
  trace: CallTrace | undefined = undefined;

  constructor(
    readonly entry: EntryKey,
    readonly loader: Loader<T>,
    readonly ttlMs: number,
  ) {}
}

export class Cache<T = unknown> {
  private readonly codec: ValueCodec<T>;
  /** "namespace:", what every key is stored under. */
  private readonly prefix: string;
  /**
   * Reads started in this event-loop turn: callers of one turn share one GET.
   * The map is dropped at the end of the turn rather than emptied key by key
   * (deleting from a Map on every hit cost more than the GET itself).
   */
  private reading: Map<string, SharedRead<T>> | undefined;
  private readonly endTurn = () => {
    this.reading = undefined;
  };
  /** Jitter and XFetch draws; replaceable for tests. */
  random: () => number = Math.random;

  private readonly rebuilds: Rebuilds<T>;

  constructor(
    readonly options: ResolvedCacheOptions<T>,
    private readonly store: CacheStore,
    private readonly meter: CacheMeter,
    events: CacheEvents,
    /** getOrSet() and its loader calls are traced through it. */
    private readonly tracing?: ClientTracing,
  ) {
    this.codec = new ValueCodec(options.namespace, options.serializer);
    this.prefix = `${options.namespace}:`;
    this.rebuilds = new Rebuilds(options, store, meter, events, this.codec, () => this.random(), tracing);
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** The value for key: from the cache, or loaded once in the fleet and cached. */
  getOrSet(key: CacheKey, loader: Loader<T>, options?: CacheSetOptions): Promise<T | undefined> {
    const tracing = this.tracing;
    if (tracing !== undefined && callsTraced()) {
      return tracing.call("cache", "getOrSet", [key], () => this.resolve(key, loader, options, currentCall()), { namespace: this.namespace });
    }
    return this.resolve(key, loader, options, undefined);
  }

  /** getOrSet(); `trace` (when traced) is told what the call did. */
  private resolve(key: CacheKey, loader: Loader<T>, options: CacheSetOptions | undefined, trace: CallTrace | undefined): Promise<T | undefined> {
    let entry: EntryKey;
    let ttlMs: number;
    try {
      entry = this.key(key);
      if (typeof loader !== "function") throw new CacheArgumentError(this.namespace, "getOrSet needs a loader function");
      ttlMs = this.ttlOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // Written with then() rather than async/await: this is the hit path, and every promise saved shows.
    // A load of the key running in this process (a miss being rebuilt): joined, nothing sent.
    const loading = this.rebuilds.running ? this.rebuilds.awaited(entry) : undefined;
    if (loading) {
      if (trace !== undefined) trace.outcome = "joined";
      return loading.then(this.counted, this.countedMiss);
    }
    const shared = this.reading?.get(entry.id);
    if (shared && trace !== undefined) trace.outcome = "joined";
    if (shared) return shared.value.then((value) => (this.meter.requests[shared.result]++, value), this.countedMiss);
    if (!this.reading) {
      this.reading = new Map();
      setImmediate(this.endTurn);
    }
    const read = new SharedRead(entry, loader, ttlMs);
    read.trace = trace;
    // The read carries its own state to one handler for every read: no closure per read on the hit path.
    read.value = this.store.read(entry.full, read).then(this.onRead, this.onReadFailure);
    this.reading.set(entry.id, read);
    return read.value;
  }

  /** Counts a caller's request by what it found, and gives it the value. */
  private readonly counted = (found: Found<T>): T | undefined => {
    this.meter.requests[found.result]++;
    return found.value;
  };

  private readonly countedMiss = (error: unknown): never => {
    this.meter.requests.miss++;
    throw error;
  };

  /** The cached value, or undefined (a miss, "not found", or past ttlMs unless allowStale). Never loads. */
  get(key: CacheKey, options?: CacheGetOptions): Promise<T | undefined> {
    let entry: EntryKey;
    try {
      entry = this.key(key);
    } catch (error) {
      return Promise.reject(error);
    }
    const allowStale = options?.allowStale === true;
    return this.store.get(entry.full).then((raw) => this.counted(this.read(raw, Date.now(), allowStale)));
  }

  /** Writes a value (fresh for ttlMs, with jitter), replacing whatever is there, a rebuild in progress included. */
  async set(key: CacheKey, value: T, options?: CacheSetOptions): Promise<void> {
    const entry = this.key(key);
    if (value === undefined) throw new CacheArgumentError(this.namespace, "set() needs a value; delete() removes one");
    const ttlMs = jitteredTtl(this.ttlOf(options), this.options.jitter, this.random);
    const now = Date.now();
    await this.store.set(entry.full, this.codec.encode(value, now + ttlMs, now + ttlMs + this.options.staleMs, 0), ttlMs + this.options.staleMs);
  }

  /** Removes the entry (a rebuild in progress then writes nothing: its lock went with it). True when there was one. */
  async delete(key: CacheKey): Promise<boolean> {
    const entry = this.key(key);
    return (await this.store.del(entry.full)) > 0;
  }

  /**
   * Values for many keys: one MGET per shard, then one loader call for every
   * key missing (those this process is loading already are joined instead,
   * those another process is loading waited for). Returns values in the
   * order of `keys`; a failure rejects the call, every key's own promise handled.
   */
  async getOrSetMany<K extends CacheKey>(keys: readonly K[], loader: ManyLoader<K, T>, options?: CacheSetOptions): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new CacheArgumentError(this.namespace, "getOrSetMany needs an array of keys");
    if (typeof loader !== "function") throw new CacheArgumentError(this.namespace, "getOrSetMany needs a loader function");
    const ttlMs = this.ttlOf(options);
    const entries = keys.map((k) => this.key(k));
    const unique = new Map<string, { entry: EntryKey; key: K }>();
    entries.forEach((entry, i) => unique.set(entry.id, { entry, key: keys[i]! }));
    const joined = new Map<string, Promise<Found<T>>>();
    // Keys this process is reading or loading already are joined, not read again.
    const toRead = [...unique.values()].filter(({ entry }) => {
      const shared = this.reading?.get(entry.id);
      const running = this.rebuilds.awaited(entry) ?? (shared && shared.value.then((value): Found<T> => ({ value, result: shared.result })));
      if (running) joined.set(entry.id, running);
      return !running;
    });
    const read = toRead.length ? this.resolveMany(toRead, loader, ttlMs) : undefined;
    // Every key's promise awaited at once (Promise.all handles them all): none is left to reject unobserved.
    const all = entries.map((entry) => joined.get(entry.id) ?? read!.then((found) => found.get(entry.id)!));
    let found: Array<Found<T>>;
    try {
      found = await Promise.all(all);
    } catch (error) {
      this.meter.requests.miss += entries.length;
      throw error;
    }
    return found.map(this.counted);
  }

  private key(key: unknown): EntryKey {
    return entryKey(this.prefix, key);
  }

  private ttlOf(options: CacheSetOptions | undefined): number {
    const ttl = options?.ttlMs;
    if (ttl === undefined) return this.options.ttlMs;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 2_147_483_647) {
      throw new CacheArgumentError(this.namespace, `ttlMs must be an integer number of ms from 1 to 2147483647 (got ${String(ttl)})`);
    }
    return ttl;
  }

  /**
   * The first caller's read answered: serve it (refreshing stale or nearly
   * expired values in the background), or rebuild it. The value comes back
   * with its request counted and its result noted on the read (for callers
   * of the same turn who joined it). Nothing allocated on a hit: this is the
   * hot path.
   */
  private readonly onRead = (read: SharedRead<T>): T | undefined | Promise<T | undefined> => {
    const { entry, raw, loader, ttlMs } = read;
    const value = this.freshValue(entry, raw, loader, ttlMs);
    if (value !== NOT_FRESH) {
      read.result = "hit";
      this.meter.requests.hit++;
      if (read.trace !== undefined) read.trace.outcome = "hit";
      return value;
    }
    const found = this.serveOrRebuild(entry, raw, loader, ttlMs);
    return found instanceof Promise ? found.then((f) => this.settle(read, f), this.countedMiss) : this.settle(read, found);
  };

  /** The read failed (a node whose breaker is open fails it at once): the loader is called directly, as the key's one load in this process. */
  private readonly onReadFailure = (failure: unknown): Promise<T | undefined> => {
    // The store fails a read with a CarriedFailure only; anything else is a fault to surface, not to load on.
    if (!(failure instanceof CarriedFailure)) return this.countedMiss(failure);
    const read = failure.carried as SharedRead<T>;
    return this.rebuilds.loadDirectly(read.entry, read.loader, failure.error).then((f) => this.settle(read, f), this.countedMiss);
  };

  /** The first caller's request counted, its result noted for the callers who joined it. */
  private settle(read: SharedRead<T>, found: Found<T>): T | undefined {
    read.result = found.result;
    if (read.trace !== undefined) read.trace.outcome = cacheOutcome(found);
    this.meter.requests[found.result]++;
    return found.value;
  }

  /**
   * A fresh value, read without a record or a Found made for it (the hit
   * path: a read's result is "hit" unless told otherwise); NOT_FRESH for
   * anything else (a miss, "not found", stale, corrupt), which
   * serveOrRebuild then reads again in full. Starts XFetch's early refresh
   * when its draw says so.
   */
  private freshValue(entry: EntryKey, raw: Buffer | null, loader: Loader<T>, ttlMs: number): T | typeof NOT_FRESH {
    if (raw === null || !readHeader(raw)) return NOT_FRESH;
    const { kind, expiresAt, loadMs } = header;
    const now = turnClock();
    if (kind === "n" || kind === "l" || kind === "e" || now >= expiresAt) return NOT_FRESH;
    const value = this.codec.decodePayload(kind, raw, header.payloadStart);
    if (value === CORRUPT) return NOT_FRESH;
    if (this.options.beta > 0 && refreshEarly(now, expiresAt, loadMs, this.options.beta, this.random)) {
      // The header just read, as a record (nothing has read another since): not parsed again.
      this.rebuilds.refreshInBackground(entry, loader, ttlMs, lastRecord(raw), value, true);
    }
    return value as T;
  }

  private serveOrRebuild(entry: EntryKey, raw: Buffer | null, loader: Loader<T>, ttlMs: number): Promise<Found<T>> | Found<T> {
    const now = Date.now();
    const found = this.read(raw, now, true);
    if (found.result === "miss") return this.rebuilds.rebuild(entry, loader, ttlMs, this.seen(found.record));
    const record = found.record!;
    if (found.result === "stale") this.rebuilds.refreshInBackground(entry, loader, ttlMs, record, found.value, false);
    else if (this.options.beta > 0 && refreshEarly(now, record.expiresAt, record.loadMs, this.options.beta, this.random)) {
      this.rebuilds.refreshInBackground(entry, loader, ttlMs, record, found.value, true);
    }
    return found;
  }

  /** What a stored value means now: a hit, "not found", a stale value (when allowed), or a miss. Counts corrupt entries. */
  private read(raw: Buffer | null, now: number, allowStale: boolean): Found<T> {
    if (raw === null) return { value: undefined, result: "miss" };
    const record = decodeRecord(raw);
    if (!record) {
      this.meter.corruptEntries++;
      return { value: undefined, result: "miss" };
    }
    if (!holdsValue(record) || now >= record.staleUntil || (!allowStale && now >= record.expiresAt)) return { value: undefined, result: "miss", record };
    const value = this.codec.decode(record);
    if (value === CORRUPT) {
      this.meter.corruptEntries++;
      return { value: undefined, result: "miss", record };
    }
    if (now >= record.expiresAt) return { value, result: "stale", record };
    return { value, result: record.kind === "n" ? "negative" : "hit", record };
  }

  /** The `seen` argument of ACQUIRE for a stored record: its expiresAt when it holds a value (so the lock may replace it), else "". */
  private seen(record: CacheRecord | undefined): string {
    return record && holdsValue(record) ? String(record.expiresAt) : "";
  }

  /** Many keys: one MGET per shard; hits served, stale ones refreshed in the background, misses loaded (Rebuilds.loadMany): a promise per key. */
  private async resolveMany<K extends CacheKey>(
    wanted: ReadonlyArray<{ entry: EntryKey; key: K }>,
    loader: ManyLoader<K, T>,
    ttlMs: number,
  ): Promise<Map<string, Promise<Found<T>>>> {
    let raws: Array<Buffer | null>;
    try {
      raws = await this.store.mget(wanted.map((w) => w.entry.full));
    } catch {
      // Read as misses: their locks' acquire then finds what is there, or that the node is down (loaded directly).
      raws = wanted.map(() => null);
    }
    const out = new Map<string, Promise<Found<T>>>();
    const misses: Array<Miss<K>> = [];
    wanted.forEach(({ entry, key }, i) => {
      const found = this.read(raws[i] ?? null, Date.now(), true);
      if (found.result === "miss") misses.push({ entry, key, seen: this.seen(found.record) });
      else {
        if (found.result === "stale") this.rebuilds.refreshInBackground(entry, one(loader, key), ttlMs, found.record!, found.value, false);
        out.set(entry.id, Promise.resolve(found));
      }
    });
    for (const [id, loading] of this.rebuilds.loadMany(misses, loader, ttlMs)) out.set(id, loading);
    return out;
  }
}

/** What a traced getOrSet did, from what it found. */
function cacheOutcome(found: Found<unknown>): CacheOutcome {
  if (found.how !== undefined) return found.how;
  return found.result === "miss" ? "loaded" : found.result;
}
