// The package as users import it: "shardis" resolves through package.json "exports" to dist/ (built by pretest).
import { describe, expect, it } from "vitest";
import * as shardis from "shardis";

describe("package entry point", () => {
  it("exports the public API by its fixed names", () => {
    for (const name of ["ShardedClient", "keySlot", "ShardisError", "ConfigError", "CrossShardError"]) {
      expect(shardis).toHaveProperty(name);
    }
    expect(shardis.keySlot("foo")).toBe(12182);
  });

  it("throws the exported ConfigError class for a bad config", () => {
    expect(() => new shardis.ShardedClient({ shards: [] })).toThrow(shardis.ConfigError);
    expect(() => new shardis.ShardedClient({ shards: [] })).toThrow(shardis.ShardisError);
  });
});
