/**
 * shardis's own cost per traced call, without I/O: GETs answered from the
 * near cache (no command sent, nothing written or read on a socket) still go
 * through the whole call path: the call's trace, the hook, its span, the
 * call's settlement. In chunks of concurrent GETs, awaited, on keys read
 * once before (so every GET is a hit); CPU microseconds per GET, as a
 * RunResult for compare(). Untraced against instrumented, and against the
 * SDK floor of the same span (NEAR_HIT_ATTRIBUTES): what is left over is
 * shardis's. A tight loop is far steadier on a shared machine than the
 * closed loop's CPU per command, where write sizes move with throughput.
 */
import type { ShardedClient } from "shardis";
import type { RunResult } from "./workload.js";

/** The attributes of a near-cache hit's span: the operation's and the hit (no node: nothing was sent). */
export const NEAR_HIT_ATTRIBUTES = Object.freeze({
  "db.system.name": "redis",
  "db.operation.name": "GET",
  "db.namespace": "0",
  "shardis.near_cache.hit": true,
});

const CHUNK = 256;

/** Reads `keys` twice, so the near cache holds them; then they are hits (nothing writes them meanwhile). */
export async function warmNearCache(client: ShardedClient, keys: readonly string[]): Promise<void> {
  for (let pass = 0; pass < 2; pass++) await Promise.all(keys.map((k) => client.get(k)));
}

export async function nearHits(client: ShardedClient, keys: readonly string[], calls: number): Promise<RunResult> {
  const cpu = process.cpuUsage();
  const startedAt = performance.now();
  const batch: Array<Promise<unknown>> = new Array(CHUNK);
  for (let made = 0; made < calls; made += CHUNK) {
    for (let i = 0; i < CHUNK; i++) batch[i] = client.get(keys[(made + i) % keys.length]!);
    await Promise.all(batch);
  }
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - startedAt) / 1000;
  return { ops: calls, errors: 0, opsPerSec: calls / seconds, p50Ms: 0, p99Ms: 0, cpuMicrosPerOp: (used.user + used.system) / calls };
}
