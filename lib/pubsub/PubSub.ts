/**
 * Pub/sub across shards. A channel lives on the shard its name hashes to,
 * like a key: SUBSCRIBE goes to that shard and PUBLISH (routed by channel)
 * too. A pattern may match channels anywhere, so PSUBSCRIBE goes to every
 * shard. Each shard gets one subscriber connection, opened on first use;
 * ioredis re-subscribes it after a reconnect, and after a failover it moves
 * to the new master with every channel and pattern of its shard.
 */
import { Command } from "ioredis";
import { ClientClosedError, InvalidArgumentError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { NodeClient, type NodeEvents } from "../node/NodeClient.js";

export type MessageHandler = (message: string, channel: string) => void;
export type PatternHandler = (message: string, channel: string, pattern: string) => void;

interface Subscription<H> {
  readonly handlers: Set<H>;
  /** Settles when the server confirmed (or refused) the subscription. */
  confirmed: Promise<void>;
}

export class PubSub {
  private readonly channels = new Map<string, Subscription<MessageHandler>>();
  private readonly patterns = new Map<string, Subscription<PatternHandler>>();
  private readonly connections = new Map<number, NodeClient>();

  constructor(
    private readonly executor: Executor,
    private readonly events: NodeEvents,
    /** A handler threw: reported, never allowed to break delivery or crash the process. */
    private readonly onHandlerError: (error: unknown, channel: string) => void,
  ) {}

  async subscribe(channel: string, handler: MessageHandler): Promise<void> {
    checkName("channel", channel);
    checkHandler(handler);
    const shard = this.executor.strategy.shardIndexOf(channel);
    await this.add(this.channels, channel, handler, () => this.send([shard], "subscribe", channel));
  }

  async unsubscribe(channel: string, handler?: MessageHandler): Promise<void> {
    const shard = this.executor.strategy.shardIndexOf(channel);
    if (this.remove(this.channels, channel, handler)) await this.send([shard], "unsubscribe", channel).catch(() => undefined);
  }

  async psubscribe(pattern: string, handler: PatternHandler): Promise<void> {
    checkName("pattern", pattern);
    checkHandler(handler);
    await this.add(this.patterns, pattern, handler, () => this.send(this.allShards(), "psubscribe", pattern));
  }

  async punsubscribe(pattern: string, handler?: PatternHandler): Promise<void> {
    if (this.remove(this.patterns, pattern, handler)) await this.send(this.allShards(), "punsubscribe", pattern).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((node) => node.close()));
  }

  private async add<H>(map: Map<string, Subscription<H>>, name: string, handler: H, subscribe: () => Promise<void>): Promise<void> {
    const existing = map.get(name);
    if (existing) {
      existing.handlers.add(handler);
      try {
        return await existing.confirmed;
      } catch (error) {
        existing.handlers.delete(handler);
        throw error;
      }
    }
    const subscription: Subscription<H> = { handlers: new Set([handler]), confirmed: Promise.resolve() };
    map.set(name, subscription);
    subscription.confirmed = subscribe().catch((error: unknown) => {
      if (map.get(name) === subscription) map.delete(name);
      throw error;
    });
    await subscription.confirmed;
  }

  /** Removes one handler (or all); true when nothing listens to the name any more. */
  private remove<H>(map: Map<string, Subscription<H>>, name: string, handler?: H): boolean {
    const subscription = map.get(name);
    if (!subscription) return false;
    if (handler) subscription.handlers.delete(handler);
    else subscription.handlers.clear();
    if (subscription.handlers.size) return false;
    map.delete(name);
    return true;
  }

  private async send(shards: number[], command: string, name: string): Promise<void> {
    if (this.executor.closed) throw new ClientClosedError();
    const timeout = this.executor.defaults.timeoutMs;
    await Promise.all(
      shards.map(async (shard) => (await this.connection(shard)).send(new Command(command, [name]), timeout)),
    );
  }

  /** Shards whose master changed: move their subscriber connections and subscriptions to the new masters. */
  follow(shards: number[]): void {
    for (const shard of shards) {
      const old = this.connections.get(shard);
      if (!old) continue;
      this.connections.delete(shard);
      void old.close(true);
      const channels = [...this.channels.keys()].filter((c) => this.executor.strategy.shardIndexOf(c) === shard);
      const patterns = [...this.patterns.keys()];
      for (const channel of channels) void this.send([shard], "subscribe", channel).catch(() => undefined);
      for (const pattern of patterns) void this.send([shard], "psubscribe", pattern).catch(() => undefined);
    }
  }

  private allShards(): number[] {
    return this.executor.options.shards.map((_, i) => i);
  }

  private async connection(shard: number): Promise<NodeClient> {
    let node = this.connections.get(shard);
    if (!node) {
      const master = await this.executor.masterWhenPlaced(shard);
      const existing = this.connections.get(shard);
      if (existing) return existing;
      const registry = this.executor.fleet.registry;
      node = new NodeClient(master.shard, master.address, this.executor.options.redis, registry.scheduler, this.events, registry.dedicatedContext(master));
      node.onMessage(
        (channel, message) => this.deliverMessage(node!, channel, message),
        (pattern, channel, message) => this.deliverPattern(node!, pattern, channel, message),
      );
      node.connect();
      this.connections.set(shard, node);
    }
    return node;
  }

  private deliverMessage(node: NodeClient, channel: string, message: string): void {
    const subscription = this.channels.get(channel);
    // Resubscribed after a reconnect although nobody listens any more: drop it now.
    if (!subscription) return void node.send(new Command("unsubscribe", [channel]), this.executor.defaults.timeoutMs).catch(() => undefined);
    for (const handler of subscription.handlers) this.call(() => handler(message, channel), channel);
  }

  private deliverPattern(node: NodeClient, pattern: string, channel: string, message: string): void {
    const subscription = this.patterns.get(pattern);
    if (!subscription) return void node.send(new Command("punsubscribe", [pattern]), this.executor.defaults.timeoutMs).catch(() => undefined);
    for (const handler of subscription.handlers) this.call(() => handler(message, channel, pattern), channel);
  }

  private call(deliver: () => void, channel: string): void {
    try {
      deliver();
    } catch (error) {
      this.onHandlerError(error, channel);
    }
  }
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== "string" || name === "") throw new InvalidArgumentError(`the ${what} must be a non-empty string`);
}

function checkHandler(handler: unknown): void {
  if (typeof handler !== "function") throw new InvalidArgumentError("subscribe needs a handler function (message, channel) => ...");
}
