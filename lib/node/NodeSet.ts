import { Command } from "ioredis";
import type { ResolvedOptions } from "../config/resolve.js";
import { NodeBreaker } from "../resilience/breaker.js";
import { NodeClient, PROBE, type NodeContext, type NodeEvents } from "./NodeClient.js";
import { FlushScheduler } from "./scheduler.js";
import { formatAddress } from "../config/address.js";

/**
 * The shared connection of each shard's master, plus what every connection
 * to that node shares: its circuit breaker and limits. One flush scheduler
 * serves all of them, so a turn ends in one write per connection.
 */
export class NodeSet {
  readonly scheduler = new FlushScheduler();
  private readonly masters: readonly NodeClient[];
  private readonly contexts: readonly NodeContext[];

  constructor(options: ResolvedOptions, events: NodeEvents) {
    const contexts: NodeContext[] = [];
    this.masters = options.shards.map((shard) => {
      const id = formatAddress(shard.master);
      const probe = () => node.send(new Command("ping"), options.commandTimeoutMs, PROBE);
      const breaker = new NodeBreaker(options.breaker, probe, (state) => events.breaker(shard.name, id, state));
      const context: NodeContext = {
        breaker,
        maxQueueLength: options.maxQueueLength,
        retry: options.retry,
        detectStalls: true,
      };
      contexts.push(context);
      const node: NodeClient = new NodeClient(shard.name, shard.master, options.redis, this.scheduler, events, context);
      return node;
    });
    this.contexts = contexts;
  }

  master(shardIndex: number): NodeClient {
    return this.masters[shardIndex]!;
  }

  /** What a dedicated connection to this shard's master shares with the shared one. */
  dedicatedContext(shardIndex: number): NodeContext {
    // Blocking commands legitimately go unanswered for long: no stall watch there.
    return { ...this.contexts[shardIndex]!, detectStalls: false };
  }

  breaker(shardIndex: number): NodeBreaker {
    return this.contexts[shardIndex]!.breaker;
  }

  get all(): readonly NodeClient[] {
    return this.masters;
  }

  connect(): void {
    for (const node of this.masters) node.connect();
  }

  /**
   * Lets written commands settle for up to timeoutMs (each is bounded by its
   * deadline anyway), then closes every connection, failing what is left.
   */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = Promise.all(this.masters.map((node) => node.drain())).then(() => true);
    const clean = await Promise.race([drained, waited]);
    clearTimeout(timer);
    await Promise.all(this.masters.map((node) => node.close(!clean)));
    for (const context of this.contexts) context.breaker.shutdown();
  }
}
