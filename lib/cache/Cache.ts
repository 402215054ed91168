/**
 * client.cache(): cache-aside in front of a loader, with one load per key
 * across the whole fleet.
 *
 * A hit is one GET. A miss takes the key's rebuild lock (a Lua script on
 * the key's node; the lock lives in the entry itself, see record.ts); the
 * caller holding it runs the loader and writes the value only while it
 * still holds the lock (fencing), extending the lock as the loader runs.
 * Callers in the same process share one promise; callers elsewhere that find
 * the lock taken poll the key (every 1 ms four times, then doubling to 50 ms)
 * until the value is there, the load failed, or waitTimeoutMs passes.
 *
 * A stale value (past ttlMs, within staleMs) is served at once while one
 * caller in the fleet refreshes it; XFetch starts that refresh before
 * expiry, with a probability that grows with the last load's duration.
 * When the key's node is down the loader is called directly: the cache
 * being unavailable never fails a getOrSet.
 */
import { randomBytes } from "node:crypto";
import type { ResolvedCacheOptions } from "../config/cache.js";
import { DEFAULTS } from "../config/defaults.js";
import { CacheArgumentError, CacheLoadError, CacheSerializationError, CacheTimeoutError } from "../errors.js";
import type { CacheMeter, CacheResult } from "../metrics/cacheMeter.js";
import { CORRUPT, ValueCodec } from "./codec.js";
import { entryKey, type EntryKey } from "./keys.js";
import { decodeRecord, holdsValue, payloadText, type CacheRecord } from "./record.js";
import { ACQUIRE, COMMIT, EXTEND, RELEASE } from "./scripts.js";
import type { CacheEvents, CacheKey, CacheStore } from "./store.js";
import { jitteredTtl, refreshEarly } from "./timing.js";

export interface LoaderContext<T> {
  /** The key as given to getOrSet. */
  readonly key: string;
  /** The value being refreshed (stale-while-revalidate, early refresh), if any. */
  readonly stale: T | undefined;
  /** Aborted when the callers stop waiting (waitTimeoutMs): the value is no longer awaited. */
  readonly signal: AbortSignal;
}

/** Loads a value; undefined means "not found" (cached for negativeTtlMs, when set). */
export type Loader<T> = (context: LoaderContext<T>) => Promise<T | undefined> | T | undefined;

/** Loads many values at once: an array in the order of `missing`, or a Map from key to value. */
export type ManyLoader<K extends CacheKey, T> = (
  missing: K[],
  context: { readonly signal: AbortSignal },
) => Promise<ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>> | ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>;

export interface CacheSetOptions {
  /** This write's freshness instead of the cache's ttlMs, in ms (jitter still applies). */
  ttlMs?: number;
}

export interface CacheGetOptions {
  /** Also return a value past its ttlMs but within staleMs. @default false */
  allowStale?: boolean;
}

interface Found<T> {
  readonly value: T | undefined;
  readonly result: CacheResult;
  /** The record the value came from (reads only). */
  readonly record?: CacheRecord;
}

/** What a caller waiting on another's load saw. */
type Waited<T> =
  | { readonly kind: "value"; readonly value: T | undefined }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "free"; readonly seen: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "down"; readonly error: Error };

