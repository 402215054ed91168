/**
 * The client's pub/sub methods, in ioredis's names and forms (a trailing
 * handler optional, arrays of names flattened), put on the client class as
 * installScans puts the scans: the client holds its PubSub under PUBSUB,
 * these read the arguments and hand them over.
 */
import type { MessageHandler, PatternHandler, PubSub, SubscriptionState } from "../pubsub/PubSub.js";
import { listening } from "./arguments.js";

export const PUBSUB = Symbol("shardis.pubsub");

export interface SubscribeMethods {
  /**
   * Listens on channels, each on the shard its name hashes to. With a
   * handler, the handler gets the channel's messages; without one (ioredis's
   * form), the client emits "message" and "messageBuffer". Resolves, once
   * subscribed, the number of channels and patterns listened to.
   */
  subscribe(channel: string | Buffer, handler: MessageHandler): Promise<number>;
  subscribe(...channels: Array<string | Buffer>): Promise<number>;
  /** Removes a handler, or every listener of the channels (of all channels, given none); unsubscribes when none is left. */
  unsubscribe(channel: string | Buffer, handler?: MessageHandler): Promise<number>;
  unsubscribe(...channels: Array<string | Buffer>): Promise<number>;
  /** Listens on patterns, on every shard: with a handler, or as "pmessage"/"pmessageBuffer" events. */
  psubscribe(pattern: string | Buffer, handler: PatternHandler): Promise<number>;
  psubscribe(...patterns: Array<string | Buffer>): Promise<number>;
  /** As unsubscribe, for patterns. */
  punsubscribe(pattern: string | Buffer, handler?: PatternHandler): Promise<number>;
  punsubscribe(...patterns: Array<string | Buffer>): Promise<number>;
  /**
   * Sharded pub/sub (SSUBSCRIBE, Redis 7): each channel on the shard that
   * serves its slot; publish with spublish(). Over a cluster, a channel's
   * subscription follows its slot when the cluster reshards.
   */
  ssubscribe(channel: string | Buffer, handler: MessageHandler): Promise<number>;
  ssubscribe(...channels: Array<string | Buffer>): Promise<number>;
  /** As unsubscribe, for sharded channels. */
  sunsubscribe(channel: string | Buffer, handler?: MessageHandler): Promise<number>;
  sunsubscribe(...channels: Array<string | Buffer>): Promise<number>;
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
