/** client.explain(): a routing plan as a plain, frozen description, for people and logs. */
import type { Plan } from "../routing/plan.js";

export interface Explanation {
  readonly command: string;
  /** single: one shard; split: the keys' shards, one command each; broadcast: every shard. */
  readonly kind: Plan["kind"];
  /** Each shard the command would reach, with the arguments it would get there (null: the caller's, whole). */
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
        parts: freeze(plan.parts.map((p) => freeze({ shard: shardNames[p.shard]!, args: freeze([...p.args]) }))),
        reply: plan.reduce,
      });
    case "broadcast":
      return freeze({ command, kind: "broadcast", parts: freeze(plan.shards.map((s) => freeze({ shard: shardNames[s]!, args: null }))), reply: plan.combine });
  }
}
