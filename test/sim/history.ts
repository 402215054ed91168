/**
 * What each call of the simulated workload did and saw, and the timelines
 * its replies are checked against: for every node, every value every key
 * held, with the fake time of each change (World.changes).
 */
import type { Change } from "./server.js";

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export interface Call {
  readonly id: number;
  /** What was asked, for reports ("get k3", "multi {t}: set incr get"). */
  readonly what: string;
  readonly start: number;
  /** Latest acceptable settle time (start + deadline + bound); Infinity when the call has no deadline of its own. */
  readonly due: number;
  end?: number;
  outcome?: Outcome;
  /** Times it settled: must be exactly one. */
  settles: number;
}

/** Values a key held, per node, over time; "*" changes (a node emptied) apply to every key. */
export class Timelines {
  private readonly byNode = new Map<string, Change[]>();
  private readonly filtered = new Map<string, Change[]>();

  constructor(changes: readonly Change[]) {
    for (const change of changes) {
      let list = this.byNode.get(change.server);
      if (!list) this.byNode.set(change.server, (list = []));
      list.push(change);
    }
  }

  /**
   * Every value (undefined: missing) the key held on any of these nodes at
   * some moment in [from, to]: its value at `from`, each value set at `from`
   * (fake time ticks in whole ms: a call that starts in the same ms as two
   * writes may see the first of them), and each change after.
   */
  heldDuring(nodes: readonly string[], key: string, from: number, to: number): Set<string | undefined> {
    const held = new Set<string | undefined>();
    for (const node of nodes) {
      let value: string | undefined;
      for (const change of this.of(node, key)) {
        if (change.at < from) value = change.value;
        else if (change.at === from) held.add((value = change.value));
        else if (change.at <= to) held.add(change.value);
        else break;
      }
      held.add(value);
    }
    return held;
  }

  /** The node's changes of this key (and its wipes), in order. */
  private of(node: string, key: string): Change[] {
    const id = `${node}\u0000${key}`;
    let list = this.filtered.get(id);
    if (!list) this.filtered.set(id, (list = (this.byNode.get(node) ?? []).filter((c) => c.key === key || c.key === "*")));
    return list;
  }
}
