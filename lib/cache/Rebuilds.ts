/**
 * Loading a key, for client.cache(): a miss, a direct load while the key's
 * node is down, the refreshes (stale or early) and getOrSetMany's batches.
 * The public methods are the only way a loader gets called, and each runs
 * as the key's flight (Flights.ts): one load per key per process at a time.
 *
 * A caller takes the key's rebuild lock (a Lua script on the key's node) and
 * runs the loader, extending the lock meanwhile and writing the value only
 * while it still holds the lock (fencing); a caller that finds the lock
 * taken polls the key until the value is there, the load failed, the lock
 * is free again, or waitTimeoutMs passes. A loader running past
 * loadTimeoutMs is abandoned (runLoader.ts): its lock is no longer extended
 * and is given up, so another process can load, and a value it returns
 * later is not written. Stale and nearly expired values are refreshed in
 * the background by whichever caller takes the lock.
 */
import { randomBytes } from "node:crypto";
import type { ResolvedCacheOptions } from "../config/cache.js";
import { DEFAULTS } from "../config/defaults.js";
import { CacheLoadError, CacheSerializationError, CacheTimeoutError } from "../errors.js";
import type { CacheMeter } from "../metrics/cacheMeter.js";
import { CORRUPT, type ValueCodec } from "./codec.js";
import { Flights } from "./Flights.js";
import type { EntryKey } from "./keys.js";
import { decodeRecord, holdsValue, payloadText, type CacheRecord } from "./record.js";
import { runLoader, type LoaderResult } from "./runLoader.js";
import { ACQUIRE, COMMIT, EXTEND, RELEASE } from "./scripts.js";
import type { CacheEvents, CacheKey, CacheStore } from "./store.js";
import { jitteredTtl } from "./timing.js";
import type { Found, Loader, ManyLoader } from "./types.js";
import type { ClientTracing } from "../metrics/clientTracing.js";

/** What a caller waiting on another's load saw. */
type Waited<T> =
  | { readonly kind: "value"; readonly value: T | undefined }
  | { readonly kind: "failed"; readonly message: string }
  | { readonly kind: "free"; readonly seen: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "down"; readonly error: Error };

/** A key getOrSetMany found missing: the caller's key, and the `seen` argument of its lock's acquire. */
export interface Miss<K> {
  readonly entry: EntryKey;
  readonly key: K;
  readonly seen: string;
}

/** A rebuild lock this process holds. */
interface Lock {
  readonly entry: EntryKey;
  readonly token: string;
}

/** Longest loader error message carried to other processes' waiters. */
const MAX_MESSAGE = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const ignore = (): void => undefined;
const newToken = () => randomBytes(12).toString("base64url");

export class Rebuilds<T> {
  /** This process's loads, one per key: every public method below runs as one. */
  private readonly flights: Flights<T>;

  constructor(
    private readonly options: ResolvedCacheOptions<T>,
    private readonly store: CacheStore,
    private readonly meter: CacheMeter,
    private readonly events: CacheEvents,
    private readonly codec: ValueCodec<T>,
    /** Jitter draws (the cache's, replaceable in tests). */
    private readonly random: () => number,
    /** Loader calls are traced through it (spans of their own). */
    private readonly tracing?: ClientTracing,
  ) {
    const { namespace, waitTimeoutMs } = options;
    this.flights = new Flights(
      waitTimeoutMs,
      (entry) => new CacheTimeoutError(namespace, entry.display, waitTimeoutMs, "the load did not finish (it goes on; callers from now on wait for it)"),
    );
  }

  private get namespace(): string {
    return this.options.namespace;
  }

  /** How many loads callers wait for run in this process (refreshes not counted): while 0, the hit path looks nothing up. */
  get running(): number {
    return this.flights.awaitedLoads;
  }

  /** The key's load that callers wait for, when one runs (not a refresh): joined without reading the key. */
  awaited(entry: EntryKey): Promise<Found<T>> | undefined {
    return this.flights.awaited(entry);
  }

  /** A miss: take the lock and load, or wait for whoever holds it; joins this process's load of the key if one runs. */
  rebuild(entry: EntryKey, loader: Loader<T>, ttlMs: number, seen: string): Promise<Found<T>> {
    return this.flights.run(entry, () => this.lockAndLoad(entry, loader, ttlMs, seen));
  }

