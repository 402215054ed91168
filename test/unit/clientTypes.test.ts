/**
 * The client's types leave out (as compile-time errors) exactly the commands
 * that cannot work across shards: the SHARD_ONLY list agrees with the
 * command table and the routing rules.
 */
import { createRequire } from "node:module";
import { list } from "@ioredis/commands";
import { describe, expect, it } from "vitest";
import { SHARD_ONLY } from "../../lib/commands/surface.js";
import { broadcasts } from "../../lib/routing/broadcast.js";
import { refusal } from "../../lib/routing/refusals.js";

interface RawSpec {
  flags: string[];
  keyStart: number;
  subcommands?: Record<string, RawSpec>;
}
const TABLE = createRequire(import.meta.url)("@ioredis/commands/built/commands.json") as Record<string, RawSpec>;

/** No form of the command has a key (subcommands included). */
function keyless(name: string): boolean {
  const spec = TABLE[name]!;
  const hasKey = (s: RawSpec) => s.keyStart > 0 || s.flags.includes("movablekeys");
  return spec.subcommands ? !Object.values(spec.subcommands).some(hasKey) : !hasKey(spec);
}

/** Keyless commands the client serves anyway: broadcast to every shard, routed by channel, or methods of its own. */
const SERVED = new Set(["publish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "multi", "quit", "scan"]);
/** Narrowed in the types although they answer at run time, so TypeScript users go to client.shard(name): INFO and CLIENT answer per shard for libraries. */
const NARROWED_ANYWAY = new Set(["info", "client"]);

describe("the client's advertised commands", () => {
  it("leave out every command that always rejects on the client", () => {
    const rejecting = list.filter((name) => keyless(name) && !broadcasts(name) && !SERVED.has(name));
    expect(rejecting.filter((name) => !(SHARD_ONLY as readonly string[]).includes(name))).toEqual([]);
  });

  it("leave out nothing that works on the client, beyond INFO and CLIENT", () => {
    const shardOnly = SHARD_ONLY.filter((name) => !NARROWED_ANYWAY.has(name));
    const working = shardOnly.filter((name) => !(refusal(name, []) !== undefined || (keyless(name) && !broadcasts(name))));
    expect(working).toEqual([]);
    for (const name of NARROWED_ANYWAY) expect(broadcasts(name)).toBe(true);
  });
});
