/**
 * A node's pool of dedicated connections (generic-pool), apart from its
 * shared auto-pipelined one. Blocking commands and withConnection() borrow
 * from it, so a BLPOP that waits for seconds never delays anyone else.
 */
import genericPool, { type Pool } from "generic-pool";
import { formatAddress } from "../config/address.js";
import type { PoolOptions } from "../config/types.js";
import { DEFAULTS } from "../config/defaults.js";
import { AuthenticationError, ClientClosedError, ConnectionError, DatabaseError, PoolExhaustedError } from "../errors.js";
import { NodeClient, type NodeClientInit } from "./NodeClient.js";

/** A failed connection attempt this recent is reported as the cause of an acquire timeout. */
const RECENT_ERROR_MS = 5000;

/** The caller's deadline came before a connection did. */
class BudgetSpent extends Error {}

export class NodePool {
  private readonly pool: Pool<NodeClient>;
  private readonly borrowed = new Set<NodeClient>();
  private lastCreateError: { error: Error; at: number } | undefined;
  private readonly shard: string;
  private readonly id: string;
  /** close() began: connections handed out from now on are closed instead (an acquire already waiting would outlive it). */
  private closing: Promise<void> | undefined;
  /**
   * The node refused a new connection's handshake (credentials, SELECT):
   * acquires fail with it at once until `until`, and the pool tries again
   * no faster than that. generic-pool asks its factory again at once for a
   * waiting acquire: without the pause, hundreds of refused connections a second.
   */
  private refused: { readonly error: AuthenticationError | DatabaseError; readonly until: number } | undefined;
  /** Acquires waiting now, told of a refusal so they fail at once. */
  private readonly waiting = new Set<(error: Error) => void>();
  /** Ends the pause of a refused attempt early (close()). */
  private readonly pauses = new Set<() => void>();

  /**
   * `node` describes every connection the pool opens (a view of the shared
   * connection's context); `connectTimeoutMs` bounds each attempt.
   */
  constructor(
    node: NodeClientInit,
    private readonly options: Readonly<Required<PoolOptions>>,
    connectTimeoutMs: number,
  ) {
    this.shard = node.shard;
    this.id = formatAddress(node.address);
    const connectTimeout = Math.min(connectTimeoutMs, options.acquireTimeoutMs);
    this.pool = genericPool.createPool<NodeClient>(
      {
        create: async () => {
          const created = new NodeClient(node);
          try {
            await created.whenReady(connectTimeout);
            this.refused = undefined;
            return created;
          } catch (error) {
            this.lastCreateError = { error: error as Error, at: Date.now() };
            await created.close();
            if (error instanceof AuthenticationError || error instanceof DatabaseError) await this.pause(error);
            throw error;
          }
        },
        // One not fit to lend again (a command still blocked at the server: a BLPOP would take the next value pushed) goes at once, without QUIT.
        destroy: (node) => node.close(!node.reusable),
        validate: async (node) => node.reusable,
      },
      {
        max: options.max,
        min: options.minIdle,
        acquireTimeoutMillis: options.acquireTimeoutMs,
        idleTimeoutMillis: options.idleTimeoutMs,
        evictionRunIntervalMillis: Math.min(options.idleTimeoutMs, 5000),
        testOnBorrow: true,
      },
    );
  }

  /**
   * Borrows a connection. After acquireTimeoutMs, or `budgetMs` when the
   * caller's own deadline is nearer (a blocking command, a write under a
   * write concern): PoolExhaustedError if every connection was busy,
   * ConnectionError if one could not be opened in time.
   */
  async acquire(budgetMs = Infinity): Promise<NodeClient> {
    if (this.closing) throw new ClientClosedError();
    if (this.refused && Date.now() < this.refused.until) throw this.refused.error;
    const started = Date.now();
    const pending = this.pool.acquire();
    let timer: NodeJS.Timeout | undefined;
    let refusedNow: ((error: Error) => void) | undefined;
    const refusal = new Promise<never>((_, reject) => this.waiting.add((refusedNow = reject)));
    try {
      const node = await Promise.race([
        pending,
        refusal,
        ...(budgetMs < this.options.acquireTimeoutMs ? [new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new BudgetSpent()), Math.max(0, budgetMs))))] : []),
      ]);
      if (this.closing) {
        await this.pool.destroy(node);
        throw new ClientClosedError();
      }
      this.borrowed.add(node);
      node.lent = true;
      return node;
    } catch (error) {
      // Given up before the pool's own timeout: whatever the pool hands over later goes straight back.
      if (error instanceof BudgetSpent || error === this.refused?.error) pending.then((late) => (this.closing ? this.pool.destroy(late) : this.pool.release(late)), () => undefined);
      if (error === this.refused?.error) throw error;
      if (!(error instanceof Error && (error.name === "TimeoutError" || error instanceof BudgetSpent))) throw error;
      const waited = Date.now() - started;
      if (this.pool.borrowed >= this.options.max) throw new PoolExhaustedError(this.shard, this.id, this.options.max, waited);
      const recent = this.lastCreateError;
      const cause = recent && recent.at >= started - RECENT_ERROR_MS ? recent.error : undefined;
      throw new ConnectionError(this.shard, this.id, `could not open a dedicated connection within ${waited} ms`, cause);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(refusedNow!);
    }
  }

  /** A refused attempt: waiting acquires fail with it now; the factory answers after the pause (or the close). */
  private async pause(error: AuthenticationError | DatabaseError): Promise<void> {
    const holdMs = DEFAULTS.reconnect.maxDelayMs;
    this.refused = { error, until: Date.now() + holdMs };
    for (const fail of this.waiting) fail(error);
    if (this.closing) return;
    await new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.pauses.delete(end);
        resolve();
      };
      const timer = setTimeout(end, holdMs);
      timer.unref();
      this.pauses.add(end);
    });
  }

  /** Returns a connection; one whose replies may lag its requests is closed instead. */
  async release(node: NodeClient): Promise<void> {
    this.borrowed.delete(node);
    node.lent = false;
    if (node.reusable) await this.pool.release(node);
    else await this.pool.destroy(node);
  }

  /** The node's role changed: connections held back by a ROLE mismatch check again. */
  roleChanged(): void {
    for (const node of this.borrowed) node.roleChanged();
  }

  async destroy(node: NodeClient): Promise<void> {
    this.borrowed.delete(node);
    await this.pool.destroy(node);
  }

  get stats(): { size: number; available: number; borrowed: number; pending: number } {
    return {
      size: this.pool.size,
      available: this.pool.available,
      borrowed: this.pool.borrowed,
      pending: this.pool.pending,
    };
  }

  /** Waits up to timeoutMs for borrowed work, cuts what still runs (a BLPOP blocks for long), closes every connection. */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= this.shut(timeoutMs);
    return this.closing;
  }

  private async shut(timeoutMs: number): Promise<void> {
    for (const end of [...this.pauses]) end();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.borrowed].map((node) => node.drain())), waited]);
    clearTimeout(timer);
    // A connection still blocked (BLPOP 0) would not even read QUIT: drop it.
    await Promise.all([...this.borrowed].map((node) => node.close(true)));
    await this.pool.drain();
    await this.pool.clear();
  }
}
