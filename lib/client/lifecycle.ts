/**
 * The client's status as ioredis reports one (libraries wait on it), derived
 * from the shards' master connections, and the events that go with it:
 *
 *   wait ──connect()──▶ connecting ──every master ready──▶ connect ─▶ ready ◀──▶ reconnecting (no master ready)
 *   (any) ──quit()/disconnect()──▶ end ──connect()──▶ connecting (a new lifecycle, new connections)
 *
 * "ready" stays while any shard's master is up: a shard that is down fails
 * its own commands fast (its breaker), and the others go on. Events, as
 * ioredis orders them: "connect" (status "connect") then "ready" on becoming
 * ready, also after a reconnect; "close" and "reconnecting" on losing every
 * master, "close" and "end" when closed.
 */
import type { NodeClient } from "../connection/NodeClient.js";

export type ClientStatus = "wait" | "connecting" | "connect" | "ready" | "reconnecting" | "end";

export interface LifecycleHost {
  /** Each shard's master connection now (undefined while Sentinel has not named it). */
  masters(): ReadonlyArray<NodeClient | undefined>;
  emit(event: "connect" | "ready" | "close" | "reconnecting" | "end"): void;
}

export class Lifecycle {
  private current: ClientStatus;
  /** Every master was ready at once, at least once. */
  private reached = false;

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

  /** quit() or disconnect() began: no more commands. */
  ending(): void {
    if (this.current === "end") return;
    const was = this.current;
    this.current = "end";
    if (was === "ready") this.host.emit("close");
  }

  /** Every connection is closed. */
  ended(): void {
    this.host.emit("end");
  }

  private move(next: ClientStatus): void {
    const was = this.current;
    if (was === next) return;
    this.current = next;
    if (next === "ready") {
      // As ioredis: "connect" (status "connect") then "ready", also after a reconnect, so "ready" never follows "close" directly.
      this.current = "connect";
      this.host.emit("connect");
      if (this.current !== "connect") return; // closed by a "connect" listener
      this.current = "ready";
      this.host.emit("ready");
    } else if (next === "reconnecting") {
      this.host.emit("close");
      this.host.emit("reconnecting");
    }
  }
}
