/**
 * Subscribing again what a shard's subscriber connection must hold, after
 * that connection was re-established (a reconnect) or replaced (a failover,
 * a sharded channel's slot moving there). Every failed SUBSCRIBE is
 * reported and asked again with backoff for as long as it stays subscribed:
 * a deadline or a lost connection passes. A refusal by the node (NOPERM: an
 * ACL user without the channel) is reported once and asked again quietly at
 * the same pace, so a restored ACL brings the subscription back.
 */
import { DEFAULTS } from "../config/defaults.js";
import { SubscriptionError } from "../errors.js";
import { reconnectDelay } from "../resilience/backoff.js";
import type { Kind, Subscription } from "./subscriptions.js";

/** Server replies that mean "not here" or "not now", not "no": retried as transient. */
const NOT_NOW = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|BUSY)\b/;

export interface RestoreHost {
  readonly closed: boolean;
  shardName(shard: number): string;
  /** One subscribe command for one name on the shard's subscriber connection, within the deadline. */
  send(shard: number, command: string, name: string | Buffer): Promise<void>;
  failed(error: SubscriptionError): void;
}

/** The keys a run covers: some, or every subscription of its kind the shard must hold. */
type Keys = ReadonlySet<string> | "all";

interface Run {
  readonly keys: Keys;
  timer?: NodeJS.Timeout;
}

type Failure = [key: string, subscription: Subscription<unknown>, error: Error];

export class Restorer {
  /** Per shard and command, the latest run: an older run's outcome no longer counts (it would retry what the latest covers). */
  private readonly runs = new Map<string, Run>();

  constructor(private readonly host: RestoreHost) {}

  /** Subscribes `keys` of this kind (default: all it must hold) again on the shard, merged with what is pending there. */
  restore(shard: number, kind: Kind<unknown>, keys?: Iterable<string>): void {
    this.run(shard, kind, keys ? new Set(keys) : "all", 1);
  }

  /** Pending retries stop (the client closes). */
  stop(): void {
    for (const run of this.runs.values()) clearTimeout(run.timer);
    this.runs.clear();
  }

  private run(shard: number, kind: Kind<unknown>, given: Keys, attempt: number): void {
    const id = `${shard}|${kind.subscribe}`;
    const previous = this.runs.get(id);
    clearTimeout(previous?.timer);
    const keys = merge(given, previous?.keys);
    // Only what is still wanted there: not unsubscribed meanwhile, not a sharded channel whose slot left the shard,
    // and not one whose first SUBSCRIBE is still in flight (its caller learns how that went).
    const targets: Array<[string, Subscription<unknown>]> = [];
    for (const key of keys === "all" ? kind.registry.keys() : keys) {
      const subscription = kind.registry.get(key);
      if (subscription && !subscription.subscribing && kind.shards(subscription.name).includes(shard)) targets.push([key, subscription]);
    }
    if (targets.length === 0 || this.host.closed) {
      this.runs.delete(id);
      return;
    }
    const run: Run = { keys };
    this.runs.set(id, run);
    for (const [, subscription] of targets) {
      const trouble = subscription.trouble.get(shard);
      if (trouble?.state !== "refused") subscription.trouble.set(shard, { state: "restoring", error: trouble?.error });
    }
    void Promise.allSettled(targets.map(([, s]) => this.host.send(shard, kind.subscribe, s.name))).then((results) => {
      if (this.runs.get(id) !== run || this.host.closed) return;
      const transient: Failure[] = [];
      const refused: Failure[] = [];
      results.forEach((result, i) => {
        const [key, subscription] = targets[i]!;
        if (kind.registry.get(key) !== subscription) return; // unsubscribed meanwhile
        if (result.status === "fulfilled") subscription.trouble.delete(shard);
        else (isRefusal(result.reason) ? refused : transient).push([key, subscription, toError(result.reason)]);
      });
      this.report(shard, kind, transient, false);
      // A refusal is reported once, until the subscription is held there again.
      this.report(shard, kind, refused.filter(([, s]) => s.trouble.get(shard)?.state !== "refused"), true);
      const retry = [...transient, ...refused].map(([key]) => key);
      if (retry.length === 0) {
        this.runs.delete(id);
        return;
      }
      const next: Run = { keys: new Set(retry) };
      next.timer = setTimeout(() => this.run(shard, kind, next.keys, attempt + 1), reconnectDelay(attempt, DEFAULTS.reconnect));
      this.runs.set(id, next);
    });
  }

  /** One event for the failures of one kind on one shard, each subscription marked with it. */
  private report(shard: number, kind: Kind<unknown>, failures: Failure[], refused: boolean): void {
    if (failures.length === 0) return;
    const names = failures.map(([, s]) => s.name.toString());
    const error = new SubscriptionError(this.host.shardName(shard), kind.subscribe, names, refused, failures[0]![2]);
    for (const [, subscription] of failures) subscription.trouble.set(shard, refused ? { state: "refused", error } : { state: "restoring", error });
    this.host.failed(error);
  }
}

function merge(given: Keys, pending: Keys | undefined): Keys {
  if (given === "all" || pending === "all") return "all";
  return pending ? new Set([...given, ...pending]) : given;
}

function isRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError" && !NOT_NOW.test(error.message);
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
