/**
 * A NodeClient on a fake connection, with a real breaker (opossum under fake
 * timers) and an observer that records what it is told: for millisecond
 * tests of the connection logic (deadlines, retries, breaker, ROLE check,
 * hand-over) without a server.
 */
import { vi } from "vitest";
import type { ResolvedRetryOptions } from "../../lib/config/resolve.js";
import type { ResolvedBreakerOptions } from "../../lib/resilience/breaker.js";
import { NodeBreaker, type BreakerState } from "../../lib/resilience/breaker.js";
import { DEFAULTS } from "../../lib/config/defaults.js";
import type { ShardisCommand } from "../../lib/commands/command.js";
import { internalCommand } from "../../lib/commands/command.js";
import { NodeClient, PROBE, type NodeContext, type NodeEvents, type NodeRole } from "../../lib/connection/NodeClient.js";
import type { CommandObserver, FailOutcome, NodeObserver } from "../../lib/connection/observer.js";
import { FlushScheduler } from "../../lib/connection/scheduler.js";
import { fakeConnections, type FakeConnection } from "./fakeConnection.js";

/** Timers the connection logic uses, all faked (performance.now() included). */
export function useFakeTime(): void {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "performance", "Date"] });
}

/**
 * Lets one event-loop turn happen in fake time: immediates (the flush) run,
 * promise reactions settle. It costs a millisecond: fake-timers runs an
 * immediate queued from inside a timer callback 1 ms later.
 */
export async function turn(): Promise<void> {
  await vi.advanceTimersByTimeAsync(1);
}

export class RecordingObserver implements CommandObserver, NodeObserver {
  /** Commands the node answered, and whether with a reply (true) or a Redis error (false). */
  readonly answers: Array<[command: string, ok: boolean]> = [];
  readonly failures: Array<[command: string, outcome: FailOutcome]> = [];
  readonly batches: number[] = [];
  retries = 0;
  reconnects = 0;
  readonly transitions: BreakerState[] = [];

  accepted(): undefined {
    return undefined;
  }
  answered(cmd: ShardisCommand): void {
    this.answers.push([cmd.name, cmd.isResolved]);
  }
  failed(command: string, outcome: FailOutcome): void {
    this.failures.push([command, outcome]);
  }
  retried(): void {
    this.retries++;
  }
  written(size: number): void {
    this.batches.push(size);
  }
  reconnected(): void {
    this.reconnects++;
  }
  transition(state: BreakerState): void {
    this.transitions.push(state);
  }
}

export interface NodeEventLog {
  readonly ready: number[];
  readonly down: Array<Error | undefined>;
  readonly errors: Error[];
  readonly breaker: BreakerState[];
}

export interface FakeNodeOptions {
  role?: NodeRole;
  breaker?: Partial<ResolvedBreakerOptions>;
  retry?: Partial<ResolvedRetryOptions>;
  maxQueueLength?: number;
  maxWriteDelayMs?: number;
  detectStalls?: boolean;
  redirect?: NodeContext["redirect"];
  clusterRedirect?: NodeContext["clusterRedirect"];
  onRoleMismatch?: NodeContext["onRoleMismatch"];
  refused?: NodeContext["refused"];
  /** ioredis's enableOfflineQueue and maxRetriesPerRequest (connection/waiting.ts). */
  offlineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  /** Set up each fake connection before use (role, connect outcome, auto replies). */
  setup?: (connection: FakeConnection) => void;
}

export const ADDRESS = { host: "10.0.0.1", port: 6379 };

/** A NodeClient for shard "s0" at 10.0.0.1:6379, its fake connection (after connect), observer and events. */
export function fakeNode(options: FakeNodeOptions = {}) {
  const connections = fakeConnections(options.setup);
  const observer = new RecordingObserver();
  const log: NodeEventLog = { ready: [], down: [], errors: [], breaker: [] };
  const events: NodeEvents = {
    ready: () => log.ready.push(performance.now()),
    down: (_node, cause) => log.down.push(cause),
    error: (_node, error) => log.errors.push(error),
    breaker: (_shard, _node, state) => log.breaker.push(state),
  };
  let node: NodeClient | undefined;
  const breaker = new NodeBreaker(
    { ...DEFAULTS.breaker, enabled: true, ...options.breaker },
    () => node!.send(internalCommand("ping"), 1000, PROBE),
    (state) => {
      observer.transition(state);
      events.breaker("s0", "10.0.0.1:6379", state);
    },
  );
  const context: NodeContext = {
    breaker,
    maxQueueLength: options.maxQueueLength ?? 100,
    maxWriteDelayMs: options.maxWriteDelayMs ?? Infinity,
    retry: { ...DEFAULTS.retry, ...options.retry },
    detectStalls: options.detectStalls ?? true,
    role: options.role,
    onRoleMismatch: options.onRoleMismatch,
    refused: options.refused,
    redirect: options.redirect,
    clusterRedirect: options.clusterRedirect,
    offlineQueue: options.offlineQueue,
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    observer,
    nodeObserver: observer,
  };
  node = new NodeClient({ shard: "s0", address: ADDRESS, connections: connections.factory, scheduler: new FlushScheduler(), events, context });
  return {
    node,
    breaker,
    context,
    observer,
    log,
    /** The node's connection (made in the constructor). */
    get connection(): FakeConnection {
      return connections.first("10.0.0.1:6379");
    },
  };
}