  /** The key's node cannot be used: the loader is called directly, nothing written; joins this process's load of the key if one runs. */
  loadDirectly(entry: EntryKey, loader: Loader<T>, cause: Error): Promise<Found<T>> {
    return this.flights.run(entry, () => this.direct(entry, loader, cause));
  }

  /** A stale or nearly expired value: one caller in the fleet refreshes it (whoever takes the lock); the others keep serving it. */
  refreshInBackground(entry: EntryKey, loader: Loader<T>, ttlMs: number, record: CacheRecord, stale: T | undefined, early: boolean): void {
    this.flights.background(entry, () => this.refresh(entry, loader, ttlMs, record, stale, early));
  }

  /**
   * getOrSetMany's misses, a promise per key: keys this process loads
   * already are joined; the others are locked together and loaded in one
   * loader call (or, their node down, loaded directly in one call).
   */
  loadMany<K extends CacheKey>(misses: ReadonlyArray<Miss<K>>, loader: ManyLoader<K, T>, ttlMs: number): Map<string, Promise<Found<T>>> {
    if (!misses.length) return new Map();
    const byId = new Map(misses.map((miss) => [miss.entry.id, miss]));
    return this.flights.runMany(
      misses.map((miss) => miss.entry),
      (free) => this.lockAndLoadMany(free.map((entry) => byId.get(entry.id)!), loader, ttlMs),
      (entry) => this.lockAndLoad(entry, one(loader, byId.get(entry.id)!.key), ttlMs, byId.get(entry.id)!.seen),
    );
  }

