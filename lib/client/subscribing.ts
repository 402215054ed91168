/**
 * The client's pub/sub methods, in ioredis's names and forms (arrays of
 * names flattened, a trailing node-style callback), plus shardis's own
 * handler form, `subscribe(channel, { handler })`, put on the client class
 * as installScans puts the scans: the client holds its PubSub under
 * PUBSUB, these read the arguments and hand them over.
 */
import type { MessageHandler, PatternHandler, PubSub, SubscriptionState } from "../pubsub/PubSub.js";
import { listening, type ListenOptions } from "./arguments.js";
import type { Callback } from "../commands/install.js";

/** ioredis's names, then its node-style callback `(error, count)`. */
type Names = Array<string | Buffer | Array<string | Buffer>>;

export const PUBSUB = Symbol("shardis.pubsub");

export interface SubscribeMethods {
  /**
   * Listens on channels, each on the shard its name hashes to; the client
   * emits "message" and "messageBuffer". As in ioredis, a trailing function
   * is a node-style callback `(error, count)` called once subscribed.
   * With `{ handler }` (shardis's own form), the handler gets the channels'
   * messages instead. Resolves, once subscribed, the number of channels and
   * patterns listened to.
   */
  subscribe(channel: string | Buffer | Array<string | Buffer>, options: ListenOptions<MessageHandler>): Promise<number>;
  subscribe(...args: [...channels: Names, callback: Callback]): Promise<number>;
  subscribe(...channels: Names): Promise<number>;
  /** Removes a handler, or every listener of the channels (of all channels, given none); unsubscribes when none is left. */
  unsubscribe(channel: string | Buffer, options: ListenOptions<MessageHandler>): Promise<number>;
  unsubscribe(...args: [...channels: Names, callback: Callback]): Promise<number>;
  unsubscribe(...channels: Names): Promise<number>;
  /** Listens on patterns, on every shard: as "pmessage"/"pmessageBuffer" events, or with `{ handler }`. */
  psubscribe(pattern: string | Buffer | Array<string | Buffer>, options: ListenOptions<PatternHandler>): Promise<number>;
  psubscribe(...args: [...patterns: Names, callback: Callback]): Promise<number>;
  psubscribe(...patterns: Names): Promise<number>;
  /** As unsubscribe, for patterns. */
  punsubscribe(pattern: string | Buffer, options: ListenOptions<PatternHandler>): Promise<number>;
  punsubscribe(...args: [...patterns: Names, callback: Callback]): Promise<number>;
  punsubscribe(...patterns: Names): Promise<number>;
  /**
   * Sharded pub/sub (SSUBSCRIBE, Redis 7): each channel on the shard that
   * serves its slot, messages as "smessage"/"smessageBuffer" events or to
   * `{ handler }`; publish with spublish(). Over a cluster, a channel's
   * subscription follows its slot when the cluster reshards.
   */
  ssubscribe(channel: string | Buffer | Array<string | Buffer>, options: ListenOptions<MessageHandler>): Promise<number>;
  ssubscribe(...args: [...channels: Names, callback: Callback]): Promise<number>;
  ssubscribe(...channels: Names): Promise<number>;
  /** As unsubscribe, for sharded channels. */
  sunsubscribe(channel: string | Buffer, options: ListenOptions<MessageHandler>): Promise<number>;
  sunsubscribe(...args: [...channels: Names, callback: Callback]): Promise<number>;
  sunsubscribe(...channels: Names): Promise<number>;
  /**
   * Every subscription (channels, patterns, sharded channels) and whether
   * it is held now: "active", "subscribing", "restoring" (its connection was
   * lost or replaced; subscribed again with retries) or "refused" (a node
   * refused it, e.g. an ACL user without the channel; asked again quietly
   * while it stays subscribed), with the last failure as `error`.
   */
  subscriptions(): SubscriptionState[];
}

/** Puts SubscribeMethods on a client class whose instances hold their PubSub under PUBSUB. */
export function installSubscriptions(target: { prototype: object }): void {
  type Holder = { readonly [PUBSUB]: PubSub };
  const methods: { [K in keyof SubscribeMethods]: (this: Holder, ...args: unknown[]) => unknown } = {
    subscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].subscribe(names, handler as MessageHandler | undefined));
    },
    unsubscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].unsubscribe(names, handler as MessageHandler | undefined), true);
    },
    psubscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].psubscribe(names, handler as PatternHandler | undefined));
    },
    punsubscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].punsubscribe(names, handler as PatternHandler | undefined), true);
    },
    ssubscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].ssubscribe(names, handler as MessageHandler | undefined));
    },
    sunsubscribe(...args) {
      return listening(args, (names, handler) => this[PUBSUB].sunsubscribe(names, handler as MessageHandler | undefined), true);
    },
    subscriptions() {
      return this[PUBSUB].subscriptions();
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    Object.defineProperty(target.prototype, name, { value: method, writable: true, configurable: true });
  }
}
