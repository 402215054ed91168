/**
 * The client's status as ioredis reports one (libraries wait on it), derived
 * from the shards' master connections, and the events that go with it:
 *
 *   wait ──connect()──▶ connecting ──every master ready──▶ connect ─▶ ready ◀──▶ reconnecting (no master ready)
 *                       connecting ──a master's attempt failed──▶ reconnecting ──every master ready──▶ connect ─▶ ready
 *   (any) ──quit()/disconnect()──▶ end ──connect()──▶ connecting (a new lifecycle, new connections)
 *
 * "ready" stays while any shard's master is up: a shard that is down fails
 * its own commands fast (its breaker), and the others go on. Events, as
 * ioredis orders them: "connect" (status "connect") then "ready" on becoming
 * ready, also after a reconnect; "close" and "reconnecting" on losing every
 * master, and again for every failed attempt of a master to reconnect while
 * none is reachable (before the first "ready": while any master is not),
 * "reconnecting" carrying the delay before that master's next attempt
 * (ioredis: once per failed attempt, with retryStrategy's delay); "close"
 * and "end" when closed. shardis never gives up reconnecting, so "end"
 * comes only from quit() or disconnect().
 */
import type { NodeClient } from "../connection/NodeClient.js";

export type ClientStatus = "wait" | "connecting" | "connect" | "ready" | "reconnecting" | "end";

export interface LifecycleHost {
  /** Each shard's master connection now (undefined while Sentinel has not named it). */
  masters(): ReadonlyArray<NodeClient | undefined>;
  emit(event: "connect" | "ready" | "close" | "end"): void;
  /** "reconnecting", with the ms before the next attempt. */
  reconnecting(delayMs: number): void;
}

export class Lifecycle {
  private current: ClientStatus;
  /** Every master was ready at once, at least once. */
  private reached = false;
  /** "close" was said on losing the last master, and its "reconnecting" waits for that connection's delay. */
  private announcing = false;

  constructor(
    private readonly host: LifecycleHost,
    lazy: boolean,
  ) {
    this.current = lazy ? "wait" : "connecting";
  }

  get status(): ClientStatus {
    return this.current;
  }

  /** A connection changed state or the layout changed: derive the status again. */
  update(): void {
    if (this.current === "end") return;
    const masters = this.host.masters();
    const ready = masters.reduce((n, m) => n + (m?.ready ? 1 : 0), 0);
    if (masters.length > 0 && ready === masters.length) this.reached = true;
    if (this.reached) this.move(ready > 0 ? "ready" : "reconnecting");
    else if (this.current === "wait" && masters.some((m) => m && m.status !== "wait")) this.move("connecting");
  }

  /** connect() was called on a lazy client. */
  connecting(): void {
    if (this.current === "wait") this.move("connecting");
  }

  /**
   * A connection was lost or failed an attempt to reconnect, and tries again in `delayMs`: while no master is
   * reachable, a master's attempt is the client's (ioredis says "close" then "reconnecting" for each).
   */
  attempt(node: NodeClient, delayMs: number): void {
    if (!this.host.masters().includes(node)) return;
    // Before the first "ready", a master that cannot be reached is the client's outage too (ioredis: a server down at start).
    if (this.current === "connecting" && !this.reached) this.current = "reconnecting";
    if (this.current !== "reconnecting") return;
    if (this.announcing) this.announcing = false;
    else this.host.emit("close");
    this.host.reconnecting(delayMs);
  }

  /** quit() or disconnect() began: no more commands. */
  ending(): void {
    if (this.current === "end") return;
    const was = this.current;
    this.current = "end";
    if (was === "ready") this.host.emit("close");
  }

  /**
   * Every connection is closed: "end" once what waits on the close ran (quit's callback, its awaiters), as ioredis
   * says it when its socket closed, after QUIT's reply.
   */
  ended(): void {
    process.nextTick(() => this.host.emit("end"));
  }

  private move(next: ClientStatus): void {
    const was = this.current;
    if (was === next) return;
    this.current = next;
    this.announcing = false;
    if (next === "ready") {
      // As ioredis: "connect" (status "connect") then "ready", also after a reconnect, so "ready" never follows "close" directly.
      this.current = "connect";
      this.host.emit("connect");
      if (this.current !== "connect") return; // closed by a "connect" listener
      this.current = "ready";
      this.host.emit("ready");
    } else if (next === "reconnecting") {
      this.host.emit("close");
      // The connection that was lost says its delay next (ioredis emits "close", then "reconnecting" with the delay,
      // each on a later tick); a master lost otherwise (demoted, replaced) has no attempt pending: 0.
      this.announcing = true;
      process.nextTick(() => {
        if (!this.announcing || this.current !== "reconnecting") return;
        this.announcing = false;
        this.host.reconnecting(0);
      });
    }
  }
}
