/**
 * What a newcomer sees when a node cannot be reached: ready()'s rejection
 * says why (ECONNREFUSED), not only that the shard was not ready in time,
 * and the ioredis-style "error" event names the shard and node.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ConnectionError, ShardedClient } from "../../lib/index.js";
import { freePort } from "../support/processes.js";

describe("connection failures name their cause and their node", () => {
  const clients: ShardedClient[] = [];
  afterAll(async () => Promise.all(clients.map((c) => c.quit().catch(() => undefined))));

  it("ready() rejects naming the shard and ECONNREFUSED; 'error' carries shard and node", async () => {
    const port = await freePort(); // nothing listens there
    const client = new ShardedClient({ shards: [{ name: "lonely", master: `127.0.0.1:${port}` }], commandTimeoutMs: 300 });
    clients.push(client);
    const errors: Array<Error & { shard?: string; node?: string; code?: string }> = [];
    client.on("error", (error) => errors.push(error));
    const refused = await client.ready().then(() => undefined, (error: Error) => error);
    expect(refused).toBeInstanceOf(ConnectionError);
    expect(refused!.message).toMatch(/lonely/);
    expect(refused!.message).toMatch(/not ready within 300 ms: .*ECONNREFUSED/);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: "ECONNREFUSED", shard: "lonely", node: `127.0.0.1:${port}` });
  });
});
