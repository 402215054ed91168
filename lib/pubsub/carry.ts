/**
 * A client opened again (disconnect(true), connect() after quit()) listens
 * where the closed one did, as ioredis's autoResubscribe: each subscription
 * the closed client held is copied, with its listeners (events and
 * handlers), to the new client's pub/sub, which subscribes it again.
 */
import type { Registry, Subscription } from "./subscriptions.js";

/** Stands for "the shards are not known yet" (a cluster's map) among a carried subscription's troubles. */
export const UNMAPPED = -1;

/**
 * Copies what `from` held into `to`, "restoring" until subscribed again; not
 * one whose first SUBSCRIBE was still in flight (its caller learns how that
 * went, as ioredis carries only what its server confirmed).
 */
export function carry<H>(from: Registry<H>, to: Registry<H>): Array<Subscription<H>> {
  const carried: Array<Subscription<H>> = [];
  for (const [key, s] of from) {
    if (s.subscribing) continue;
    const copy: Subscription<H> = {
      name: s.name,
      listeners: new Set(s.listeners),
      confirmed: Promise.resolve(),
      subscribing: false,
      trouble: new Map([[UNMAPPED, { state: "restoring", error: undefined }]]),
    };
    to.set(key, copy);
    carried.push(copy);
  }
  return carried;
}
