import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientClosedError, ConfigError, ShardedClient, ShardisError } from "../../lib/index.js";
import { startFleet, sleep, type Fleet } from "../support/fleet.js";
import { freePort } from "../support/processes.js";

/** A TCP listener that only counts connection attempts. */
async function countingListener(): Promise<{ port: number; count(): number; close(): void }> {
  const port = await freePort();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { port, count: () => connections, close: () => server.close() };
}

describe("lifecycle", () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(2);
  });
  afterAll(async () => fleet?.stop());

  it("an invalid config throws ConfigError synchronously and opens no connection", async () => {
    const listener = await countingListener();
    try {
      expect(
        () =>
          new ShardedClient({
            shards: [
              { name: "s0", master: `127.0.0.1:${listener.port}` },
              { name: "s1", master: "127.0.0.1:0" },
            ],
          }),
      ).toThrow(ConfigError);
      await sleep(200);
      expect(listener.count()).toBe(0);
    } finally {
      listener.close();
    }
  });

  it("lazyConnect opens connections on first use only", async () => {
    const client = new ShardedClient({ shards: fleet.shards, lazyConnect: true });
    const before = Number(/connected_clients:(\d+)/.exec(await fleet.raw(0).info("clients"))![1]);
    await sleep(100);
    const idle = Number(/connected_clients:(\d+)/.exec(await fleet.raw(0).info("clients"))![1]);
    expect(idle).toBe(before);
    await client.shard("s0").ping();
    const used = Number(/connected_clients:(\d+)/.exec(await fleet.raw(0).info("clients"))![1]);
    expect(used).toBe(before + 1);
    await client.quit();
  });

  it("quit() lets in-flight commands finish, then refuses new ones", async () => {
    const client = fleet.client();
    await fleet.flushAll();
    const writes = Array.from({ length: 500 }, (_, i) => client.set(`q:${i}`, String(i)));
    const quitting = client.quit();
    await expect(client.get("q:1")).rejects.toBeInstanceOf(ClientClosedError);
    expect(await quitting).toBe("OK");
    expect((await Promise.all(writes)).every((r) => r === "OK")).toBe(true);
    const sizes = await Promise.all([0, 1].map((i) => fleet.raw(i).dbsize()));
    expect(sizes[0]! + sizes[1]!).toBe(500);
    await expect(client.set("q:x", "1")).rejects.toMatchObject({ code: "ERR_SHARDIS_CLIENT_CLOSED" });
    expect(await client.quit()).toBe("OK");
  });

  it("quit() finishes in bounded time when a node is down", async () => {
    const client = new ShardedClient({
      shards: [...fleet.shards, { name: "dead", master: `127.0.0.1:${await freePort()}` }],
      commandTimeoutMs: 300,
    });
    const pending = Array.from({ length: 10 }, (_, i) => client.set(`dead:${i}`, "x").catch((e: unknown) => e));
    const started = performance.now();
    await client.quit();
    expect(performance.now() - started).toBeLessThan(1500);
    const outcomes = await Promise.all(pending);
    // Each settled with a typed error: timed out, failed fast by the breaker, or refused at close.
    expect(outcomes.every((o) => o === "OK" || o instanceof ShardisError)).toBe(true);
  });

  it("a process that calls quit() exits on its own", async () => {
    const script = fileURLToPath(new URL("../fixtures/quit-exits.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, SHARDS: JSON.stringify(fleet.shards) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(-1);
      }, 10_000);
      child.once("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(output).toContain("100 OK");
    expect(code).toBe(0);
  });
});
