/** What a fault is to the loop that runs it: what it hits, how it starts, how it heals, what it may lose. */
import type { Random } from "../../sim/random.js";
import type { SlotRanges } from "../health.js";
import type { ChaosTopology } from "../topology.js";

export interface FaultPlan {
  readonly kind: string;
  /** The node (address), proxy, user or shard it hits. */
  readonly target: string;
  readonly detail: string;
  /** Whether the fault lasts (held for a random time before heal) or is one act (a failover, a reshard). */
  readonly held: boolean;
  /** "async": a failover may lose writes not yet replicated; "wipe": a node came back empty as master. */
  loss?: "async" | "wipe";
  readonly shard?: string;
  /** A cluster master's slots when the fault began. */
  readonly slots?: SlotRanges;
  /** Slots a reshard moved. */
  moved?: SlotRanges;
  inject(): Promise<void>;
  /** Undoes the fault; may add to detail and loss (e.g. a master restarted before any failover). */
  heal(): Promise<void>;
  /** Appended to the logged detail by inject/heal. */
  notes: string[];
}

export interface FaultContext {
  readonly topology: ChaosTopology;
  readonly random: Random;
  /** Client process numbers, for CLIENT KILL of one client's connections. */
  readonly workers: readonly number[];
}

export type FaultMaker = (context: FaultContext) => Promise<FaultPlan | undefined>;