/** Longest loader error message carried to other processes' waiters. */
const MAX_MESSAGE = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Cache<T = unknown> {
  private readonly codec: ValueCodec<T>;
  /**
   * Reads started in this event-loop turn: callers of one turn share one GET.
   * The map is dropped at the end of the turn rather than emptied key by key
   * (deleting from a Map on every hit cost more than the GET itself).
   */
  private reading: Map<string, Promise<Found<T>>> | undefined;
  /** Keys this process is loading (a miss being rebuilt): callers join the load and send nothing. */
  private readonly loading = new Map<string, Promise<Found<T>>>();
  private readonly endTurn = () => {
    this.reading = undefined;
  };
  /** Keys this process is refreshing in the background (stale or early). */
  private readonly refreshing = new Set<string>();
  /** Jitter and XFetch draws; replaceable for tests. */
  random: () => number = Math.random;

  constructor(
    readonly options: ResolvedCacheOptions<T>,
    private readonly store: CacheStore,
    private readonly meter: CacheMeter,
    private readonly events: CacheEvents,
  ) {
    this.codec = new ValueCodec(options.namespace, options.serializer);
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** The value for key: from the cache, or loaded once in the fleet and cached. */
  getOrSet(key: CacheKey, loader: Loader<T>, options?: CacheSetOptions): Promise<T | undefined> {
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
    const joined = (this.loading.size ? this.loading.get(entry.id) : undefined) ?? this.reading?.get(entry.id);
    if (joined) return joined.then(this.counted, this.countedMiss);
    if (!this.reading) {
      this.reading = new Map();
      setImmediate(this.endTurn);
    }
    const found = this.resolve(entry, loader, ttlMs);
    this.reading.set(entry.id, found);
    return found.then(this.counted, this.countedMiss);
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
   * key missing (those another caller is loading are waited for instead).
   * Returns values in the order of `keys`.
   */
  async getOrSetMany<K extends CacheKey>(keys: readonly K[], loader: ManyLoader<K, T>, options?: CacheSetOptions): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new CacheArgumentError(this.namespace, "getOrSetMany needs an array of keys");
    if (typeof loader !== "function") throw new CacheArgumentError(this.namespace, "getOrSetMany needs a loader function");
    const ttlMs = this.ttlOf(options);
    const entries = keys.map((k) => this.key(k));
    const unique = new Map<string, { entry: EntryKey; key: K }>();
    entries.forEach((entry, i) => unique.set(entry.id, { entry, key: keys[i]! }));
    const found = new Map<string, Promise<Found<T>>>();
    // Keys this process is reading or loading already are joined, not read again.
    const toRead = [...unique.values()].filter(({ entry }) => {
      const running = this.loading.get(entry.id) ?? this.reading?.get(entry.id);
      if (running) found.set(entry.id, running);
      return !running;
    });
    if (toRead.length) {
      const batch = this.resolveMany(toRead, loader, ttlMs);
      toRead.forEach(({ entry }) => {
        const one = batch.then((all) => all.get(entry.id)!).finally(() => this.loading.delete(entry.id));
        this.loading.set(entry.id, one);
        found.set(entry.id, one);
      });
    }
    const values: Array<T | undefined> = [];
    for (const entry of entries) {
      const { value, result } = await found.get(entry.id)!;
      this.meter.requests[result]++;
      values.push(value);
    }
    return values;
  }

  private key(key: unknown): EntryKey {
    return entryKey(this.namespace, key);
  }

  private ttlOf(options: CacheSetOptions | undefined): number {
    const ttl = options?.ttlMs;
    if (ttl === undefined) return this.options.ttlMs;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 2_147_483_647) {
      throw new CacheArgumentError(this.namespace, `ttlMs must be an integer number of ms from 1 to 2147483647 (got ${String(ttl)})`);
    }
    return ttl;
  }

  /** One key: read it; serve it (refreshing stale or nearly expired values in the background), or rebuild it. */
  private resolve(entry: EntryKey, loader: Loader<T>, ttlMs: number): Promise<Found<T>> {
    // A node whose breaker is open fails the GET at once (CircuitOpenError): the loader is then called directly.
    return this.store.get(entry.full).then(
      (raw) => this.serveOrRebuild(entry, raw, loader, ttlMs),
      (error: unknown) => this.loadDirectly(entry, loader, error as Error),
    );
  }

  private serveOrRebuild(entry: EntryKey, raw: Buffer | null, loader: Loader<T>, ttlMs: number): Promise<Found<T>> | Found<T> {
    const now = Date.now();
    const found = this.read(raw, now, true);
    if (found.result === "miss") return this.load(entry, () => this.rebuild(entry, loader, ttlMs, this.seen(found.record)));
    const record = found.record!;
    if (found.result === "stale") this.refreshInBackground(entry, loader, ttlMs, record, found.value, false);
    else if (this.options.beta > 0 && refreshEarly(now, record.expiresAt, record.loadMs, this.options.beta, this.random)) {
      this.refreshInBackground(entry, loader, ttlMs, record, found.value, true);
    }
    return found;
  }

  /** Runs a rebuild of the key unless this process runs one already (a caller that read it in an earlier turn): then joins that. */
  private load(entry: EntryKey, rebuild: () => Promise<Found<T>>): Promise<Found<T>> {
    const running = this.loading.get(entry.id);
    if (running) return running;
    const loading = rebuild().finally(() => this.loading.delete(entry.id));
    this.loading.set(entry.id, loading);
    return loading;
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

  /** A miss: take the lock and load, or wait for whoever holds it; again if the lock is given up without a value. */
  private async rebuild(entry: EntryKey, loader: Loader<T>, ttlMs: number, seen: string): Promise<Found<T>> {
    const deadline = performance.now() + this.options.waitTimeoutMs;
    let waited = false;
    for (;;) {
      const token = randomBytes(12).toString("base64url");
      let reply: [number, Buffer?];
      try {
        reply = (await this.store.run(ACQUIRE, entry.full, [token, this.options.lockTtlMs, seen])) as [number, Buffer?];
      } catch (error) {
        return this.loadDirectly(entry, loader, error as Error);
      }
      if (reply[0] === 1) return this.loadLocked(entry, loader, ttlMs, token, undefined);
      const current = reply[1] ? decodeRecord(Buffer.from(reply[1])) : undefined;
      if (current && holdsValue(current)) {
        // Written since this caller looked: use it.
        const value = this.codec.decode(current);
        if (value !== CORRUPT) return { value, result: "miss" };
        seen = String(current.expiresAt);
        continue;
      }
      if (!waited) this.meter.lockWaits++;
      waited = true;
      const outcome = await this.waitFor(entry, current?.lockToken ?? "", deadline);
      switch (outcome.kind) {
        case "value":
          return { value: outcome.value, result: "miss" };
        case "failed":
          throw new CacheLoadError(this.namespace, entry.display, outcome.message);
        case "timeout":
          throw new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "another caller holds the rebuild lock and has not written a value");
        case "down":
          return this.loadDirectly(entry, loader, outcome.error);
        case "free":
          seen = outcome.seen;
      }
    }
  }

  /**
   * Polls the key while another caller loads it: until a value is there, that
   * load failed (its token on a failure record), the lock is gone without a
   * value (its holder died or gave up: the caller may take it), or the deadline.
   */
  private async waitFor(entry: EntryKey, token: string, deadline: number): Promise<Waited<T>> {
    const { pollFirstMs, pollQuickTries, pollMaxMs } = DEFAULTS.cache;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) return { kind: "timeout" };
      // A few quick looks (most loads are short), then doubling delays up to pollMaxMs.
      const delay = attempt < pollQuickTries ? pollFirstMs : Math.min(pollFirstMs * 2 ** (attempt - pollQuickTries + 1), pollMaxMs);
      await sleep(Math.min(delay, left));
      let raw: Buffer | null;
      try {
        raw = await this.store.get(entry.full);
      } catch (error) {
        return { kind: "down", error: error as Error };
      }
      const record = raw && decodeRecord(raw);
      if (!record) return { kind: "free", seen: "" };
      if (holdsValue(record)) {
        const value = this.codec.decode(record);
        return value === CORRUPT ? { kind: "free", seen: String(record.expiresAt) } : { kind: "value", value };
      }
      if (record.kind === "e") return record.lockToken === token ? { kind: "failed", message: payloadText(record) } : { kind: "free", seen: "" };
      // Still a lock: the same holder, or one that took over from a dead one.
      token = record.lockToken;
    }
  }

  /** A stale or nearly expired value: one caller in the fleet refreshes it (whoever takes the lock); the others keep serving it. */
  private refreshInBackground(entry: EntryKey, loader: Loader<T>, ttlMs: number, record: CacheRecord, stale: T | undefined, early: boolean): void {
    if (this.refreshing.has(entry.id)) return;
    this.refreshing.add(entry.id);
    void (async () => {
      const token = randomBytes(12).toString("base64url");
      const reply = (await this.store.run(ACQUIRE, entry.full, [token, this.options.lockTtlMs, String(record.expiresAt)])) as [number];
      if (reply[0] !== 1) return; // another caller refreshes it, or already has
      if (early) this.meter.earlyRefreshes++;
      await this.loadLocked(entry, loader, ttlMs, token, stale);
    })()
      .catch((error: unknown) => this.events.error(this.namespace, entry.display, error as Error, "stale"))
      .finally(() => this.refreshing.delete(entry.id));
  }

  /**
   * The lock holder's load: the loader runs (its lock extended meanwhile),
   * then its value is written if the lock is still held. Callers wait for it
   * at most waitTimeoutMs; past that they get the stale value, if any, or
   * CacheTimeoutError, and the loader's signal aborts.
   */
  private async loadLocked(entry: EntryKey, loader: Loader<T>, ttlMs: number, token: string, stale: T | undefined): Promise<Found<T>> {
    const lockTtl = this.options.lockTtlMs;
    const extender = setInterval(() => void this.store.run(EXTEND, entry.full, [token, lockTtl]).catch(() => undefined), Math.max(1, Math.floor(lockTtl / 3)));
    extender.unref();
    const controller = new AbortController();
    const settled = this.runLoader((signal) => loader({ key: entry.display, stale, signal }), controller.signal).finally(() => clearInterval(extender));
    const written = settled.then(async (outcome) => {
      if (outcome.ok) await this.commit(entry, token, outcome.value, ttlMs, outcome.ms);
      else await this.store.run(RELEASE, entry.full, [token, outcome.error.message.slice(0, MAX_MESSAGE), DEFAULTS.cache.loadErrorTtlMs]);
    });
    // Callers past their deadline do not wait for the write; a write that failed (the store went down) is reported, never thrown.
    written.catch((error: unknown) => {
      if (!(error instanceof CacheSerializationError)) this.events.error(this.namespace, entry.display, error as Error, "loader");
    });
    const outcome = await this.withinWait(settled, controller);
    if (outcome === "timeout") {
      this.meter.loads.timeout++;
      return this.failed(entry, stale, new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "the loader did not finish"));
    }
    if (!outcome.ok) return this.failed(entry, stale, outcome.error);
    try {
      await written;
    } catch (error) {
      // A value that cannot be stored is the caller's error; the store failing is not (the value is still good).
      if (error instanceof CacheSerializationError) return this.failed(entry, stale, error);
    }
    return { value: outcome.value, result: "miss" };
  }

  /** The store is unavailable: call the loader directly (in-process callers still share it), write nothing. */
  private async loadDirectly(entry: EntryKey, loader: Loader<T>, cause: Error): Promise<Found<T>> {
    this.events.error(this.namespace, entry.display, cause, "loader");
    const controller = new AbortController();
    const outcome = await this.withinWait(this.runLoader((signal) => loader({ key: entry.display, stale: undefined, signal }), controller.signal), controller);
    if (outcome === "timeout") {
      this.meter.loads.timeout++;
      throw new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "the loader did not finish (the cache is unavailable)");
    }
    if (!outcome.ok) throw outcome.error;
    return { value: outcome.value, result: "miss" };
  }

  /** Runs a loader once, timing and counting it; never rejects. */
  private async runLoader<V>(load: (signal: AbortSignal) => Promise<V> | V, signal: AbortSignal): Promise<{ ok: true; value: V; ms: number } | { ok: false; error: Error }> {
    const started = performance.now();
    try {
      const value = await load(signal);
      const ms = performance.now() - started;
      this.meter.loads.ok++;
      this.meter.loadDuration.observe(ms / 1000);
      return { ok: true, value, ms };
    } catch (error) {
      this.meter.loads.error++;
      this.meter.loadDuration.observe((performance.now() - started) / 1000);
      return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /** Writes a loaded value (or "not found") under the lock; a refused write (the lock was lost) is counted, the value still returned. */
  private async commit(entry: EntryKey, token: string, value: T | undefined, ttlMs: number, loadMs: number): Promise<void> {
    const { staleMs, negativeTtlMs } = this.options;
    if (value === undefined && negativeTtlMs === 0) {
      await this.store.run(RELEASE, entry.full, [token, "", 0]);
      return;
    }
    const now = Date.now();
    const fresh = value === undefined ? negativeTtlMs : jitteredTtl(ttlMs, this.options.jitter, this.random);
    const keep = value === undefined ? fresh : fresh + staleMs;
    let record: Buffer;
    try {
      record = this.codec.encode(value, now + fresh, now + keep, loadMs);
    } catch (error) {
      await this.store.run(RELEASE, entry.full, [token, "", 0]);
      throw error;
    }
    const ok = await this.store.run(COMMIT, entry.full, [token, record, keep]);
    if (ok !== 1) this.meter.refusedWrites++;
  }

  /** A load that failed or ran out of time: the stale value if there is one (the failure reported), else the failure. */
  private failed(entry: EntryKey, stale: T | undefined, error: Error): Found<T> {
    if (stale !== undefined) {
      this.events.error(this.namespace, entry.display, error, "stale");
      return { value: stale, result: "stale" };
    }
    this.events.error(this.namespace, entry.display, error, "error");
    throw error;
  }

  /** The loader's outcome, or "timeout" once waitTimeoutMs has passed; then its signal aborts (nobody awaits its value). */
  private withinWait<R>(loading: Promise<R>, controller: AbortController): Promise<R | "timeout"> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve("timeout");
      }, this.options.waitTimeoutMs);
    });
    return Promise.race([loading, timeout]).finally(() => clearTimeout(timer));
  }

  /** Many keys: one MGET per shard; hits served, stale ones refreshed in the background, misses locked and loaded in one call. */
  private async resolveMany<K extends CacheKey>(
    wanted: ReadonlyArray<{ entry: EntryKey; key: K }>,
    loader: ManyLoader<K, T>,
    ttlMs: number,
  ): Promise<Map<string, Found<T>>> {
    const out = new Map<string, Found<T>>();
    const one = (key: K): Loader<T> => async (context) => pick(await loader([key], { signal: context.signal }), key, 0);
    let raws: Array<Buffer | null>;
    try {
      raws = await this.store.mget(wanted.map((w) => w.entry.full));
    } catch {
      raws = wanted.map(() => null);
    }
    const misses: Array<{ entry: EntryKey; key: K; seen: string }> = [];
    wanted.forEach(({ entry, key }, i) => {
      const found = this.read(raws[i] ?? null, Date.now(), true);
      if (found.result === "miss") misses.push({ entry, key, seen: this.seen(found.record) });
      else {
        if (found.result === "stale") this.refreshInBackground(entry, one(key), ttlMs, found.record!, found.value, false);
        out.set(entry.id, found);
      }
    });
    if (!misses.length) return out;
    // Take every missing key's lock at once (auto-pipelined: one write per shard); load the ones taken in one call.
    const taken = await Promise.all(
      misses.map(async (miss) => {
        const token = randomBytes(12).toString("base64url");
        try {
          const reply = (await this.store.run(ACQUIRE, miss.entry.full, [token, this.options.lockTtlMs, miss.seen])) as [number, Buffer?];
          return reply[0] === 1 ? token : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    // In the caller's order, so the loader sees the keys as they were asked for.
    const mine = misses.flatMap((miss, i) => (taken[i] ? [{ ...miss, token: taken[i] }] : []));
    const others = misses.filter((_, i) => !taken[i]);
    if (mine.length) {
      const loaded = await this.loadManyLocked(mine, loader, ttlMs);
      for (const [id, found] of loaded) out.set(id, found);
    }
    // Locked by another caller (or the store failed): the single-key path waits, or loads directly.
    await Promise.all(others.map(async ({ entry, key, seen }) => out.set(entry.id, await this.rebuild(entry, one(key), ttlMs, seen))));
    return out;
  }

  /** The loads this caller holds the locks of, in one loader call; each value written under its own lock. */
  private async loadManyLocked<K extends CacheKey>(
    mine: ReadonlyArray<{ entry: EntryKey; key: K; token: string }>,
    loader: ManyLoader<K, T>,
    ttlMs: number,
  ): Promise<Map<string, Found<T>>> {
    const lockTtl = this.options.lockTtlMs;
    const extend = () => mine.forEach(({ entry, token }) => void this.store.run(EXTEND, entry.full, [token, lockTtl]).catch(() => undefined));
    const extender = setInterval(extend, Math.max(1, Math.floor(lockTtl / 3)));
    extender.unref();
    const keys = mine.map((m) => m.key);
    const controller = new AbortController();
    const settled = this.runLoader((signal) => loader(keys, { signal }), controller.signal).finally(() => clearInterval(extender));
    const outcome = await this.withinWait(settled, controller);
    const out = new Map<string, Found<T>>();
    if (outcome === "timeout" || !outcome.ok) {
      const error =
        outcome === "timeout" ? new CacheTimeoutError(this.namespace, mine[0]!.entry.display, this.options.waitTimeoutMs, "the loader did not finish") : outcome.error;
      if (outcome === "timeout") this.meter.loads.timeout++;
      await Promise.all(mine.map(({ entry, token }) => this.store.run(RELEASE, entry.full, [token, error.message.slice(0, MAX_MESSAGE), DEFAULTS.cache.loadErrorTtlMs]).catch(() => undefined)));
      this.events.error(this.namespace, mine[0]!.entry.display, error, "error");
      throw error;
    }
    const values = outcome.value;
    const unstorable: Error[] = [];
    await Promise.all(
      mine.map(async ({ entry, key, token }, i) => {
        const value = pick(values, key, i);
        await this.commit(entry, token, value, ttlMs, outcome.ms).catch((error: unknown) => {
          if (error instanceof CacheSerializationError) unstorable.push(error);
          else this.events.error(this.namespace, entry.display, error as Error, "loader");
        });
        out.set(entry.id, { value, result: "miss" });
      }),
    );
    if (unstorable.length) throw unstorable[0];
    return out;
  }
}

/** A many-loader's value for one key: by position in an array, by key in a Map. */
function pick<K extends CacheKey, T>(values: ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>, key: K, index: number): T | undefined {
  if (values instanceof Map) return values.get(key);
  if (Array.isArray(values)) return values[index];
  throw new TypeError("a getOrSetMany loader must return an array (in the order of the keys it was given) or a Map");
}
