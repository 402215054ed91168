/**
 * What pub/sub keeps per subscription: its listeners, whether the server
 * confirmed it, and on which shards it is not held right now (being
 * subscribed again, or refused there), from which its state is told.
 */
import type { SubscriptionError } from "../errors.js";

/** Stands for "deliver as client events" among a name's listeners. */
export const EVENTS = Symbol("events");
export type Listener<H> = H | typeof EVENTS;

export type SubscriptionKind = "channel" | "pattern" | "shardChannel";

/** Why a shard does not hold a subscription now. */
export type Trouble =
  | { readonly state: "restoring"; readonly error: SubscriptionError | undefined }
  | { readonly state: "refused"; readonly error: SubscriptionError };

export interface Subscription<H> {
  /** As given (string or Buffer), for the SUBSCRIBE command. */
  readonly name: string | Buffer;
  readonly listeners: Set<Listener<H>>;
  /** Settles when the server confirmed (or refused) the subscription. */
  confirmed: Promise<void>;
  /** The first SUBSCRIBE is in flight (its caller waits for it). */
  subscribing: boolean;
  /** Shards (by index) that do not hold it now, and why; empty when every shard it needs holds it. */
  readonly trouble: Map<number, Trouble>;
}

export type Registry<H> = Map<string, Subscription<H>>;

/** What one kind of subscription sends, and where. */
export interface Kind<H> {
  readonly kind: SubscriptionKind;
  readonly what: string;
  readonly subscribe: string;
  readonly unsubscribe: string;
  readonly registry: Registry<H>;
  /** The shards a name is subscribed on. */
  shards(name: string | Buffer): number[];
}

/** One subscription as client.subscriptions() reports it. */
export interface SubscriptionState {
  readonly kind: SubscriptionKind;
  /** The channel or pattern. */
  readonly name: string;
  /**
   * active: held on every shard it needs; subscribing: its first SUBSCRIBE
   * is in flight; restoring: being subscribed again after its connection
   * was lost or replaced (messages meanwhile are missed); refused: a node
   * refused it (asked again quietly while it stays subscribed).
   */
  readonly state: "subscribing" | "active" | "restoring" | "refused";
  /** The last failure, while restoring or refused. */
  readonly error?: SubscriptionError;
}

export function stateOf(kind: SubscriptionKind, subscription: Subscription<unknown>): SubscriptionState {
  const name = subscription.name.toString();
  if (subscription.subscribing) return { kind, name, state: "subscribing" };
  const troubles = [...subscription.trouble.values()];
  const worst = troubles.find((t) => t.state === "refused") ?? troubles.find((t) => t.error) ?? troubles[0];
  if (!worst) return { kind, name, state: "active" };
  return { kind, name, state: worst.state, ...(worst.error && { error: worst.error }) };
}

/** Names as the server sends them back (bytes), so string and Buffer names meet in one map. */
export function keyOf(name: string | Buffer): string {
  return typeof name === "string" ? Buffer.from(name).toString("latin1") : name.toString("latin1");
}
