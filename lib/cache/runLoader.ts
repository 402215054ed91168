/**
 * One loader call, timed, counted and bounded by loadTimeoutMs: past it the
 * load is abandoned (its signal aborted, the outcome a
 * CacheLoadTimeoutError) and whatever the loader returns later is dropped,
 * so a loader that never settles holds nothing (no lock, no flight) beyond
 * loadTimeoutMs.
 */
import { CacheLoadTimeoutError } from "../errors.js";
import type { CacheMeter } from "../metrics/cacheMeter.js";
import type { EntryKey } from "./keys.js";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { callsTraced } from "../metrics/tracing.js";

export type LoaderResult<V> =
  | { readonly ok: true; readonly value: V; readonly ms: number }
  /** timedOut: abandoned at loadTimeoutMs (error is then a CacheLoadTimeoutError). */
  | { readonly ok: false; readonly error: Error; readonly timedOut: boolean };

/** Runs `load` once; never rejects. `entry` names the key (the first of a batch) in a timeout's error. */
export function runLoader<V>(
  load: (signal: AbortSignal) => Promise<V> | V,
  entry: EntryKey,
  namespace: string,
  loadTimeoutMs: number,
  meter: CacheMeter,
  /** Traces the loader call as a span of its own (a "load" call), its own commands inside it. */
  tracing?: ClientTracing,
): Promise<LoaderResult<V>> {
  const controller = new AbortController();
  const started = performance.now();
  return new Promise((resolve) => {
    let over = false;
    const finish = (outcome: LoaderResult<V>): void => {
      over = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const finished = (outcome: LoaderResult<V>): void => {
      if (over) return;
      meter.loads[outcome.ok ? "ok" : "error"]++;
      meter.loadDuration.observe((performance.now() - started) / 1000);
      finish(outcome);
    };
    const timer = setTimeout(() => {
      const error = new CacheLoadTimeoutError(namespace, entry.display, loadTimeoutMs);
      meter.loads.timeout++;
      finish({ ok: false, error, timedOut: true });
      controller.abort(error);
    }, loadTimeoutMs);
    // Housekeeping: a caller waiting on the load keeps the process alive by its own timer.
    timer.unref();
    let pending: Promise<V>;
    try {
      pending =
        tracing !== undefined && callsTraced()
          ? tracing.call("load", "load", undefined, () => Promise.resolve(load(controller.signal)), { namespace })
          : Promise.resolve(load(controller.signal));
    } catch (error) {
      pending = Promise.reject(error);
    }
    // What an abandoned loader returns later is dropped, and not counted again.
    pending.then(
      (value) => finished({ ok: true, value, ms: performance.now() - started }),
      (error: unknown) => finished({ ok: false, error: error instanceof Error ? error : new Error(String(error)), timedOut: false }),
    );
  });
}
