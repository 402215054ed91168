import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardedClient } from "../../lib/index.js";
import { startFleet, sleep, type Fleet } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

describe("dedicated connection pools", () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startFleet(1);
  });
  afterAll(async () => fleet?.stop());

  const connected = async () => Number(/connected_clients:(\d+)/.exec(await fleet.raw(0).info("clients"))![1]);

  /** Borrows n connections at once, each held briefly. */
  const borrow = (client: ShardedClient, n: number) =>
    Promise.all(Array.from({ length: n }, () => client.withConnection("s0", async (conn) => {
      await conn.ping();
      await sleep(50);
    })));

  it("opens connections on demand up to max and closes idle ones after idleTimeoutMs", async () => {
    const client = fleet.client({ pool: { max: 4, idleTimeoutMs: 300 } });
    await client.shard("s0").ping();
    const base = await connected();
    await borrow(client, 3);
    expect(await connected()).toBe(base + 3);
    await eventually(async () => expect(await connected()).toBe(base), 10_000);
    await client.quit();
  });

  it("keeps minIdle connections open", async () => {
    const client = fleet.client({ pool: { max: 4, minIdle: 2, idleTimeoutMs: 300 } });
    await client.shard("s0").ping();
    const base = await connected();
    await borrow(client, 4);
    expect(await connected()).toBe(base + 4);
    await eventually(async () => expect(await connected()).toBe(base + 2), 10_000);
    await sleep(700); // idle far longer than idleTimeoutMs: still there
    expect(await connected()).toBe(base + 2);
    await client.quit();
    await eventually(async () => expect(await connected()).toBe(base - 1), 10_000);
  });
});
