import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, ShardedClient, TimeoutError } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { keyOn, keysOn, READY_MS, untilBlocked } from "../support/keys.js";

describe("blocking commands run on pooled connections", () => {
  let fleet: Fleet;
  let client: ShardedClient;

  beforeAll(async () => {
    fleet = await startFleet(2);
    client = fleet.client();
  });
  afterAll(async () => fleet?.stop());

  it("a BLPOP blocking for seconds does not hold back thousands of GETs on the same node", async () => {
    const queue = keyOn(client, "s0", "queue");
    const keys = keysOn(client, "s0", 100, "hot");
    await client.mset(Object.fromEntries(keys.map((k) => [k, "v"])));
    let popped = false;
    const blpop = client.blpop(queue, 2).then((value) => ((popped = true), value));
    await untilBlocked(() => fleet.raw(0).info("clients"));
    const gets = await Promise.all(Array.from({ length: 3000 }, (_, i) => client.get(keys[i % 100]!)));
    // Every GET was answered while the BLPOP still blocked the same node (on its own connection).
    expect(popped).toBe(false);
    expect(gets.every((v) => v === "v")).toBe(true);
    expect(await blpop).toBeNull();
  });

  it("a blocked pop receives what another command pushes", async () => {
    const queue = keyOn(client, "s1", "jobs");
    const popped = client.brpop(queue, 5);
    await untilBlocked(() => fleet.raw(1).info("clients"));
    expect(await client.lpush(queue, "job-1")).toBe(1);
    expect(await popped).toEqual([queue, "job-1"]);
  });

  it("XREAD BLOCK waits on a pooled connection, plain XREAD runs on the shared one", async () => {
    const stream = keyOn(client, "s0", "stream");
    expect(await client.xread("STREAMS", stream, "0")).toBeNull();
    const read = client.xread("BLOCK", 3000, "STREAMS", stream, "$");
    // "$" means entries after the read reaches the server: add only once it waits there.
    await untilBlocked(() => fleet.raw(0).info("clients"));
    await client.xadd(stream, "*", "f", "v");
    const result = (await read) as Array<[string, Array<[string, string[]]>]>;
    expect(result[0]![0]).toBe(stream);
    expect(result[0]![1][0]![1]).toEqual(["f", "v"]);
  });

  it("WAIT through a shard handle uses the pool too", async () => {
    expect(await client.shard("s1").wait(0, 100)).toBe(0);
  });

  it("a blocking command's deadline is its own timeout plus the command timeout", async () => {
    const quick = fleet.client({ commandTimeoutMs: 300 });
    const queue = keyOn(quick, "s1", "stalled");
    await quick.ready(READY_MS); // connected
    fleet.servers[1]!.signal("SIGSTOP");
    try {
      const started = performance.now();
      const error = await quick.blpop(queue, 1).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      // The pool connection cannot even be opened to a stopped server: that, or the deadline.
      expect(error instanceof TimeoutError || error instanceof ConnectionError).toBe(true);
      expect(elapsed).toBeLessThan(2500);
    } finally {
      fleet.servers[1]!.signal("SIGCONT");
    }
  });

  it("quit() cuts a pop that would block forever, after in-flight bounded work finishes", async () => {
    const own = fleet.client();
    const forever = own.blpop(keyOn(own, "s0", "never"), 0).catch((e: unknown) => e);
    const bounded = own.set(keyOn(own, "s1", "bounded"), "1");
    await untilBlocked(() => fleet.raw(0).info("clients"));
    const started = performance.now();
    await own.quit();
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await bounded).toBe("OK");
    expect(await forever).toBeInstanceOf(ConnectionError);
  });
});
