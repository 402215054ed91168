import type { SplitPlan } from "./plan.js";

/** Combines the replies of a split command's parts, given in plan.parts order. */
export function reduceReplies(plan: SplitPlan, replies: unknown[]): unknown {
  switch (plan.reduce) {
    case "byKey": {
      const result = new Array<unknown>(plan.keyCount);
      plan.parts.forEach((part, p) => {
        const reply = replies[p] as unknown[];
        part.positions.forEach((position, j) => (result[position] = reply[j]));
      });
      return result;
    }
    case "sum": {
      const total = replies.reduce<number>((sum, reply) => sum + Number(reply), 0);
      // With redis.stringNumbers the parts are strings, and so is the sum.
      return typeof replies[0] === "string" ? String(total) : total;
    }
    case "allOk":
      return replies[0];
  }
}