  /** The work of a miss (inside its flight): lock and load, or wait for the holder; again if the lock is given up without a value. */
  private async lockAndLoad(entry: EntryKey, loader: Loader<T>, ttlMs: number, seen: string): Promise<Found<T>> {
    const deadline = performance.now() + this.options.waitTimeoutMs;
    let waited = false;
    for (;;) {
      if (performance.now() >= deadline) {
        throw new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "the rebuild lock changed hands without a value being written");
      }
      const acquired = await this.acquire(entry, seen);
      if ("down" in acquired) return this.direct(entry, loader, acquired.down);
      if ("token" in acquired) return this.loadLockedMiss(entry, loader, ttlMs, acquired.token, waited ? "took_over" : "loaded");
      const current = acquired.current;
      if (current && holdsValue(current)) {
        // Written since this caller looked: use it.
        const value = this.codec.decode(current);
        if (value !== CORRUPT) return { value, result: "miss", how: "waited" };
        seen = String(current.expiresAt);
        continue;
      }
      if (!waited) this.meter.lockWaits++;
      waited = true;
      const outcome = await this.waitFor(entry, current?.lockToken ?? "", deadline);
      switch (outcome.kind) {
        case "value":
          return { value: outcome.value, result: "miss", how: "waited" };
        case "failed":
          throw new CacheLoadError(this.namespace, entry.display, outcome.message);
        case "timeout":
          throw new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "another caller holds the rebuild lock and has not written a value");
        case "down":
          return this.direct(entry, loader, outcome.error);
        case "free":
          seen = outcome.seen;
      }
    }
  }

  /** Tries the key's lock: taken (a token), refused (with what is there), or the node could not be used. */
  private async acquire(entry: EntryKey, seen: string): Promise<{ token: string } | { down: Error } | { current: CacheRecord | undefined }> {
    const token = newToken();
    let reply: [number, Buffer?];
    try {
      reply = (await this.store.run(ACQUIRE, entry.full, [token, this.options.lockTtlMs, seen])) as [number, Buffer?];
    } catch (error) {
      return { down: error as Error };
    }
    if (reply[0] === 1) return { token };
    return { current: reply[1] ? decodeRecord(Buffer.from(reply[1])) : undefined };
  }

  /** A miss whose lock this caller took: its value, or its failure reported and thrown. */
  private async loadLockedMiss(entry: EntryKey, loader: Loader<T>, ttlMs: number, token: string, how: "loaded" | "took_over"): Promise<Found<T>> {
    try {
      return { value: await this.loadLocked(entry, loader, ttlMs, token, undefined), result: "miss", how };
    } catch (error) {
      this.events.error(this.namespace, entry.display, error as Error, "error");
      throw error;
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

  /** The work of a refresh (a background flight): the new value, or the stale one when it did not load (the failure reported). */
  private async refresh(entry: EntryKey, loader: Loader<T>, ttlMs: number, record: CacheRecord, stale: T | undefined, early: boolean): Promise<Found<T>> {
    const served: Found<T> = { value: stale, result: "stale" };
    try {
      const lock = await this.acquire(entry, String(record.expiresAt));
      if ("down" in lock) throw lock.down;
      if (!("token" in lock)) return served; // another caller refreshes it, or already has
      if (early) this.meter.earlyRefreshes++;
      return { value: await this.loadLocked(entry, loader, ttlMs, lock.token, stale), result: "miss" };
    } catch (error) {
      this.events.error(this.namespace, entry.display, error as Error, "stale");
      return served;
    }
  }

  /**
   * The lock holder's load: the loader runs (its lock extended meanwhile,
   * for at most loadTimeoutMs), then its value is written if the lock is
   * still held. Throws the loader's error, CacheLoadTimeoutError or
   * CacheSerializationError, the lock given up; a store that fails the
   * write is reported, not thrown (the value is still good).
   */
  private async loadLocked(entry: EntryKey, loader: Loader<T>, ttlMs: number, token: string, stale: T | undefined): Promise<T | undefined> {
    const outcome = await this.runLocked([{ entry, token }], (signal) => loader({ key: entry.display, stale, signal }));
    if (!outcome.ok) throw outcome.error;
    try {
      await this.commit(entry, token, outcome.value, ttlMs, outcome.ms);
    } catch (error) {
      if (error instanceof CacheSerializationError) throw error;
      this.events.error(this.namespace, entry.display, error as Error, "loader");
    }
    return outcome.value;
  }

  /**
   * Runs a loader holding locks, extending them meanwhile. When it fails
   * they are given up: with its message, for the callers of other processes
   * waiting on them; past loadTimeoutMs without one, so that one of those
   * callers takes the lock and loads.
   */
  private async runLocked<V>(locks: readonly Lock[], load: (signal: AbortSignal) => Promise<V> | V): Promise<LoaderResult<V>> {
    const lockTtl = this.options.lockTtlMs;
    // A failed extension is not retried: the lock lapses and the write is then refused (fencing).
    const extend = () => locks.forEach(({ entry, token }) => void this.store.run(EXTEND, entry.full, [token, lockTtl]).catch(ignore));
    const extender = setInterval(extend, Math.max(1, Math.floor(lockTtl / 3)));
    extender.unref();
    const outcome = await runLoader(load, locks[0]!.entry, this.namespace, this.options.loadTimeoutMs, this.meter, this.tracing);
    clearInterval(extender);
    if (!outcome.ok) {
      const message = outcome.timedOut ? "" : outcome.error.message.slice(0, MAX_MESSAGE);
      // Not awaited by the callers; a release that fails leaves the lock to lapse after lockTtlMs.
      for (const { entry, token } of locks) void this.store.run(RELEASE, entry.full, [token, message, DEFAULTS.cache.loadErrorTtlMs]).catch(ignore);
    }
    return outcome;
  }

  /** The work of a direct load (the store unavailable): the loader's value, written nowhere. */
  private async direct(entry: EntryKey, loader: Loader<T>, cause: Error): Promise<Found<T>> {
    this.events.error(this.namespace, entry.display, cause, "loader");
    const outcome = await runLoader(
      (signal) => loader({ key: entry.display, stale: undefined, signal }),
      entry,
      this.namespace,
      this.options.loadTimeoutMs,
      this.meter,
      this.tracing,
    );
    if (!outcome.ok) throw outcome.error;
    return { value: outcome.value, result: "miss", how: "direct" };
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

  /**
   * The work of getOrSetMany's batch (a flight per key): every lock tried
   * at once (auto-pipelined: one write per shard); the keys locked loaded in
   * one loader call, those whose node is down in one direct call, those
   * another caller holds waited for one by one (the single-key path).
   */
  private lockAndLoadMany<K extends CacheKey>(misses: ReadonlyArray<Miss<K>>, loader: ManyLoader<K, T>, ttlMs: number): Map<string, Promise<Found<T>>> {
    const loads = Promise.all(misses.map((miss) => this.acquire(miss.entry, miss.seen))).then((replies) => {
      const mine: Array<Miss<K> & Lock> = [];
      const down: Array<Miss<K>> = [];
      const out = new Map<string, Promise<Found<T>>>();
      let cause: Error | undefined;
      misses.forEach((miss, i) => {
        const reply = replies[i]!;
        if ("token" in reply) mine.push({ ...miss, token: reply.token });
        else if ("down" in reply) {
          down.push(miss);
          cause ??= reply.down;
        } else out.set(miss.entry.id, this.lockAndLoad(miss.entry, one(loader, miss.key), ttlMs, miss.seen));
      });
      if (mine.length) {
        const loaded = this.loadManyLocked(mine, loader, ttlMs);
        for (const { entry } of mine) out.set(entry.id, loaded.then((all) => all.get(entry.id)!));
      }
      if (down.length) {
        const loaded = this.directMany(down, loader, cause!);
        for (const { entry } of down) out.set(entry.id, loaded.then((all) => all.get(entry.id)!));
      }
      return out;
    });
    return new Map(misses.map(({ entry }) => [entry.id, loads.then((out) => out.get(entry.id)!)]));
  }

  /** The keys whose locks this caller took, in one loader call; each value written under its own lock. */
  private async loadManyLocked<K extends CacheKey>(mine: ReadonlyArray<Miss<K> & Lock>, loader: ManyLoader<K, T>, ttlMs: number): Promise<Map<string, Found<T>>> {
    const keys = mine.map((m) => m.key);
    const outcome = await this.runLocked(mine, async (signal) => manyValues(await loader(keys, { signal })));
    if (!outcome.ok) {
      this.events.error(this.namespace, mine[0]!.entry.display, outcome.error, "error");
      throw outcome.error;
    }
    const out = new Map<string, Found<T>>();
    const unstorable: Error[] = [];
    await Promise.all(
      mine.map(async ({ entry, key, token }, i) => {
        const value = pick(outcome.value, key, i);
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

  /** Keys whose node cannot be used, in one loader call; nothing written. */
  private async directMany<K extends CacheKey>(down: ReadonlyArray<Miss<K>>, loader: ManyLoader<K, T>, cause: Error): Promise<Map<string, Found<T>>> {
    this.events.error(this.namespace, down[0]!.entry.display, cause, "loader");
    const keys = down.map((m) => m.key);
    const outcome = await runLoader(async (signal) => manyValues(await loader(keys, { signal })), down[0]!.entry, this.namespace, this.options.loadTimeoutMs, this.meter, this.tracing);
    if (!outcome.ok) throw outcome.error;
    return new Map(down.map(({ entry, key }, i) => [entry.id, { value: pick(outcome.value, key, i), result: "miss" }]));
  }
}

type ManyValues<K, T> = ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>;

/** A many-loader's answer, checked: an array or a Map (anything else is the loader's error, its locks given up). */
function manyValues<K, T>(values: ManyValues<K, T>): ManyValues<K, T> {
  if (values instanceof Map || Array.isArray(values)) return values;
  throw new TypeError("a getOrSetMany loader must return an array (in the order of the keys it was given) or a Map");
}

/** A many-loader as the loader of one key. */
export function one<K extends CacheKey, T>(loader: ManyLoader<K, T>, key: K): Loader<T> {
  return async (context) => pick(manyValues(await loader([key], { signal: context.signal })), key, 0);
}

/** A many-loader's value for one key: by position in an array, by key in a Map. */
export function pick<K extends CacheKey, T>(values: ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>, key: K, index: number): T | undefined {
  if (values instanceof Map) return values.get(key);
  if (Array.isArray(values)) return values[index];
  throw new TypeError("a getOrSetMany loader must return an array (in the order of the keys it was given) or a Map");
}

