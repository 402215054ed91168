/**
 * After the soak: where each key lives (for the loss windows) and what the
 * final masters hold for the keys written with a write concern, read
 * directly from the servers, not through shardis.
 */
import { keySlot, ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import type { PhaseClock } from "../../lib/migration/clock.js";
import { admin } from "./admin.js";
import type { Scope } from "./check/losses.js";
import { clusterSlots, masterOf } from "./health.js";
import type { ChaosTopology } from "./topology.js";

/**
 * A key's shard as the clients place it (plain, sentinel), or its slot
 * (cluster). Grown (--grow): its shard in the fleet after, and for a key
 * that moves, both owners with when each may hold it (the migration's clock).
 */
export function scopes(topology: ChaosTopology, options: ShardedClientOptions, clock?: PhaseClock): { of(key: string): Scope; close(): Promise<void> } {
  if (topology.kind === "cluster") return { of: (key) => ({ slot: keySlot(key) }), close: async () => undefined };
  // Placement is by the shard names and strategy alone: a client that never connects answers it.
  const lazy = (o: ShardedClientOptions) => new ShardedClient({ ...o, redis: options.redis, lazyConnect: true });
  const placer = lazy(topology.fleets?.to ?? options);
  const before = topology.fleets && clock ? lazy(topology.fleets.from) : undefined;
  const cache = new Map<string, Scope>();
  const place = (key: string): Scope => {
    const shard = placer.shardOf(key);
    const old = before?.shardOf(key);
    if (!old || old === shard) return { shard };
    // The old owner is read until every process is past done; the new one holds copies from warm on.
    const owners = [
      { shard: old, from: -Infinity, until: clock!.retireAt },
      { shard, from: clock!.warmAt - clock!.boundMs, until: Infinity },
    ];
    return { shard, owners };
  };
  return {
    of(key) {
      let scope = cache.get(key);
      if (!scope) cache.set(key, (scope = place(key)));
      return scope;
    },
    close: async () => void (await Promise.all([placer.quit(), before?.quit()])),
  };
}

/** Each key's value on the master that serves it now (null: missing; undefined: could not be read). */
export async function readFinal(topology: ChaosTopology, keys: string[], scope: (key: string) => Scope): Promise<Map<string, string | null | undefined>> {
  const byMaster = new Map<string, string[]>();
  const slots = topology.kind === "cluster" ? await clusterSlots(topology) : undefined;
  const masters = new Map<string, string | undefined>();
  for (const key of keys) {
    let master: string | undefined;
    if (slots) {
      const slot = keySlot(key);
      master = [...slots].find(([, ranges]) => ranges.some(([a, b]) => a <= slot && slot <= b))?.[0];
    } else {
      const shard = scope(key).shard!;
      if (!masters.has(shard)) masters.set(shard, await masterOf(topology, shard));
      master = masters.get(shard);
    }
    if (!master) continue;
    const list = byMaster.get(master) ?? [];
    byMaster.set(master, list);
    list.push(key);
  }
  const final = new Map<string, string | null | undefined>();
  for (const [master, mine] of byMaster) {
    for (let i = 0; i < mine.length; i += 1000) {
      const batch = mine.slice(i, i + 1000);
      const replies = await admin(master).pipeline(batch.map((k) => ["get", k])).exec().catch(() => null);
      batch.forEach((k, j) => {
        const [error, value] = replies?.[j] ?? [new Error("no reply"), undefined];
        final.set(k, error ? undefined : (value as string | null));
      });
    }
  }
  return final;
}
