/**
 * Drives the cache example: starts app servers (server.ts) against given
 * Redis shards and database, and runs phases of concurrent HTTP requests
 * against them, measuring per phase: requests, database reads (loader
 * calls, summed over the servers), the cache's hit ratio and the p99 a
 * client saw.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

const SERVER = fileURLToPath(new URL("./server.ts", import.meta.url));

export interface AppServer {
  readonly port: number;
  readonly child: ChildProcess;
}

export interface PhaseResult {
  readonly phase: string;
  readonly requests: number;
  readonly failed: number;
  readonly databaseReads: number;
  readonly hitRatio: number | null;
  readonly p99Ms: number;
}

interface ServerStats {
  databaseReads: number;
  cache?: { requests: { hit: number; miss: number; stale: number; negative: number } };
}

/** Starts `count` app servers; resolves once each listens. */
export async function startServers(count: number, env: Record<string, string>): Promise<AppServer[]> {
  return Promise.all(
    Array.from({ length: count }, () => {
      const child = spawn(process.execPath, ["--import", "tsx", SERVER], { env: { ...process.env, ...env, PORT: "0" }, stdio: ["ignore", "pipe", "inherit"] });
      return new Promise<AppServer>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error("an app server did not start within 30 s")), 30_000);
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk;
          const line = out.split("\n").find((l) => l.includes("listening"));
          if (line) {
            clearTimeout(timer);
            resolve({ port: (JSON.parse(line) as { listening: number }).listening, child });
          }
        });
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`an app server exited (code ${code}) before listening`));
        });
      });
    }),
  );
}

export async function stopServers(servers: readonly AppServer[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null) return resolve();
          s.child.once("exit", () => resolve());
          s.child.kill("SIGTERM");
          setTimeout(() => s.child.kill("SIGKILL"), 5000).unref();
        }),
    ),
  );
}

const agent = new Agent({ keepAlive: true, maxSockets: 400 });

/** One HTTP request; resolves status and body. */
export function call(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

async function totals(servers: readonly AppServer[]) {
  const all = await Promise.all(servers.map(async (s) => JSON.parse((await call(s.port, "GET", "/stats")).body) as ServerStats));
  const reads = all.reduce((n, s) => n + s.databaseReads, 0);
  const requests = all.map((s) => s.cache?.requests ?? { hit: 0, miss: 0, stale: 0, negative: 0 });
  const hits = requests.reduce((n, r) => n + r.hit + r.stale + r.negative, 0);
  const lookups = requests.reduce((n, r) => n + r.hit + r.stale + r.negative + r.miss, 0);
  return { reads, hits, lookups };
}

/**
 * `total` requests, `concurrency` at a time, spread over the servers in
 * turn; `path(i)` says what the i-th request asks for; a reply other than
 * `expectStatus` counts as failed.
 */
export async function phase(
  name: string,
  servers: readonly AppServer[],
  total: number,
  concurrency: number,
  path: (i: number) => string,
  expectStatus = 200,
): Promise<PhaseResult> {
  const before = await totals(servers);
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const started = performance.now();
        try {
          const { status } = await call(servers[i % servers.length]!.port, "GET", path(i));
          if (status !== expectStatus) failed++;
        } catch {
          failed++;
        }
        latencies.push(performance.now() - started);
      }
    }),
  );
  const after = await totals(servers);
  latencies.sort((a, b) => a - b);
  const lookups = after.lookups - before.lookups;
  return {
    phase: name,
    requests: total,
    failed,
    databaseReads: after.reads - before.reads,
    hitRatio: lookups ? (after.hits - before.hits) / lookups : null,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0,
  };
}

export function closeAgent(): void {
  agent.destroy();
}
