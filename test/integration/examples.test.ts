import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("examples run", () => {
  let servers: RedisServer[];
  beforeAll(async () => {
    servers = await startRedisMany(3);
  });
  afterAll(async () => stopAll(servers));

  it("examples/quickstart.ts against three servers", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/quickstart.ts"], {
      cwd: root,
      env: { ...process.env, SHARDS: servers.map((s) => s.address).join(",") },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("GET user:1 = ada");
    expect(run.stdout).toContain("MGET = [ 'barbara', 'ada', null, 'grace' ]");
    expect(run.stdout).toContain("DEL count = 3");
    expect(run.stdout).toMatch(/refused: RENAME keys span shards/);
  });
});
