/**
 * Pub/sub across shards. A channel lives on the shard its name hashes to,
 * like a key: SUBSCRIBE goes to that shard and PUBLISH (routed by channel)
 * too. A pattern may match channels anywhere, so PSUBSCRIBE goes to every
 * shard (over a Redis Cluster, where PUBLISH reaches every node, to one). Each shard gets one subscriber connection, opened on first use.
 * After it reconnects, or moves to a new master at a failover, everything
 * its shard held is subscribed again (restore.ts): failures are reported
 * and retried while wanted, and client.subscriptions() tells each state.
 *
 * Two ways to listen, as in shardis and ioredis: a handler per channel
 * (`subscribe(channel, handler)`), or events on the client for channels
 * subscribed without one (`subscribe(a, b)`, then "message" and
 * "messageBuffer"). Payloads arrive as Buffers and are decoded per listener.
 */
import { internalCommand } from "../commands/command.js";
import type { NodeClient } from "../connection/NodeClient.js";
import { ClientClosedError, InvalidArgumentError, type SubscriptionError } from "../errors.js";
import { carry, UNMAPPED } from "./carry.js";
import { Restorer } from "./restore.js";
import { EVENTS, keyOf, stateOf, type Kind, type Listener, type Registry, type Subscription, type SubscriptionState } from "./subscriptions.js";

export type { SubscriptionState } from "./subscriptions.js";

export type MessageHandler = (message: string, channel: string) => void;
export type PatternHandler = (message: string, channel: string, pattern: string) => void;

/** Where ioredis-style subscriptions (no handler) deliver: the client's events. */
export interface PubSubEvents {
  message(channel: Buffer, message: Buffer): void;
  /** A message on a sharded channel (SSUBSCRIBE). */
  smessage(channel: Buffer, message: Buffer): void;
  pmessage(pattern: Buffer, channel: Buffer, message: Buffer): void;
  /** A handler threw: reported, never allowed to break delivery or crash the process. */
  handlerError(error: unknown, channel: string): void;
  /** Subscribing again after a reconnect or failover failed on a shard (retried while wanted). */
  subscriptionError(error: SubscriptionError): void;
}

/** What pub/sub hears from a subscriber connection besides messages. */
export interface SubscriberWatch {
  /** Ready: at first connect, and again after every reconnect (when it holds nothing). */
  ready(node: NodeClient): void;
  /** Lost: what it held is gone until it is ready again. */
  down(node: NodeClient): void;
}

/** What pub/sub needs from the client: where a channel lives and a subscriber connection per shard. */
export interface PubSubHost {
  /** Resolves once the shards are known (a cluster's slot map; at once otherwise), or rejects at the deadline. */
  mapped(): Promise<void>;
  /**
   * A Redis Cluster: classic PUBLISH reaches every node, so a pattern is
   * listened to on one shard (its name's), not on all (each would deliver
   * every message once more).
   */
  readonly clusterWide: boolean;
  readonly shardCount: number;
  /** Whether a shard below shardCount serves: a plain fleet's released shards keep their index but do not (docs/scaling.md). */
  serves?(shard: number): boolean;
  shardOf(channel: string | Buffer): number;
  /** The shards a channel is listened to on: its owner, or both of its owners while a live migration moves it (docs/scaling.md). */
  channelShards?(channel: string | Buffer): number[];
  shardName(shard: number): string;
  /** A new subscriber connection to the shard's master (waits, within the deadline, for it to be known), reporting to `watch`. */
  open(shard: number, watch: SubscriberWatch): Promise<NodeClient>;
  readonly timeoutMs: number;
  readonly closed: boolean;
}

export class PubSub {
  private readonly channels: Registry<MessageHandler> = new Map();
  private readonly patterns: Registry<PatternHandler> = new Map();
  private readonly shardChannels: Registry<MessageHandler> = new Map();
  /** Where each sharded channel is subscribed now (its slot's owner): it moves with the slot. */
  private readonly shardChannelHome = new Map<string, number>();
  private readonly connections = new Map<number, Promise<NodeClient>>();
  /** A plain fleet: the shards each channel and sharded channel is subscribed on (resync() moves them when a migration changes them). */
  private readonly held = new Map<string, readonly number[]>();
  /** Subscriber connections that were ready once: a later ready is a reconnect, holding nothing. */
  private readonly wasReady = new WeakSet<NodeClient>();
  private readonly kinds: { channel: Kind<MessageHandler>; pattern: Kind<PatternHandler>; shardChannel: Kind<MessageHandler> };
  private readonly restorer: Restorer;
  /** A plain fleet: shards patterns are subscribed on (every shard that served at the time); shards added or named again get them too. */
  private readonly patternShards = new Set<number>();

