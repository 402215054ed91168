import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { Socket } from "node:net";
import { LARGE } from "../../lib/connection/batchWrites.js";

/**
 * What the sockets to `port` are handed to write while `run` runs (every
 * write() call): one per turn's batch, not one per command (a
 * buffered write per command is what V8 pretenured after a burst,
 * batchWrites.ts).
 */
async function writesTo<T>(port: number, run: () => Promise<T>): Promise<{ result: T; writes: Array<string | Buffer> }> {
  const writes: Array<string | Buffer> = [];
  // Shadowed on Socket.prototype (sockets inherit it from Duplex.prototype), then unshadowed.
  const inherited = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port) writes.push(chunk as string | Buffer);
    return (inherited as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof inherited;
  try {
    return { result: await run(), writes };
  } finally {
    delete (Socket.prototype as { write?: unknown }).write;
  }
}

/** The server's count of socket reads; a batch that arrived in one write costs one read. */
async function readsOf(fleet: Fleet, shard: number): Promise<number> {
  const info = await fleet.raw(shard).info("stats");
  return Number(/total_reads_processed:(\d+)/.exec(info)![1]);
}

describe("auto-pipelining", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const keys: string[][] = [[], [], []];

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    for (let i = 0; keys.some((k) => k.length < 100); i++) {
      const shard = Number(client.shardOf(`k${i}`).slice(1));
      if (keys[shard]!.length < 100) keys[shard]!.push(`k${i}`);
    }
    await client.mset(Object.fromEntries(keys.flat().map((k) => [k, "v"])));
  });
  afterAll(async () => fleet?.stop());

  it("sends the commands of one event-loop turn to a node in one write", async () => {
    const before = await Promise.all([0, 1, 2].map((i) => readsOf(fleet, i)));
    // Issued synchronously and from promise callbacks within the same turn.
    const first = keys[0]!.slice(0, 50).map((k) => client.get(k));
    const more = Promise.resolve().then(() => keys.flatMap((ks) => ks.slice(50)).map((k) => client.get(k)));
    const values = await Promise.all([...first, ...(await more)]);
    expect(values.every((v) => v === "v")).toBe(true);
    const after = await Promise.all([0, 1, 2].map((i) => readsOf(fleet, i)));
    // One read for the batch, one for the INFO call that measured it.
    expect(after.map((n, i) => n - before[i]!)).toEqual([2, 2, 2]);
  });

  it("hands the socket one write per batch, not one per command", async () => {
    const port = fleet.servers[0]!.port;
    const { result, writes } = await writesTo(port, () => Promise.all(keys[0]!.slice(0, 50).map((k) => client.get(k))));
    expect(result.every((v) => v === "v")).toBe(true);
    expect(writes).toHaveLength(1);
    expect(String(writes[0]).match(/\*2\r\n\$3\r\nget\r\n/g)).toHaveLength(50);
  });

  it("writes a batch holding a command of Buffer arguments as one Buffer, in order", async () => {
    const port = fleet.servers[0]!.port;
    const [a, b, c] = keys[0]!.slice(60, 63) as [string, string, string];
    const { result, writes } = await writesTo(port, () =>
      Promise.all([client.set(a, "1"), client.get(a), client.set(b, Buffer.from([0xff, 0x00])), client.getBuffer(b), client.set(c, "3"), client.get(c)]),
    );
    expect(result).toEqual(["OK", "1", "OK", Buffer.from([0xff, 0x00]), "OK", "3"]);
    expect(writes).toHaveLength(1);
    expect(Buffer.isBuffer(writes[0])).toBe(true);
    const names = [...(writes[0] as Buffer).toString("latin1").matchAll(/\r\n(set|get)\r\n/g)].map((m) => m[1]);
    expect(names).toEqual(["set", "get", "set", "get", "set", "get"]);
  });

  it("writes a large Buffer as it is, between the batch's commands before and after it", async () => {
    const port = fleet.servers[0]!.port;
    const [a, b, c] = keys[0]!.slice(63, 66) as [string, string, string];
    const large = Buffer.alloc(LARGE, 7);
    const { result, writes } = await writesTo(port, () => Promise.all([client.set(a, "1"), client.set(b, large), client.strlen(b), client.get(c)]));
    expect(result).toEqual(["OK", "OK", LARGE, "v"]);
    expect(writes.map((w) => (Buffer.isBuffer(w) ? "buffer" : "text"))).toEqual(["text", "buffer", "text"]);
  });

  it("writes a long batch in parts of about a MiB (a string has a size limit)", async () => {
    const port = fleet.servers[0]!.port;
    const key = keys[0]![66]!;
    const value = "x".repeat(LARGE - 100);
    const { result, writes } = await writesTo(port, () => Promise.all(Array.from({ length: 20 }, () => client.set(key, value))));
    expect(result.every((r) => r === "OK")).toBe(true);
    expect(writes).toHaveLength(2);
  });

  it("sends commands of separate turns in separate writes", async () => {
    const before = await readsOf(fleet, 1);
    for (const key of keys[1]!.slice(0, 20)) expect(await client.get(key)).toBe("v");
    const after = await readsOf(fleet, 1);
    expect(after - before).toBeGreaterThanOrEqual(21);
  });

  it("keeps replies in order within a batch of mixed commands", async () => {
    const key = keys[2]![0]!;
    const results = await Promise.all([
      client.set(key, "1"),
      client.incr(key),
      client.get(key),
      client.append(key, "x"),
      client.get(key),
      client.del(key),
      client.get(key),
    ]);
    expect(results).toEqual(["OK", 2, "2", 2, "2x", 1, null]);
  });
});
