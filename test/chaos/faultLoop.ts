/**
 * The fault loop: one fault at a time, picked at random by weight, held for
 * a random while (0.3-3 s) if it lasts, healed, and then the topology is
 * given up to 30 s to be whole again before a pause and the next fault.
 * Faults never overlap, so no shard loses a master and its replica at once.
 * Each fault is logged with its times (faults.jsonl) and printed.
 */
import type { Random } from "../sim/random.js";
import { FAULTS, type FaultPlan } from "./faults/index.js";
import { waitHealthy } from "./health.js";
import { now, type FaultRecord, type JsonLines } from "./history.js";
import type { ChaosTopology } from "./topology.js";

const HEAL_WAIT_MS = 30_000;
/** Longer than Sentinel's down-after (1 s) and the cluster's node timeout (2 s), plus an election. */
const SETTLE_MS = 4000;

export interface FaultLoopOptions {
  readonly topology: ChaosTopology;
  readonly random: Random;
  readonly workers: readonly number[];
  /** Wall-clock ms after which no new fault starts. */
  readonly until: number;
  readonly log: JsonLines;
  readonly print: (line: string) => void;
}

export class FaultLoop {
  private aborted = false;
  private wake: (() => void) | undefined;
  readonly records: FaultRecord[] = [];

  constructor(private readonly options: FaultLoopOptions) {}

  /** Stops starting faults; the one running is still healed. */
  abort(): void {
    this.aborted = true;
    this.wake?.();
  }

  async run(): Promise<void> {
    const { topology, random, until } = this.options;
    while (!this.aborted && now() < until) {
      const make = random.weighted(FAULTS[topology.kind]);
      const plan = await make({ topology, random, workers: this.options.workers }).catch((error: unknown) => {
        this.options.print(`fault planning failed: ${(error as Error).message}`);
        return undefined;
      });
      if (plan) await this.runOne(plan);
      await this.pause(plan ? random.int(500, 2000) : 200);
    }
  }

  private async runOne(plan: FaultPlan): Promise<void> {
    const at = now();
    try {
      await plan.inject();
    } catch (error) {
      plan.notes.push(`inject failed: ${(error as Error).message}`);
    }
    if (plan.held) await this.pause(this.options.random.int(300, 3000));
    const healAt = now();
    try {
      await plan.heal();
    } catch (error) {
      plan.notes.push(`heal failed: ${(error as Error).message}`);
    }
    let trouble = await waitHealthy(this.options.topology, this.aborted ? 5000 : HEAL_WAIT_MS);
    if (!trouble && plan.loss === "async") {
      // A master back in time may still be failed over (the Sentinels or the cluster decided while it was away):
      // the fault lasts until the topology has stayed whole past the failure detection time.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      trouble = await waitHealthy(this.options.topology, HEAL_WAIT_MS);
    }
    const record: FaultRecord = {
      type: "fault",
      id: this.records.length + 1,
      kind: plan.kind,
      target: plan.target,
      detail: [plan.detail, ...plan.notes].join("; "),
      at,
      healAt,
      healedAt: now(),
      ...(plan.loss ? { loss: plan.loss } : {}),
      ...(plan.shard ? { shard: plan.shard } : {}),
      ...(plan.slots ? { slots: plan.slots } : {}),
      ...(plan.moved?.length ? { moved: plan.moved } : {}),
      ...(trouble ? { unhealed: trouble } : {}),
    };
    this.records.push(record);
    this.options.log.write(record);
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    this.options.print(
      `fault ${record.id} ${plan.kind} ${plan.target} (${record.detail}): held ${secs(healAt - at)}, ` +
        (trouble ? `NOT healed after ${secs(HEAL_WAIT_MS)}: ${trouble}` : `whole again after ${secs(record.healedAt - healAt)}`),
    );
  }

  /** Sleeps, cut short by abort(). */
  private pause(ms: number): Promise<void> {
    if (this.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
