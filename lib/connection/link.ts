/**
 * A connection's history, for events, reconnect counts, the breaker and
 * session state: never ready yet, up (role confirmed), or down with the
 * failed attempts since the node was last reachable. Its generation counts
 * the connections lost after being up: state a caller set up on one (WATCH,
 * MULTI) lives exactly as long as the generation does not change.
 */
type State =
  | { readonly kind: "new" }
  | { readonly kind: "up" }
  | { readonly kind: "down"; readonly failures: number; readonly wasUp: boolean };

/** What a lost connection means, for NodeClient to act on. */
export interface Loss {
  /** The first loss of an outage (a `down` event). */
  readonly first: boolean;
  /** Lost, and the next attempt failed too: the node is gone (the breaker trips). */
  readonly gone: boolean;
  /** Losses and failed attempts in a row, this one included (ioredis's retryAttempts). */
  readonly attempts: number;
}

export class Link {
  private state: State = { kind: "new" };
  /**
   * Commands sent while the connection is down carry the generation the next
   * connection will have: only a connection that was up can hold state.
   */
  generation = 0;

  /** The handshake succeeded: the node is reachable (its failed attempts start again from none). */
  connected(): void {
    const state = this.state;
    if (state.kind === "down") this.state = { kind: "down", failures: 0, wasUp: state.wasUp };
  }

  /** Ready (role confirmed); true when this is a reconnect after having been up. */
  up(): boolean {
    const state = this.state;
    this.state = { kind: "up" };
    return state.kind === "down" && state.wasUp;
  }

  /** The connection closed (or an attempt failed). */
  lost(): Loss {
    const state = this.state;
    if (state.kind === "up") this.generation++;
    const failures = (state.kind === "down" ? state.failures : 0) + 1;
    this.state = { kind: "down", failures, wasUp: state.kind === "up" || (state.kind === "down" && state.wasUp) };
    return { first: state.kind !== "down", gone: failures >= 2, attempts: failures };
  }
}
