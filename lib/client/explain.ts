/**
 * client.explain(): a routing plan as a plain, frozen description, for
 * people and logs. It shows keys, never values: what it describes ends up
 * in logs, and values may be anything (tokens, personal data).
 */
import type { Plan } from "../routing/plan.js";

export interface Explanation {
  readonly command: string;
  /** single: one shard; split: the keys' shards, one command each; broadcast: every shard. */
  readonly kind: Plan["kind"];
  /**
   * Each shard the command would reach, with the arguments it would get there (null: the caller's, whole), values
   * shown as "[redacted]": MSET's parts read ["k1", "[redacted]", "k2", "[redacted]"].
   */
  readonly parts: ReadonlyArray<{ readonly shard: string; readonly args: ReadonlyArray<string | Buffer> | null }>;
  /** How the replies would become one: "as is", or the split's or broadcast's rule (byKey, sum, allOk, first, same, ...). */
  readonly reply: string;
}

export function explain(command: string, plan: Plan, shardNames: readonly string[]): Explanation {
  const freeze = <T>(value: T): T => Object.freeze(value);
  switch (plan.kind) {
    case "single":
      return freeze({ command, kind: "single", parts: freeze([freeze({ shard: shardNames[plan.shard]!, args: null })]), reply: "as is" });
    case "split":
      return freeze({
        command,
        kind: "split",
        parts: freeze(plan.parts.map((p) => freeze({ shard: shardNames[p.shard]!, args: freeze(keysOnly(p.args, p.args.length / p.positions.length)) }))),
        reply: plan.reduce,
      });
    case "broadcast":
      return freeze({ command, kind: "broadcast", parts: freeze(plan.shards.map((s) => freeze({ shard: shardNames[s]!, args: null }))), reply: plan.combine });
  }
}

/** Shown in place of a value in explain()'s arguments. */
export const REDACTED = "[redacted]";

/** A split part's arguments come in groups of `step`, the key first (MSET: key, value): the keys, values redacted. */
function keysOnly(args: ReadonlyArray<string | Buffer>, step: number): Array<string | Buffer> {
  return args.map((arg, i) => (i % step === 0 ? arg : REDACTED));
}