  constructor(
    private readonly host: PubSubHost,
    private readonly events: PubSubEvents,
  ) {
    const own = (name: string | Buffer) => this.host.channelShards?.(name) ?? [this.host.shardOf(name)];
    this.kinds = {
      channel: { kind: "channel", what: "channel", subscribe: "subscribe", unsubscribe: "unsubscribe", registry: this.channels, shards: own },
      // A pattern may match channels anywhere: on every shard, unless every node hears every message (a cluster).
      pattern: { kind: "pattern", what: "pattern", subscribe: "psubscribe", unsubscribe: "punsubscribe", registry: this.patterns, shards: host.clusterWide ? own : () => this.allShards() },
      shardChannel: { kind: "shardChannel", what: "channel", subscribe: "ssubscribe", unsubscribe: "sunsubscribe", registry: this.shardChannels, shards: own },
    };
    this.restorer = new Restorer({
      get closed() {
        return host.closed;
      },
      shardName: (shard) => host.shardName(shard),
      send: (shard, command, name) => this.send([shard], command, name).then(() => undefined),
      failed: (error) => events.subscriptionError(error),
    });
  }

  /** Every subscription and whether it is held now (active, subscribing, restoring, refused). */
  subscriptions(): SubscriptionState[] {
    return this.allKinds().flatMap((kind) => [...kind.registry.values()].map((s) => stateOf(kind.kind, s)));
  }

  /** Channels and patterns listened to now (what ioredis's SUBSCRIBE replies count). */
  get count(): number {
    return this.channels.size + this.patterns.size + this.shardChannels.size;
  }

