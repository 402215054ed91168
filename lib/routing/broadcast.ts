/**
 * Keyless commands that make sense for the whole fleet, sent to every
 * shard's master, and how their replies become one (the rules are listed
 * in docs/ioredis-compatibility.md). Everything else without a key stays a
 * KeylessCommandError: send it to one shard with client.shard(name).
 */
import type { Args } from "./plan.js";

/**
 * first   every shard answered; the first reply (PING's PONG, or its echo)
 * same    every shard answered the same (SCRIPT LOAD's SHA, FUNCTION LOAD's library name)
 * allOk   every shard answered; OK
 * and     per position, 1 only if every shard answered 1 (SCRIPT EXISTS)
 * sum     added up (DBSIZE, PUBSUB NUMPAT)
 * sumPairs [name, count, ...] pairs added up per name, in the order asked (PUBSUB NUMSUB)
 * concat  arrays joined, shard by shard (PUBSUB CHANNELS)
 * lines   texts joined, shard by shard (CLIENT LIST: one line per connection)
 * info    INFO texts one after the other, each under a "# Shard <name>" line
 */
export type Combine = "first" | "same" | "allOk" | "and" | "sum" | "sumPairs" | "concat" | "lines" | "info";

const BROADCAST: Record<string, Combine | Record<string, Combine>> = {
  ping: "first",
  dbsize: "sum",
  info: "info",
  script: { load: "same", exists: "and", flush: "allOk" },
  function: { load: "same", delete: "allOk", flush: "allOk" },
  pubsub: { numsub: "sumPairs", numpat: "sum", channels: "concat" },
  // The client's name on every shard's shared connection (queues name their workers' connections this way).
  client: { setname: "allOk", getname: "first", list: "lines" },
};

/** Whether any form of the command is broadcast (checked once per command name). */
export function broadcasts(name: string): boolean {
  return Object.hasOwn(BROADCAST, name);
}

/** How this call's replies combine, or undefined when it is not broadcast. */
export function broadcastRule(name: string, args: Args): Combine | undefined {
  const rule = Object.hasOwn(BROADCAST, name) ? BROADCAST[name] : undefined;
  if (typeof rule !== "object") return rule;
  const sub = args[0] === undefined ? "" : String(args[0]).toLowerCase();
  return Object.hasOwn(rule, sub) ? rule[sub] : undefined;
}

/** One reply out of every shard's (in shard order). Throws when shards disagree where they must not. */
export function combine(rule: Combine, replies: readonly unknown[], shardNames: readonly string[]): unknown {
  switch (rule) {
    case "first":
      return replies[0];
    case "allOk":
      return "OK";
    case "same": {
      const text = replies.map(String);
      if (text.some((t) => t !== text[0])) throw new Error(`shards answered differently: ${text.map((t, i) => `${shardNames[i]}=${t}`).join(", ")}`);
      return replies[0];
    }
    case "and":
      return (replies[0] as unknown[]).map((_, i) => (replies.every((r) => Number((r as unknown[])[i]) === 1) ? 1 : 0));
    case "sum": {
      const total = replies.reduce<number>((sum, r) => sum + Number(r), 0);
      return typeof replies[0] === "string" ? String(total) : total;
    }
    case "sumPairs": {
      const first = replies[0] as unknown[];
      return first.map((value, i) => (i % 2 === 0 ? value : replies.reduce<number>((sum, r) => sum + Number((r as unknown[])[i]), 0)));
    }
    case "concat":
      return replies.flatMap((r) => r as unknown[]);
    case "lines":
      return Buffer.isBuffer(replies[0]) ? Buffer.concat(replies as Buffer[]) : replies.map(String).join("");
    case "info": {
      const texts = replies.map((r, i) => `# Shard ${shardNames[i]}\r\n${Buffer.isBuffer(r) ? r.toString() : String(r)}`);
      return Buffer.isBuffer(replies[0]) ? Buffer.from(texts.join("\r\n")) : texts.join("\r\n");
    }
  }
}
