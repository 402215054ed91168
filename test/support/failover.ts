/**
 * A master's death under steady writes, measured: SIGKILL a shard's master
 * while writing to it every 5 ms, watch +switch-master from an independent
 * subscriber, and report when writes succeeded again.
 */
import type { Redis } from "ioredis";
import type { ShardedClient } from "../../lib/index.js";
import { sleep } from "./fleet.js";
import { eventually } from "./keys.js";
import type { HaTopology } from "./sentinel.js";

export interface FailoverRun {
  /** Every write, when it ended (failures: when it began), and how. */
  readonly outcomes: Array<{ at: number; ok: boolean; error?: unknown }>;
  readonly killedAt: number;
  readonly switchedAt: number;
  /** From +switch-master to the first write that succeeded after it, in ms. */
  readonly firstWriteMs: number;
}

/** Timestamps +switch-master as the sentinels publish it, seen by an independent subscriber. */
export async function switchWatcher(ha: HaTopology): Promise<{ at(masterName: string): number | undefined; stop(): void }> {
  const sub: Redis = ha.sentinels[ha.sentinels.length - 1]!.client();
  const seen = new Map<string, number>();
  sub.on("message", (_channel: string, message: string) => {
    const name = message.split(" ")[0]!;
    if (!seen.has(name)) seen.set(name, performance.now());
  });
  await sub.subscribe("+switch-master");
  return { at: (name) => seen.get(name), stop: () => sub.disconnect() };
}

export async function killMasterUnderWrites(ha: HaTopology, client: ShardedClient, shard: number, key: string): Promise<FailoverRun> {
  const name = ha.shards[shard]!.masterName;
  const watcher = await switchWatcher(ha);
  const outcomes: FailoverRun["outcomes"] = [];
  let writing = true;
  const stopAt = performance.now() + 30_000;
  // Steady writes to the shard: every 5 ms (pacing, not synchronisation), for at most 30 s.
  const writer = (async () => {
    for (let i = 0; writing && performance.now() < stopAt; i++) {
      const started = performance.now();
      await client.set(key, String(i)).then(
        () => outcomes.push({ at: performance.now(), ok: true }),
        (error: unknown) => outcomes.push({ at: started, ok: false, error }),
      );
      await sleep(5);
    }
  })();
  await eventually(async () => expect20(outcomes.filter((o) => o.ok).length));
  const killedAt = performance.now();
  ha.shards[shard]!.master.signal("SIGKILL");
  let switchedAt = 0;
  try {
    await eventually(async () => {
      const at = watcher.at(name);
      if (at === undefined) throw new Error(`no +switch-master for ${name} yet`);
      switchedAt = at;
    }, 15_000);
    await eventually(async () => {
      if (!outcomes.some((o) => o.ok && o.at > switchedAt)) throw new Error("no write has succeeded since +switch-master");
    }, 5000);
  } finally {
    writing = false;
    await writer;
    watcher.stop();
  }
  const firstWriteMs = outcomes.find((o) => o.ok && o.at > switchedAt)!.at - switchedAt;
  return { outcomes, killedAt, switchedAt, firstWriteMs };
}

function expect20(count: number): void {
  if (count < 20) throw new Error(`${count} writes so far`);
}
