// The package as users import it: "shardis" resolves through package.json "exports" to dist/ (built by pretest).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as shardis from "shardis";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

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

describe("prom-client", () => {
  /** Whether prom-client is loaded after creating a client with these options, in a fresh process. */
  function loadsPromClient(options: string): boolean {
    const script = `
      import { createRequire } from "node:module";
      const { ShardedClient } = await import("shardis");
      const client = new ShardedClient({ shards: [{ name: "s0", master: "127.0.0.1:1" }], lazyConnect: true, ${options} });
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes("/prom-client/"));
      console.log(loaded ? "loaded" : "not loaded");
      await client.quit();`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    if (run.status !== 0) throw new Error(run.stderr);
    return run.stdout.trim() === "loaded";
  }

  it("is loaded only when metrics are on", () => {
    expect(loadsPromClient("")).toBe(false);
    expect(loadsPromClient("metrics: {}")).toBe(true);
  });
});

describe("shardis/otel", () => {
  /** What a fresh process loads: @opentelemetry/api after importing `imports`, and whether instrumentShardis is there. */
  function loads(imports: string): { api: boolean; instrument: string } {
    const script = `
      import { createRequire } from "node:module";
      const mods = await Promise.all(${JSON.stringify(imports.split(",").filter(Boolean))}.map((m) => import(m)));
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ api: cache.some((p) => p.includes("/@opentelemetry/api/")), instrument: typeof mods.at(-1)?.instrumentShardis }));`;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    if (run.status !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout.trim()) as { api: boolean; instrument: string };
  }

  it("is a subpath export that only its importers load, with @opentelemetry/api", () => {
    expect(loads("shardis")).toEqual({ api: false, instrument: "undefined" });
    expect(loads("shardis,shardis/otel")).toEqual({ api: true, instrument: "function" });
  });
});
