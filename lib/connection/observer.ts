/**
 * What a connection reports about the commands it carries, and to whom: an
 * observer counts them (metrics), publishes them (tracing) or records them
 * (tests). The connection knows only this interface. The registry swaps a
 * node's observer when the node's role changes, so counts follow the role.
 */
import type { ShardisCommand } from "../commands/command.js";

/** How a command failed without an answer from Redis. */
export type FailOutcome = "timeout" | "connection" | "circuit_open" | "queue_full" | "closed" | "auth" | "database";

/** What happened to a command on its way, as its trace tells it (span events). */
export type TraceEventName = "retry" | "readonly" | "moved" | "ask" | "handover";

/** The part of a command's trace the connection keeps up to date (present only while someone traces). */
export interface TraceHandle {
  /** Written at `at` (performance.now()) with `batchSize` commands in the same write. */
  written(at: number, batchSize: number): void;
  /** Something happened to the command on its way (a retry, a redirect, a hand-over); `detail` says where or why. */
  note(event: TraceEventName, detail?: string): void;
  /** Another node carries the command now (a hand-over, a redirect). */
  movedTo(node: string): void;
}

export interface CommandObserver {
  /** A command was accepted for this node; a trace to keep up to date, when someone traces. */
  accepted(cmd: ShardisCommand, node: string, startedAt: number): TraceHandle | undefined;
  /** The node answered (a reply, or a Redis error reply), `seconds` after acceptance. */
  answered(cmd: ShardisCommand, seconds: number): void;
  /** The command failed for good without an answer (timeout, lost connection, breaker, ...). */
  failed(command: string, outcome: FailOutcome): void;
  /** A retry of a command was scheduled. */
  retried(): void;
  /** A batch of this many commands was written in one go. */
  written(batchSize: number): void;
}

/** What belongs to a node rather than to the commands on it. */
export interface NodeObserver {
  /** The connection came back after having been ready before. */
  reconnected(): void;
}

/** Observes nothing: for connections whose traffic is not counted. */
export const IGNORE: CommandObserver & NodeObserver = Object.freeze({
  accepted: () => undefined,
  answered: () => undefined,
  failed: () => undefined,
  retried: () => undefined,
  written: () => undefined,
  reconnected: () => undefined,
});
