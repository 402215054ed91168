/**
 * The errors one node's commands fail with, named after its shard and
 * address and built in one place, so every path that fails a command (the
 * send, the write, the deadline, the lost connection, close) says the same
 * thing for the same cause.
 */
import {
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  TimeoutError,
  WatchLostError,
} from "../errors.js";
import type { Breaker } from "./context.js";
import { CONNECTION_CLOSED } from "./waiting.js";
import type { Entry, Pin } from "./entry.js";

export class NodeFailures {
  constructor(
    private readonly shard: string,
    private readonly node: string,
  ) {}

  /**
   * While the breaker is open. Built without a stack trace: an open breaker
   * may reject thousands of commands a second, the trace would only point
   * into shardis, and capturing it is most of the cost.
   */
  circuitOpen(breaker: Breaker): CircuitOpenError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CircuitOpenError(this.shard, this.node, breaker.reason, breaker.retryInMs);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  queueFull(max: number): QueueFullError {
    return new QueueFullError(this.shard, this.node, max);
  }

  /** A command pinned to a WATCH/MULTI that went with an earlier connection. */
  stateLost(pin: Pin): WatchLostError {
    return new WatchLostError(this.shard, this.node, pin.holds);
  }

  /** Past its deadline: unanswered if written, else still waiting for the connection (and why). */
  timeout(entry: Entry, lastError: Error | undefined): TimeoutError {
    const detail = entry.written ? "the node did not answer" : lastError ? `not connected: ${lastError.message}` : "still connecting";
    return new TimeoutError(this.shard, this.node, entry.timeoutMs, detail, lastError);
  }

  /** Written when the connection was lost. */
  lostInFlight(lastError: Error | undefined): ConnectionError {
    return new ConnectionError(this.shard, this.node, "connection lost with the command in flight; it may or may not have been applied", lastError);
  }

  /**
   * Closed by the client: written ones may have run (ConnectionError), unsent
   * ones (or none yet: sent after the close) did not (ClientClosedError).
   * Both read "Connection is closed.", as ioredis fails its commands then:
   * libraries (bull, BullMQ) compare the text to tell a shutdown from a fault.
   */
  closed(entry: Entry | undefined): ConnectionError | ClientClosedError {
    if (!entry?.written) return new ClientClosedError();
    return new ConnectionError(this.shard, this.node, "closed by the client with the command in flight; it may or may not have been applied", undefined, CONNECTION_CLOSED);
  }

  notReady(timeoutMs: number, lastError: Error | undefined): ConnectionError {
    // The cause in the message too: "not ready" alone sends a newcomer looking everywhere but at ECONNREFUSED or the certificate.
    const why = lastError ? `: ${lastError.message}` : " (still connecting)";
    return new ConnectionError(this.shard, this.node, `not ready within ${timeoutMs} ms${why}`, lastError);
  }
}
