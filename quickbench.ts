import { ShardedClient } from "./lib/index.js";
import { Redis } from "ioredis";
import calc from "cluster-key-slot";
const ports = [7101, 7102, 7103];
const N = 100000, VAL = "x".repeat(100), INFLIGHT = 256, DUR = 4000;
const keys = Array.from({ length: N }, (_, i) => "key:" + i);
function owner(k: string) { const s = calc(k); return s <= 5460 ? 0 : s <= 10922 ? 1 : 2; }
async function run(name: string, get: (k: string) => Promise<unknown>, set: (k: string, v: string) => Promise<unknown>) {
  let ops = 0, stop = false; const t0 = performance.now(); const c0 = process.cpuUsage(); const lat: number[] = [];
  async function worker() { let i = Math.floor(Math.random() * N); while (!stop) { i = (i * 7919 + 13) % N; const s = performance.now(); if (i & 1) await get(keys[i]!); else await set(keys[i]!, VAL); ops++; if ((ops & 15) === 0) lat.push(performance.now() - s); } }
  const ws = Array.from({ length: INFLIGHT }, worker);
  await new Promise((r) => setTimeout(r, DUR)); stop = true; await Promise.all(ws);
  const el = (performance.now() - t0) / 1000; const cpu = process.cpuUsage(c0); lat.sort((a, b) => a - b);
  console.log(name.padEnd(14), Math.round(ops / el), "ops/s p50", lat[lat.length >> 1]!.toFixed(2), "p99", lat[Math.floor(lat.length * .99)]!.toFixed(2), "cpu us/op", ((cpu.user + cpu.system) / ops).toFixed(2));
}
const ap = ports.map((p) => new Redis({ port: p, enableAutoPipelining: true }));
const shards = ports.map((p, i) => ({ name: "s" + i, master: "127.0.0.1:" + p }));
const sc = new ShardedClient({ shards });
const sk = new ShardedClient({ shards, sharding: { strategy: "ketama" } });
await Promise.all(ap.map((c) => c.ping()));
for (let r = 0; r < 2; r++) {
  await run("manual", (k) => ap[owner(k)]!.get(k), (k, v) => ap[owner(k)]!.set(k, v));
  await run("shardis", (k) => sc.get(k), (k, v) => sc.set(k, v));
  await run("ketama", (k) => sk.get(k), (k, v) => sk.set(k, v));
}
await Promise.all([...ap.map((c) => c.quit()), sc.quit(), sk.quit()]);
