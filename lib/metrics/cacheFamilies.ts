/** The metric families of client.cache(): per namespace, never per key. */
import { CACHE_RESULTS, LOAD_OUTCOMES } from "./cacheMeter.js";
import { histogram, type Family, type Sample } from "./families.js";

export const CACHE_FAMILIES: readonly Family[] = [
  {
    name: "cache_requests_total",
    help: "client.cache() requests by what they found: hit (fresh), miss (absent or expired: loaded, or waited for), stale (served past ttlMs while one caller refreshes), negative (a cached not-found).",
    type: "counter",
    samples: (f) => f.caches.flatMap((c) => CACHE_RESULTS.map((result) => ({ labels: { namespace: c.namespace, result }, value: c.requests[result] }))),
  },
  {
    name: "cache_loads_total",
    help: "Loader calls by outcome: ok, error (it threw), timeout (abandoned at loadTimeoutMs).",
    type: "counter",
    samples: (f) => f.caches.flatMap((c) => LOAD_OUTCOMES.map((outcome) => ({ labels: { namespace: c.namespace, outcome }, value: c.loads[outcome] }))),
  },
  {
    name: "cache_load_duration_seconds",
    help: "Seconds per loader call that finished (ok or error).",
    type: "histogram",
    samples(f, fullName) {
      const out: Sample[] = [];
      for (const c of f.caches) histogram(out, fullName, { namespace: c.namespace }, c.loadDuration);
      return out;
    },
  },
  {
    name: "cache_lock_waits_total",
    help: "Times a caller found another caller's rebuild lock and waited for its value instead of loading.",
    type: "counter",
    samples: (f) => f.caches.map((c) => ({ labels: { namespace: c.namespace }, value: c.lockWaits })),
  },
  {
    name: "cache_early_refreshes_total",
    help: "Refreshes started before expiry by XFetch (counted when they took the lock).",
    type: "counter",
    samples: (f) => f.caches.map((c) => ({ labels: { namespace: c.namespace }, value: c.earlyRefreshes })),
  },
  {
    name: "cache_corrupt_entries_total",
    help: "Stored values that could not be read as cache entries; each was treated as a miss and overwritten.",
    type: "counter",
    samples: (f) => f.caches.map((c) => ({ labels: { namespace: c.namespace }, value: c.corruptEntries })),
  },
  {
    name: "cache_refused_writes_total",
    help: "Loaded values not written because their loader lost the rebuild lock meanwhile (fencing).",
    type: "counter",
    samples: (f) => f.caches.map((c) => ({ labels: { namespace: c.namespace }, value: c.refusedWrites })),
  },
];