  /** Listens on channels: with `handler`, it gets their messages; without, the client emits them. */
  subscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    return this.listen(this.kinds.channel, channels, handler);
  }

  /** Stops listening: one handler, or every listener of the channels (all channels when none are named). */
  unsubscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    return this.unlisten(this.kinds.channel, channels, handler);
  }

  psubscribe(patterns: ReadonlyArray<string | Buffer>, handler?: PatternHandler): Promise<number> {
    return this.listen(this.kinds.pattern, patterns, handler);
  }

  punsubscribe(patterns: ReadonlyArray<string | Buffer>, handler?: PatternHandler): Promise<number> {
    return this.unlisten(this.kinds.pattern, patterns, handler);
  }

  /** Sharded channels (SSUBSCRIBE): on the node serving the channel's slot; followed when the slot moves. */
  ssubscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    for (const channel of channels) this.shardChannelHome.set(keyOf(channel), this.host.shardOf(channel));
    return this.listen(this.kinds.shardChannel, channels, handler);
  }

  sunsubscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    return this.unlisten(this.kinds.shardChannel, channels, handler);
  }

  /** A client opened again listens where `closed` did (carry.ts): subscribed again on this one's connections. */
  carryOver(closed: PubSub): void {
    const [from, to] = [closed.allKinds(), this.allKinds()];
    const carried = from.flatMap((kind, i) => carry(kind.registry, to[i]!.registry));
    if (carried.length === 0) return;
    void this.host.mapped().then(() => {
      carried.forEach((s) => s.trouble.delete(UNMAPPED));
      this.allShards().forEach((shard) => this.patternShards.add(shard));
      for (const s of this.shardChannels.values()) this.shardChannelHome.set(keyOf(s.name), this.host.shardOf(s.name));
      for (const kind of [this.kinds.channel, this.kinds.shardChannel] as Array<Kind<unknown>>) {
        for (const [key, s] of kind.registry) this.held.set(`${kind.kind}|${key}`, kind.shards(s.name));
      }
      for (const shard of this.allShards()) for (const kind of to) this.restorer.restore(shard, kind);
    }, () => undefined); // not mapped within the deadline (a cluster not reachable): they stay "restoring"
  }

  async close(): Promise<void> {
    this.restorer.stop();
    const open = await Promise.allSettled(this.connections.values());
    this.connections.clear();
    await Promise.all(open.map((c) => (c.status === "fulfilled" ? c.value.close() : undefined)));
  }

  /** Shards whose master changed: move their subscriber connections and subscriptions to the new masters. */
  follow(shards: readonly number[]): void {
    for (const shard of shards) {
      const old = this.connections.get(shard);
      if (!old) continue;
      this.connections.delete(shard);
      void old.then((node) => node.close(true), () => undefined);
      // On a new connection (opened by the first send): its first ready is not a reconnect.
      for (const kind of this.allKinds()) this.restorer.restore(shard, kind);
    }
  }

  /**
   * The slot map changed (a cluster resharded): sharded channels whose slot
   * moved subscribe where it went, and patterns on shards (masters) added
   * since they were subscribed.
   */
  remap(): void {
    if (!this.host.clusterWide) {
      for (const shard of this.allShards()) {
        if (this.patternShards.has(shard)) continue;
        this.restorer.restore(shard, this.kinds.pattern);
        // One whose PSUBSCRIBE is in flight (the restorer leaves it) is subscribed there once it lands.
        for (const [key, p] of this.patterns) if (p.subscribing) this.holdOn(shard, this.kinds.pattern, key, p);
      }
      this.allShards().forEach((shard) => this.patternShards.add(shard));
      return this.resync();
    }
    for (const s of this.shardChannels.values()) {
      const key = keyOf(s.name);
      const now = this.host.shardOf(s.name);
      if (this.shardChannelHome.get(key) === now) continue;
      this.shardChannelHome.set(key, now);
      // The old node dropped the subscription itself when the slot left it.
      this.restorer.restore(now, this.kinds.shardChannel, [key]);
    }
  }

  /**
   * A plain fleet's placement changed (a migration configured or done,
   * shards released): each channel subscribed where it is to be heard now
   * (both owners while it moves), unsubscribed where it no longer is, and
   * the subscriber connections of released shards closed.
   */
  resync(): void {
    if (this.host.clusterWide) return;
    for (const kind of [this.kinds.channel, this.kinds.shardChannel] as Array<Kind<unknown>>) {
      for (const [key, s] of kind.registry) {
        const id = `${kind.kind}|${key}`;
        const now = kind.shards(s.name);
        const before = this.held.get(id) ?? now;
        this.held.set(id, now);
        for (const shard of now) if (!before.includes(shard)) this.holdOn(shard, kind, key, s);
        for (const shard of before) {
          if (now.includes(shard) || !this.serves(shard) || !this.connections.has(shard)) continue;
          void this.send([shard], kind.unsubscribe, s.name).catch(() => undefined);
        }
      }
    }
    for (const shard of this.patternShards) if (!this.serves(shard)) this.patternShards.delete(shard);
    for (const [shard, pending] of this.connections) {
      if (this.serves(shard)) continue;
      this.connections.delete(shard);
      void pending.then((node) => node.close(true), () => undefined);
    }
  }

  /**
   * Subscribes a channel (or pattern) on a shard it is to be heard on from now (resync(), remap()).
   * One whose first SUBSCRIBE is still in flight is left alone by the
   * restorer (its caller learns how that went): it is subscribed there once
   * that lands, if still wanted there; skipped, the new owner would never
   * hear its messages from `switch` on.
   */
  private holdOn(shard: number, kind: Kind<unknown>, key: string, s: Subscription<unknown>): void {
    if (!s.subscribing) return this.restorer.restore(shard, kind, [key]);
    void s.confirmed.then(
      () => kind.registry.get(key) === s && kind.shards(s.name).includes(shard) && this.restorer.restore(shard, kind, [key]),
      () => undefined, // its caller was told; it is no longer subscribed anywhere
    );
  }

  private async listen<H>(kind: Kind<H>, names: ReadonlyArray<string | Buffer>, handler?: H): Promise<number> {
    checkNames(kind.what, names);
    if (handler !== undefined) checkHandler(handler);
    // A channel's shard, and every shard for a pattern, are known once a cluster's map is; that wait counts against the deadline.
    const deadline = performance.now() + this.host.timeoutMs;
    await this.host.mapped();
    this.allShards().forEach((shard) => this.patternShards.add(shard));
    let last: unknown;
    await Promise.all(
      names.map((name, i) =>
        this.add(kind.registry, name, handler ?? EVENTS, async () => {
          const shards = kind.shards(name);
          if (kind !== this.kinds.pattern) this.held.set(`${kind.kind}|${keyOf(name)}`, shards);
          const replies = await this.send(shards, kind.subscribe, name, deadline);
          if (i === names.length - 1) last = replies[0];
        }),
      ),
    );
    return this.countAfter(kind, last);
  }

  /**
   * One shard: as ioredis, the server's count replied to the call's last name (not counting another call's names
   * subscribed after it), or, that name held already, what the server would say. Several: all the client listens to.
   */
  private countAfter(kind: Kind<unknown>, reply: unknown): number {
    if (this.allShards().length !== 1) return this.count;
    if (typeof reply === "number") return reply;
    return kind === this.kinds.shardChannel ? this.shardChannels.size : this.channels.size + this.patterns.size;
  }

  private async unlisten<H>(kind: Kind<H>, given: ReadonlyArray<string | Buffer>, handler?: H): Promise<number> {
    const names = given.length ? given : [...kind.registry.values()].map((s) => s.name);
    await Promise.all(
      names.map((name) => {
        // Where it is held (both owners of a channel a migration moves, until resync()), not only where it would go now.
        const held = this.held.get(`${kind.kind}|${keyOf(name)}`)?.filter((shard) => this.serves(shard));
        if (!this.remove(kind.registry, name, handler)) return undefined;
        return this.send(held ?? kind.shards(name), kind.unsubscribe, name).catch(() => undefined);
      }),
    );
    return this.count;
  }

  private async add<H>(map: Registry<H>, name: string | Buffer, listener: Listener<H>, subscribe: () => Promise<void>): Promise<void> {
    const key = keyOf(name);
    const existing = map.get(key);
    if (existing) {
      const isNew = !existing.listeners.has(listener);
      existing.listeners.add(listener);
      try {
        return await existing.confirmed;
      } catch (error) {
        if (isNew) existing.listeners.delete(listener);
        throw error;
      }
    }
    const subscription: Subscription<H> = { name, listeners: new Set([listener]), confirmed: Promise.resolve(), subscribing: true, trouble: new Map() };
    map.set(key, subscription);
    subscription.confirmed = subscribe().then(
      () => void (subscription.subscribing = false),
      (error: unknown) => {
        subscription.subscribing = false;
        if (map.get(key) === subscription) map.delete(key);
        throw error;
      },
    );
    await subscription.confirmed;
  }

  /** Removes one listener (or all); true when nothing listens to the name any more. */
  private remove<H>(map: Registry<H>, name: string | Buffer, handler?: H): boolean {
    const key = keyOf(name);
    const subscription = map.get(key);
    if (!subscription) return false;
    if (handler) subscription.listeners.delete(handler);
    else subscription.listeners.clear();
    if (subscription.listeners.size) return false;
    map.delete(key);
    if (map !== this.patterns) this.held.delete(`${map === this.channels ? "channel" : "shardChannel"}|${key}`);
    return true;
  }

  /** The replies, one per shard. */
  private async send(shards: number[], command: string, name: string | Buffer, deadline = performance.now() + this.host.timeoutMs): Promise<unknown[]> {
    if (this.host.closed) throw new ClientClosedError();
    // The wait for a subscriber connection (its master not named yet) counts against the deadline.
    return Promise.all(
      shards.map(async (shard) => (await this.connection(shard)).send(internalCommand(command, [name]), Math.max(1, deadline - performance.now()))),
    );
  }

  private allShards(): number[] {
    return Array.from({ length: this.host.shardCount }, (_, i) => i).filter((shard) => this.serves(shard));
  }

  private serves(shard: number): boolean {
    return shard < this.host.shardCount && (this.host.serves?.(shard) ?? true);
  }

  private allKinds(): Array<Kind<unknown>> {
    return [this.kinds.channel, this.kinds.pattern, this.kinds.shardChannel] as Array<Kind<unknown>>;
  }

  /** The shard's subscriber connection now, if it is `node` (an old one, replaced at a failover, no longer counts). */
  private async current(shard: number, node: NodeClient): Promise<boolean> {
    const now = this.connections.get(shard);
    return now !== undefined && (await now.catch(() => undefined)) === node;
  }

  /** What the shard's subscriber connection heard: a reconnect restores what it held; a loss marks it restoring. */
  private watch(shard: number): SubscriberWatch {
    return {
      ready: (node) => {
        if (!this.wasReady.has(node)) return void this.wasReady.add(node);
        void this.current(shard, node).then((current) => current && this.allKinds().forEach((kind) => this.restorer.restore(shard, kind)));
      },
      down: (node) => {
        void this.current(shard, node).then((current) => {
          if (!current) return;
          for (const kind of this.allKinds()) {
            for (const s of kind.registry.values()) {
              if (!s.subscribing && !s.trouble.has(shard) && kind.shards(s.name).includes(shard)) s.trouble.set(shard, { state: "restoring", error: undefined });
            }
          }
        });
      },
    };
  }

  private connection(shard: number): Promise<NodeClient> {
    let pending = this.connections.get(shard);
    if (!pending) {
      pending = this.host.open(shard, this.watch(shard)).then((node) => {
        node.onMessage({
          message: (channel, message) => this.deliver(node, this.kinds.channel, channel, message),
          pmessage: (pattern, channel, message) => this.deliverPattern(node, pattern, channel, message),
          smessage: (channel, message) => this.deliver(node, this.kinds.shardChannel, channel, message),
        });
        node.connect();
        return node;
      });
      // A failed open is forgotten, so the next subscribe tries again.
      pending.catch(() => this.connections.get(shard) === pending && this.connections.delete(shard));
      this.connections.set(shard, pending);
    }
    return pending;
  }

  private deliver(node: NodeClient, kind: Kind<MessageHandler>, channel: Buffer, message: Buffer): void {
    const subscription = kind.registry.get(channel.toString("latin1"));
    // Resubscribed after a reconnect although nobody listens any more: drop it now.
    if (!subscription) return void node.send(internalCommand(kind.unsubscribe, [channel]), this.host.timeoutMs).catch(() => undefined);
    const emit = kind === this.kinds.shardChannel ? this.events.smessage : this.events.message;
    let text: [string, string] | undefined;
    for (const listener of subscription.listeners) {
      if (listener === EVENTS) this.call(() => emit(channel, message), channel);
      else {
        text ??= [message.toString(), channel.toString()];
        const [m, c] = text;
        this.call(() => listener(m, c), channel);
      }
    }
  }

  private deliverPattern(node: NodeClient, pattern: Buffer, channel: Buffer, message: Buffer): void {
    const subscription = this.patterns.get(pattern.toString("latin1"));
    if (!subscription) return void node.send(internalCommand("punsubscribe", [pattern]), this.host.timeoutMs).catch(() => undefined);
    for (const listener of subscription.listeners) {
      if (listener === EVENTS) this.call(() => this.events.pmessage(pattern, channel, message), channel);
      else this.call(() => listener(message.toString(), channel.toString(), pattern.toString()), channel);
    }
  }

  private call(deliver: () => void, channel: Buffer): void {
    try {
      deliver();
    } catch (error) {
      this.events.handlerError(error, channel.toString());
    }
  }
}

function checkNames(what: string, names: ReadonlyArray<unknown>): void {
  if (names.length === 0) throw new InvalidArgumentError(`subscribe needs at least one ${what}`);
  for (const name of names) {
    if ((typeof name !== "string" && !Buffer.isBuffer(name)) || name.length === 0) {
      throw new InvalidArgumentError(`the ${what} must be a non-empty string or Buffer`);
    }
  }
}

function checkHandler(handler: unknown): void {
  if (typeof handler !== "function") throw new InvalidArgumentError("subscribe needs a handler function (message, channel) => ...");
}
