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

  it("examples/cross-shard.ts against three servers", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/cross-shard.ts"], {
      cwd: root,
      env: { ...process.env, SHARDS: servers.map((s) => s.address).join(",") },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('pipeline: [[null,"OK"],[null,"OK"],[null,["ada","grace"]],[null,1]]');
    expect(run.stdout).toContain("balance now 75");
    expect(run.stdout).toContain("claim: 1 0");
    expect(run.stdout).toContain("brpop: [ 'jobs', 'job-42' ]");
    expect(run.stdout).toContain("message: hello, shards");
  });

  it("examples/high-availability.ts against its own sentinel topology", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/high-availability.ts"], {
      cwd: root,
      env: process.env,
      encoding: "utf8",
      timeout: 40_000,
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^s0: master 127\.0\.0\.1:\d+, replicas 127\.0\.0\.1:\d+$/m);
    expect(run.stdout).toContain("write acknowledged by a replica");
    expect(run.stdout).toContain("from the master: ada");
    expect(run.stdout).toContain("from a replica: ada");
    expect(run.stdout).toContain("ERR_SHARDIS_WRITE_CONCERN: 1 of 2 replicas, reply OK");
    expect(run.stdout).toMatch(/s0 replica lag \d+ ms, readable true/);
  }, 45_000);
});
