/**
 * The near cache's read paths without Redis: a reply given by the
 * `fallback` option (a value Redis never saw) is never kept, whether the
 * read was sent while the breaker was open (answered inside send) or
 * before it opened (answered later, while in flight).
 */
import { describe, expect, it } from "vitest";
import { NearCacheLink } from "../../lib/exec/NearCacheLink.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { buildCommand } from "../../lib/commands/command.js";
import { commandSpec } from "../../lib/routing/commandSpec.js";

/** A link whose two shards track (both confirmed on their master's connection). */
function tracking(): NearCacheLink {
  const options = resolveOptions({ shards: [{ name: "s0", master: "127.0.0.1:1" }], nearCache: {} }).nearCache!;
  const node = {} as never;
  const link = new NearCacheLink(options, { master: () => node, refused: () => undefined });
  for (const shard of [0, 1]) link.tracking(shard).on(node);
  return link;
}

const get = (link: NearCacheLink, shard: number, key: string, send: () => Promise<unknown>) =>
  link.read(shard, commandSpec("get"), buildCommand("get", [key], "utf8"), "utf8", send);

describe("NearCacheLink and the fallback", () => {
  it("keeps Redis's replies (the control)", async () => {
    const link = tracking();
    expect(await get(link, 0, "k", () => Promise.resolve("v"))).toBe("v");
    expect(await link.fast("get", ["k"], "utf8")).toBe("v");
  });

  it("does not keep the fallback's answer to a read sent while the breaker is open", async () => {
    const link = tracking();
    const answer = () => {
      link.fellBack(0);
      return Promise.resolve("fallback");
    };
    expect(await get(link, 0, "k", answer)).toBe("fallback");
    expect(link.fast("get", ["k"], "utf8")).toBeUndefined();
  });

  it("does not keep a reply answered by the fallback while in flight (sent before the breaker opened); other shards keep theirs", async () => {
    const link = tracking();
    let answer!: (value: unknown) => void;
    const read = get(link, 0, "k", () => new Promise((resolve) => (answer = resolve)));
    const other = get(link, 1, "o", () => new Promise((resolve) => setImmediate(() => resolve("real"))));
    // The breaker opens; the read is given to the fallback.
    link.fellBack(0);
    answer("fallback");
    expect(await read).toBe("fallback");
    expect(await other).toBe("real");
    expect(link.fast("get", ["k"], "utf8")).toBeUndefined();
    expect(await link.fast("get", ["o"], "utf8")).toBe("real");
    // Later reads of the shard are kept again.
    expect(await get(link, 0, "k", () => Promise.resolve("v"))).toBe("v");
    expect(await link.fast("get", ["k"], "utf8")).toBe("v");
  });

  it("MGET keeps the values of shards Redis answered, not of one the fallback answered", async () => {
    const link = tracking();
    const shardOf = (key: string) => (key === "a" ? 0 : 1);
    const values = await link.mget(["a", "b"], "utf8", shardOf, () => {
      link.fellBack(1);
      return Promise.resolve(["va", "fallback"]);
    });
    expect(values).toEqual(["va", "fallback"]);
    expect(await link.fast("get", ["a"], "utf8")).toBe("va");
    expect(link.fast("get", ["b"], "utf8")).toBeUndefined();
  });
});
