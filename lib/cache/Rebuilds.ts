/**
 * Loading a key, for client.cache(): the miss path and the refreshes. A
 * caller takes the key's rebuild lock (a Lua script on the key's node) and
 * runs the loader, extending the lock meanwhile and writing the value only
 * while it still holds the lock (fencing); a caller that finds the lock
 * taken polls the key until the value is there, the load failed, the lock
 * is free again, or waitTimeoutMs passes. Stale and nearly expired values
 * are refreshed in the background by whichever caller takes the lock.
 */
import { randomBytes } from "node:crypto";
import type { ResolvedCacheOptions } from "../config/cache.js";
import { DEFAULTS } from "../config/defaults.js";
import { CacheLoadError, CacheSerializationError, CacheTimeoutError } from "../errors.js";
import type { CacheMeter } from "../metrics/cacheMeter.js";
import { CORRUPT, type ValueCodec } from "./codec.js";
import type { EntryKey } from "./keys.js";
import { decodeRecord, holdsValue, payloadText, type CacheRecord } from "./record.js";
import { ACQUIRE, COMMIT, EXTEND, RELEASE } from "./scripts.js";
import type { CacheEvents, CacheKey, CacheStore } from "./store.js";
import { jitteredTtl } from "./timing.js";
import type { Found, Loader, ManyLoader } from "./types.js";

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

export class Rebuilds<T> {
  /** Keys this process is refreshing in the background (stale or early). */
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly options: ResolvedCacheOptions<T>,
    private readonly store: CacheStore,
    private readonly meter: CacheMeter,
    private readonly events: CacheEvents,
    private readonly codec: ValueCodec<T>,
    /** Jitter draws (the cache's, replaceable in tests). */
    private readonly random: () => number,
  ) {}

  private get namespace(): string {
    return this.options.namespace;
  }

  /** A miss: take the lock and load, or wait for whoever holds it; again if the lock is given up without a value. */
  async rebuild(entry: EntryKey, loader: Loader<T>, ttlMs: number, seen: string): Promise<Found<T>> {
    const deadline = performance.now() + this.options.waitTimeoutMs;
    let waited = false;
    for (;;) {
      if (performance.now() >= deadline) {
        throw new CacheTimeoutError(this.namespace, entry.display, this.options.waitTimeoutMs, "the rebuild lock changed hands without a value being written");
      }
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
  refreshInBackground(entry: EntryKey, loader: Loader<T>, ttlMs: number, record: CacheRecord, stale: T | undefined, early: boolean): void {
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
  async loadDirectly(entry: EntryKey, loader: Loader<T>, cause: Error): Promise<Found<T>> {
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

  /** The loads this caller holds the locks of, in one loader call; each value written under its own lock. */
  async loadManyLocked<K extends CacheKey>(
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
  }}

/** A many-loader's value for one key: by position in an array, by key in a Map. */
export function pick<K extends CacheKey, T>(values: ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>, key: K, index: number): T | undefined {
  if (values instanceof Map) return values.get(key);
  if (Array.isArray(values)) return values[index];
  throw new TypeError("a getOrSetMany loader must return an array (in the order of the keys it was given) or a Map");
}

