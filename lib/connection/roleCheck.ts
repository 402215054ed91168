/**
 * The ROLE check a connection makes before writing anything when its node's
 * role matters (Sentinel-managed shards, shards with replicas). A failover is
 * seen this way before Sentinel announces it: the promoted replica answers
 * "master", the demoted master "slave".
 *
 *   idle ──connected──▶ checking ──ROLE as expected──▶ confirmed
 *                         │   ├──replica answers master──▶ confirmed, topology re-read
 *                         │   └──ROLE refused (NOPERM, a proxy)──▶ trusted
 *                         └──another role──▶ mismatched ──layout changed, or ROLE_RECHECK_MS──▶ checking
 *   any ──connection lost──▶ idle
 *
 * While checking or mismatched the connection holds its commands (they wait
 * within their deadlines); a mismatch is reported once until the role matches.
 * A node that answers ROLE with an error (an ACL without +role) cannot be
 * checked: it serves as the role the layout gives it, and the refusal is
 * reported; holding its commands would hang the node for good.
 */
import { internalCommand, type ShardisCommand } from "../commands/command.js";
import type { NodeRole } from "./context.js";

/** How soon a connection whose role did not match checks again without a layout change, in ms. */
export const ROLE_RECHECK_MS = 500;

const ROLES: Record<string, NodeRole> = { master: "master", slave: "replica" };

type RoleState =
  | { readonly kind: "idle" }
  | { readonly kind: "checking"; readonly attempt: number; readonly reported: boolean }
  | { readonly kind: "confirmed" }
  | { readonly kind: "trusted" }
  | { readonly kind: "mismatched"; readonly actual: string; readonly recheck: NodeJS.Timeout };

export interface RoleCheckHost {
  /** The role the layout gives the node now; undefined when it does not matter. */
  expected(): NodeRole | undefined;
  /** Writes ROLE at once, ahead of the held commands. */
  send(cmd: ShardisCommand): void;
  /** The role is right: write what waits. */
  confirmed(): void;
  /** A replica answered "master": it serves (it is about to become the master), and the topology is re-read. */
  promoted(actual: string): void;
  /** Another role than expected: commands stay held. `first` until the role matches again. */
  mismatched(actual: string, first: boolean): void;
  /** ROLE was answered with an error (NOPERM): the role the layout gives is trusted, and the commands go. */
  refused(error: Error): void;
}

export class RoleCheck {
  private state: RoleState = { kind: "idle" };
  private attempts = 0;

  constructor(private readonly host: RoleCheckHost) {}

  /** Commands must wait: the role is being checked, or is wrong. */
  get holding(): boolean {
    return this.state.kind === "checking" || this.state.kind === "mismatched";
  }

  get kind(): RoleState["kind"] {
    return this.state.kind;
  }

  /** The connection is up: check, or go at once when the role does not matter. */
  connected(): void {
    if (this.host.expected() === undefined) return this.confirm();
    this.check(false);
  }

  /** The layout gave the node another role: a connection held back by a mismatch checks again now. */
  expectationChanged(): void {
    if (this.state.kind === "mismatched") this.check(true);
  }

  /** The connection was lost (or is closing): the next connection checks afresh. */
  reset(): void {
    if (this.state.kind === "mismatched") clearTimeout(this.state.recheck);
    this.state = { kind: "idle" };
  }

  private check(reported: boolean): void {
    if (this.state.kind === "mismatched") clearTimeout(this.state.recheck);
    const attempt = ++this.attempts;
    this.state = { kind: "checking", attempt, reported };
    const role = internalCommand("role");
    this.host.send(role);
    role.promise.then(
      (reply: unknown) => this.answered(attempt, Array.isArray(reply) ? String(reply[0]) : String(reply)),
      (error: unknown) => {
        // An error reply: the node is up but will not say its role. Anything else: the connection failed, its close resets this.
        if (error instanceof Error && error.name === "ReplyError") this.refused(attempt, error);
      },
    );
  }

  private refused(attempt: number, error: Error): void {
    const state = this.state;
    if (state.kind !== "checking" || state.attempt !== attempt) return;
    this.state = { kind: "trusted" };
    this.host.refused(error);
    this.host.confirmed();
  }

  private answered(attempt: number, actual: string): void {
    const state = this.state;
    // A reply to an earlier check, or after the connection was lost: the current state decides.
    if (state.kind !== "checking" || state.attempt !== attempt) return;
    const expected = this.host.expected();
    if (expected === undefined || ROLES[actual] === expected) return this.confirm();
    if (ROLES[actual] === "master" && expected === "replica") {
      this.confirm();
      this.host.promoted(actual);
      return;
    }
    const recheck = setTimeout(() => this.expectationChanged(), ROLE_RECHECK_MS);
    recheck.unref();
    this.state = { kind: "mismatched", actual, recheck };
    this.host.mismatched(actual, !state.reported);
  }

  private confirm(): void {
    this.state = { kind: "confirmed" };
    this.host.confirmed();
  }
}
