import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { eventually } from "../support/keys.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs an example to completion with tsx, as a user would; with `env` against servers given, else through examples/local.ts. */
function runExample(file: string, env: Record<string, string> | undefined, timeoutMs: number) {
  const name = file.replace(/^examples\/|\.ts$/g, "");
  const args = env ? [file] : ["examples/local.ts", name];
  return spawnSync(process.execPath, ["--import", "tsx", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

describe("examples run", () => {
  let servers: RedisServer[];
  beforeAll(async () => {
    servers = await startRedisMany(3);
  });
  afterAll(async () => stopAll(servers));

  it("examples/quickstart.ts against three servers", () => {
    const run = runExample("examples/quickstart.ts", { SHARDS: servers.map((s) => s.address).join(",") }, 20_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toContain("GET user:1 = ada");
    expect(run.stdout).toContain("MGET = [ 'barbara', 'ada', null, 'grace' ]");
    expect(run.stdout).toContain("DEL count = 3");
    expect(run.stdout).toMatch(/refused: RENAME keys span shards/);
  });

  it("examples/cross-shard.ts against three servers", () => {
    const run = runExample("examples/cross-shard.ts", { SHARDS: servers.map((s) => s.address).join(",") }, 20_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toContain('pipeline: [[null,"OK"],[null,"OK"],[null,["ada","grace"]],[null,1]]');
    expect(run.stdout).toContain("balance now 75");
    expect(run.stdout).toContain("claim: 1 0");
    expect(run.stdout).toContain("brpop: [ 'jobs', 'job-42' ]");
    expect(run.stdout).toContain("message: hello, shards");
  });

  it("examples/tracing.ts prints one request's span tree: shardis's spans under the request's, each command on its node", () => {
    const run = runExample("examples/tracing.ts", { SHARDS: servers.map((s) => s.address).join(",") }, 20_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    const lines = run.stdout.split("\n").map((line) => line.replace(/ \([\d.]+ ms\)/, "").replace(/127\.0\.0\.1:\d+/g, "NODE").replace(/\bs\d\b/g, "SHARD"));
    expect(lines).toEqual(
      expect.arrayContaining([
        "GET /users/1",
        "  cache.getOrSet users  outcome loaded",
        "    cache.load users",
        "      SELECT users",
        '  MGET  2 shards, "MGET user:1 user:2 user:3"',
        "  PIPELINE  batch 2",
        '    INCR  SHARD NODE, "INCR visits:{user:1}"',
        "  MULTI  SHARD NODE, batch 2",
      ]),
    );
  });

  it("examples/grow.ts through examples/local.ts: a fourth shard added live, by a migration and by a plain switch", () => {
    const run = runExample("examples/grow.ts", undefined, 60_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    for (const phase of ["dual", "warm", "switch", "done"]) expect(run.stdout).toContain(`phase ${phase}:`);
    const migrated = /migration 3 -> 4: (\d+) loads, 0 errors; \d+% of keys moved, \d+ fallback reads, (\d+) copies/.exec(run.stdout);
    const plain = /plain switch 3 -> 4: (\d+) loads, 0 errors/.exec(run.stdout);
    expect(migrated, run.stdout).not.toBeNull();
    expect(plain, run.stdout).not.toBeNull();
    // The plain switch misses every moved key; the migration copied them (a few may miss on a starved machine).
    expect(Number(plain![1])).toBeGreaterThan(200);
    expect(Number(migrated![1])).toBeLessThan(Number(plain![1]) / 4);
    expect(Number(migrated![2])).toBeGreaterThan(200);
  }, 60_000);

  it("npm run demo -- --grow: a live table without a TTY, errors 0, and the migration's database loads far below the plain switch's", () => {
    const run = spawnSync("npm", ["run", "demo", "--", "--grow", "--seconds", "20"], { cwd: root, env: process.env, encoding: "utf8", timeout: 90_000 });
    expect(run.status, `exit status; its output:\n${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).not.toContain("\x1b"); // plain lines, no cursor control, without a TTY
    for (const phase of ["before", "dual", "warm", "switch", "done", "switched"]) expect(run.stdout).toMatch(new RegExp(`^ +\\d+s  ${phase} +\\d+ +[\\d.]+% +\\d+ +`, "m"));
    const migrated = /^migration 3 -> 4: (\d+) database loads from the change on, hit ratio [\d.]+% over \d+ reads, errors 0; (\d+) copies/m.exec(run.stdout);
    const plain = /^plain switch 3 -> 4: (\d+) database loads from the change on, hit ratio [\d.]+% over \d+ reads, errors 0$/m.exec(run.stdout);
    expect(migrated, run.stdout).not.toBeNull();
    expect(plain, run.stdout).not.toBeNull();
    // The plain switch misses every moved key it reads (about half of 10,000 under slots); the migration copied them first.
    expect(Number(plain![1])).toBeGreaterThan(1000);
    expect(Number(migrated![1])).toBeLessThan(Number(plain![1]) / 4);
    expect(Number(migrated![2])).toBeGreaterThan(1000);
    expect(run.stdout).toContain("stopped every process it started.");
  }, 90_000);

  it("examples/quickstart.ts through examples/local.ts, which starts and stops the servers", () => {
    const run = runExample("examples/quickstart.ts", undefined, 20_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toContain("GET user:1 = ada");
  });

  it("an example without servers to use says how to give them", () => {
    const run = runExample("examples/quickstart.ts", { SHARDS: "" }, 20_000);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("set SHARDS=host:port,host:port,... (or run: npx tsx examples/local.ts quickstart)");
  });

  it("examples/high-availability.ts against a sentinel topology examples/local.ts starts", () => {
    const run = runExample("examples/high-availability.ts", undefined, 40_000);
    expect(run.stderr).toBe("");
    expect(run.status, `exit status; its output:\n${run.stdout}`).toBe(0);
    expect(run.stdout).toMatch(/^s0: master 127\.0\.0\.1:\d+, replicas 127\.0\.0\.1:\d+$/m);
    expect(run.stdout).toContain("write acknowledged by a replica");
    expect(run.stdout).toContain("from the master: ada");
    expect(run.stdout).toContain("from a replica: ada");
    expect(run.stdout).toContain("ERR_SHARDIS_WRITE_CONCERN: 1 of 2 replicas, reply OK");
    expect(run.stdout).toMatch(/s0 replica lag \d+ ms, readable true/);
  }, 45_000);

  it("examples/metrics-server.ts serves /metrics and /stats while its workload runs", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/local.ts", "metrics-server"], {
      cwd: root,
      env: { ...process.env, PORT: "0", DURATION_SECONDS: "4" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const killer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const check = setInterval(() => {
          const found = /metrics on (http:\/\/\S+)/.exec(stdout);
          if (found) resolve(found[1]!);
          if (found || child.exitCode !== null) clearInterval(check);
          if (child.exitCode !== null && !found) reject(new Error(`exited early: ${stderr}`));
        }, 50);
      });
      // Scrape as Prometheus would, once the workload has reached both shards.
      const metrics = await eventually(async () => {
        const text = await (await fetch(url)).text();
        expect(text).toMatch(/^shardis_commands_total\{shard="s1",command="get",outcome="ok"\} [1-9]\d*$/m);
        expect(text).toMatch(/^shardis_cache_hits_total\{shard="s0"\} [1-9]\d*$/m);
        return text;
      }, 10_000);
      expect(metrics).toMatch(/^shardis_cache_hits_total\{shard="s0"\} \d+$/m);
      expect(metrics).toMatch(/^shardis_commands_total\{shard="s1",command="get",outcome="ok"\} [1-9]\d*$/m);
      expect(metrics).toMatch(/^shardis_command_duration_seconds_bucket\{shard="s0",role="(master|replica)",command="get",le="0.001"\} \d+$/m);
      expect(metrics).toContain("process_cpu_seconds_total"); // the app's own metrics share the registry
      const stats = (await (await fetch(url.replace("/metrics", "/stats"))).json()) as { shards: Array<{ name: string }> };
      expect(stats.shards.map((s) => s.name)).toEqual(["s0", "s1"]);
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
      child.kill("SIGKILL");
    }
    expect(stderr).toBe("");
    expect(stdout).toMatch(/^s0: \d+ ok, \d+ failed, hit ratio \d+\.\d%, p99 [\d.]+ ms \| s1: /m);
  }, 45_000);
});
