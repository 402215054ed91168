/**
 * The hot-key detector's families: per shard, never per key, unless the
 * user opts in to key labels (metrics.hotKeyLabels), and then at most
 * topK series with long keys truncated.
 */
import { createHash } from "node:crypto";
import { DEFAULTS } from "../config/defaults.js";
import type { Family } from "./families.js";

/** A key as a label value: as it is up to 64 characters; longer, its start and a hash of the whole (still one series per key). */
export function hotKeyLabel(key: string, max = DEFAULTS.metrics.hotKeyLabelLength): string {
  if (key.length <= max) return key;
  const hash = createHash("sha1").update(key).digest("hex").slice(0, 8);
  return `${key.slice(0, max - 10)}…#${hash}`;
}

export const HOT_KEY_FAMILIES: readonly Family[] = [
  {
    name: "hot_key_share",
    help: "Share (0-1) of a shard's commands in the detector's last window that went to its top-k keys: near 1, a few keys take the shard.",
    type: "gauge",
    samples: (f) => f.hot?.loads.map((l) => ({ labels: { shard: l.shard }, value: l.hotKeyShare })) ?? [],
  },
  {
    name: "shard_load_share",
    help: "Share (0-1) of all routed commands in the detector's last window that went to each shard: a hot shard stands out from 1/shards.",
    type: "gauge",
    samples: (f) => f.hot?.loads.map((l) => ({ labels: { shard: l.shard }, value: l.loadShare })) ?? [],
  },
  {
    name: "hot_key_rate",
    help: "Commands per second on each top-k key in the detector's last window (only with metrics.hotKeyLabels: true; at most hotKeys.topK series).",
    type: "gauge",
    samples: (f) => (f.hot?.keyLabels ? f.hot.keys.map((k) => ({ labels: { shard: k.shard, key: hotKeyLabel(k.key) }, value: k.rate })) : []),
  },
];
