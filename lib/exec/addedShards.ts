/**
 * reconfigure()'s wait for the shards it adds (docs/scaling.md): every added
 * shard's master ready, or why not. reconfigure() commits nothing before
 * this resolves; when it rejects, the caller takes the shards out again.
 */
import type { ResolvedShard } from "../config/shards.js";
import { ClientClosedError } from "../errors.js";
import { ReconfigureError } from "../errors/migration.js";
import type { Executor } from "./Executor.js";

/**
 * Resolves once every shard in `added` (in the layout already) has its
 * master ready; rejects with ReconfigureError naming each shard that was
 * not within the call deadline (its error: not ready, handshake refused,
 * ...), or with ClientClosedError as soon as `closed` settles.
 */
export async function addedShardsReady(executor: Executor, added: readonly ResolvedShard[], closed: Promise<void>): Promise<void> {
  const timeoutMs = executor.defaults.timeoutMs;
  // Every shard's outcome, not the first failure alone: the error names each shard that is not ready.
  const settled = Promise.allSettled(added.map(async (s) => (await executor.masterWhenPlaced(s.index, timeoutMs)).whenReady(timeoutMs)));
  const outcomes = await Promise.race([settled, closed.then(() => undefined)]);
  // close() meanwhile: the shards added are closed with the others, and nobody waits for them.
  if (!outcomes || executor.closed) throw new ClientClosedError();
  const failures = outcomes.flatMap((outcome, i) =>
    outcome.status === "rejected" ? [{ shard: added[i]!.name, error: outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)) }] : [],
  );
  if (failures.length) throw ReconfigureError.notReady(failures);
}

/** A migration whose startAt passed while the shards were readied: this process would join it late, two phases from the others. */
export function startedMeanwhile(startAt: number, now: number): ReconfigureError {
  const iso = (ms: number) => new Date(ms).toISOString();
  return new ReconfigureError(
    `the shards it adds were ready at ${iso(now)}, not before migration.startAt ${iso(startAt)} (every process must hold the migration before it starts); ` +
      "give a startAt further ahead than the wait for new shards (up to the call deadline, timeoutMs)",
  );
}
