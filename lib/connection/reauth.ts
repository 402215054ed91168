/**
 * Re-authentication of open connections (`redis.reauthenticateEveryMs`):
 * every round, the provider is asked once and each ready connection sends
 * AUTH with those credentials through its own queue, in order with the
 * commands around it: nothing in flight is dropped or delayed beyond one
 * more command. Connections register themselves when ready and leave when
 * lost or closed. A connection lent out (withConnection, a blocking
 * command) is skipped until it is back: its borrower may have opened a
 * MULTI, which would queue the AUTH inside the transaction.
 */
import { internalCommand } from "../commands/command.js";
import type { Credentials, CredentialsProvider } from "../config/types.js";
import { AuthenticationError } from "../errors.js";
import { authArguments, fetchCredentials } from "./credentials.js";
import { INTERNAL } from "./entry.js";
import type { NodeClient } from "./NodeClient.js";
import { isAuthFailure, sanitizeError } from "./sanitize.js";

/** Where connections register (NodeContext.reauth). */
export interface ReauthRegistry {
  add(node: NodeClient): void;
  delete(node: NodeClient): void;
}

export interface ReauthEvents {
  /** A node refused the new credentials (that connection stays authenticated as before), or the provider failed. */
  failed(node: NodeClient, error: Error): void;
}

export class Reauthenticator implements ReauthRegistry {
  private readonly nodes = new Set<NodeClient>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly provider: CredentialsProvider,
    /** AUTH's own deadline, in ms. */
    private readonly timeoutMs: number,
    private readonly events: ReauthEvents,
  ) {}

  add(node: NodeClient): void {
    this.nodes.add(node);
  }

  delete(node: NodeClient): void {
    this.nodes.delete(node);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void (this.running ??= this.round().finally(() => (this.running = undefined))), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.nodes.clear();
  }

  /** One round: fresh credentials, AUTH on every ready connection not lent out. Resolves when every AUTH settled. */
  async round(): Promise<void> {
    const nodes = [...this.nodes].filter((node) => node.ready && !node.lent && !node.closing);
    if (nodes.length === 0) return;
    let credentials: Credentials;
    try {
      credentials = await fetchCredentials(this.provider);
    } catch (error) {
      // Reported once per node address (a node's pooled connections share it), not once per connection.
      const seen = new Set<string>();
      for (const node of nodes) if (!seen.has(node.id)) (seen.add(node.id), this.events.failed(node, error as Error));
      return;
    }
    const args = authArguments(credentials);
    const user = credentials.username ?? "default";
    await Promise.all(nodes.map((node) => this.authenticate(node, args, user)));
  }

  private async authenticate(node: NodeClient, args: string[], user: string): Promise<void> {
    try {
      await node.send(internalCommand("auth", args), this.timeoutMs, INTERNAL);
    } catch (error) {
      if (node.closing) return;
      // Only a refusal is news: a node that is down, or a RESP2 subscriber connection (it cannot run AUTH; it keeps
      // its credentials until it reconnects), is skipped this round, and reported by the node's own events if at all.
      const safe = sanitizeError(error);
      if (isAuthFailure(safe)) this.events.failed(node, new AuthenticationError(node.shard, node.id, user, safe.message));
    }
  }
}
