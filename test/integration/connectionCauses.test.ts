/**
 * What a newcomer sees when a node cannot be reached: ready()'s rejection
 * says why (ECONNREFUSED), not only that the shard was not ready in time,
 * and the ioredis-style "error" event names the shard and node. A ready()
 * that cannot succeed any more (the client closed, or retryStrategy stopped
 * reconnecting) fails with that reason at once rather than at its deadline.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ClientClosedError, ConnectionError, ShardedClient } from "../../lib/index.js";
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

  it("ready() racing quit() fails with ClientClosedError, not with 'not ready' at its deadline", async () => {
    const port = await freePort(); // nothing listens there: the connection keeps trying
    const client = new ShardedClient({ shards: [{ name: "s0", master: `127.0.0.1:${port}` }], commandTimeoutMs: 20_000 });
    client.on("error", () => undefined);
    const waiting = client.ready().then(() => undefined, (error: Error) => error);
    await client.quit();
    const error = await waiting;
    expect(error).toBeInstanceOf(ClientClosedError);
    // Asked after the close too: the same, not a wait.
    await expect(client.ready()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it("ready() once retryStrategy stopped reconnecting fails with ioredis's 'Connection is closed.', naming the last cause", async () => {
    const port = await freePort();
    const client = new ShardedClient({ shards: [{ name: "s0", master: `127.0.0.1:${port}` }], commandTimeoutMs: 20_000, redis: { retryStrategy: null } });
    clients.push(client);
    client.on("error", () => undefined);
    const error = (await client.ready().then(() => undefined, (e: Error) => e)) as ConnectionError | undefined;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error!.message).toBe("Connection is closed.");
    expect(String((error as { cause?: Error }).cause?.message)).toMatch(/ECONNREFUSED/);
    // Later calls too, at once: nothing will reconnect it.
    await expect(client.ready()).rejects.toThrow("Connection is closed.");
  });
});
