/**
 * A node's pool of dedicated connections (generic-pool), apart from its
 * shared auto-pipelined one. Blocking commands and withConnection() borrow
 * from it, so a BLPOP that waits for seconds never delays anyone else.
 */
import genericPool, { type Pool } from "generic-pool";
import { formatAddress } from "../config/address.js";
import type { PoolOptions } from "../config/types.js";
import { ClientClosedError, ConnectionError, PoolExhaustedError } from "../errors.js";
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
            return created;
          } catch (error) {
            this.lastCreateError = { error: error as Error, at: Date.now() };
            await created.close();
            throw error;
          }
        },
        destroy: (node) => node.close(),
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
    const started = Date.now();
    const pending = this.pool.acquire();
    let timer: NodeJS.Timeout | undefined;
    try {
      const node =
        budgetMs >= this.options.acquireTimeoutMs
          ? await pending
          : await Promise.race([pending, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new BudgetSpent()), Math.max(0, budgetMs))))]);
      if (this.closing) {
        await this.pool.destroy(node);
        throw new ClientClosedError();
      }
      this.borrowed.add(node);
      return node;
    } catch (error) {
      // Given up before the pool's own timeout: whatever the pool hands over later goes straight back.
      if (error instanceof BudgetSpent) pending.then((late) => (this.closing ? this.pool.destroy(late) : this.pool.release(late)), () => undefined);
      if (!(error instanceof Error && (error.name === "TimeoutError" || error instanceof BudgetSpent))) throw error;
      const waited = Date.now() - started;
      if (this.pool.borrowed >= this.options.max) throw new PoolExhaustedError(this.shard, this.id, this.options.max, waited);
      const recent = this.lastCreateError;
      const cause = recent && recent.at >= started - RECENT_ERROR_MS ? recent.error : undefined;
      throw new ConnectionError(this.shard, this.id, `could not open a dedicated connection within ${waited} ms`, cause);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Returns a connection; one whose replies may lag its requests is closed instead. */
  async release(node: NodeClient): Promise<void> {
    this.borrowed.delete(node);
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
