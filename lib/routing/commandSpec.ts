/**
 * What routing needs to know about a command, derived once per command name
 * from the metadata that ships with ioredis (@ioredis/commands): where its
 * keys are, whether it may be split across shards and how replies combine.
 */
import { createRequire } from "node:module";
import { getKeyIndexes } from "@ioredis/commands";
import { broadcasts } from "./broadcast.js";

interface RawSpec {
  flags: string[];
  keyStart: number;
  keyStop: number;
  step: number;
  requestPolicy?: string;
  responsePolicy?: string;
  subcommands?: Record<string, RawSpec>;
}

// The per-command policies are only in the JSON table, not the package's API.
const TABLE = createRequire(import.meta.url)("@ioredis/commands/built/commands.json") as Record<string, RawSpec>;

/** How the replies of a split command's parts become one reply. */
export type Reduction = "byKey" | "sum" | "allOk";

export interface SplitRule {
  /** Arguments per key: 1 for MGET/DEL, 2 for MSET (key, value). */
  readonly step: number;
  readonly reduce: Reduction;
}

export interface CommandSpec {
  readonly name: string;
  readonly known: boolean;
  /** Argument index of the key for commands that always have exactly one key there; else -1. */
  readonly singleKeyIndex: number;
  readonly readOnly: boolean;
  readonly blocking: boolean;
  /** Set when keys on several shards may be split into one command per shard. */
  readonly split: SplitRule | undefined;
  /** For PUBLISH: the argument holding the channel, which routes like a key. */
  readonly channelIndex: number;
  /** Some form of it goes to every shard (routing/broadcast.ts). */
  readonly broadcast: boolean;
}

/** Channels are sharded like keys; the table lists PUBLISH as keyless, so its channel is named here. */
const CHANNEL_ARGUMENT: Record<string, number> = { publish: 0 };

const REDUCTIONS: Record<string, Reduction> = { agg_sum: "sum", all_succeeded: "allOk" };
const cache = new Map<string, CommandSpec>();

export function commandSpec(name: string): CommandSpec {
  const cached = cache.get(name);
  if (cached) return cached;
  const raw = Object.hasOwn(TABLE, name) ? TABLE[name] : undefined;
  // Unknown names are not cached: they come from call() and could grow the cache without bound.
  if (!raw) {
    return { name, known: false, singleKeyIndex: -1, readOnly: false, blocking: false, split: undefined, channelIndex: -1, broadcast: false };
  }
  const spec = build(name, raw);
  cache.set(name, spec);
  return spec;
}

function build(name: string, raw: RawSpec): CommandSpec {
  const movable = raw.flags.includes("movablekeys");
  const fixedSingleKey = !movable && !raw.subcommands && raw.step > 0 && raw.keyStart > 0 && raw.keyStop === raw.keyStart;
  return {
    name,
    known: true,
    singleKeyIndex: fixedSingleKey ? raw.keyStart - 1 : -1,
    readOnly: raw.flags.includes("readonly"),
    blocking: raw.flags.includes("blocking"),
    split: splitRule(raw, movable),
    channelIndex: CHANNEL_ARGUMENT[name] ?? -1,
    broadcast: broadcasts(name),
  };
}

/** Only "multi_shard" commands whose arguments are all key groups can be split generically. */
function splitRule(raw: RawSpec, movable: boolean): SplitRule | undefined {
  if (raw.requestPolicy !== "multi_shard" || movable || raw.keyStart !== 1 || raw.keyStop !== -1) return undefined;
  if (raw.responsePolicy === undefined) return { step: raw.step, reduce: "byKey" };
  const reduce = REDUCTIONS[raw.responsePolicy];
  return reduce ? { step: raw.step, reduce } : undefined;
}

/**
 * Argument indexes of the keys in this call. SORT's BY/GET patterns come back
 * as [index, length] pairs and are skipped: they name keys by pattern, which
 * the server resolves on the sorted key's own node.
 */
export function keyIndexes(spec: CommandSpec, args: ReadonlyArray<string | Buffer>): number[] {
  if (spec.singleKeyIndex >= 0) return spec.singleKeyIndex < args.length ? [spec.singleKeyIndex] : [];
  // Not in the command table (a module's command sent to the only shard): no key known.
  if (!spec.known) return [];
  const found = getKeyIndexes(spec.name, args as Array<string | Buffer>, { parseExternalKey: true }) as unknown[];
  return found.filter((i): i is number => typeof i === "number" && i < args.length);
}
