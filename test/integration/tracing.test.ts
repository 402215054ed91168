/**
 * The shardis:command tracing channel, subscribed as an OpenTelemetry
 * integration would, against real redis-server processes.
 */
import diagnostics_channel from "node:diagnostics_channel";
import { afterAll, beforeAll, afterEach, describe, expect, it } from "vitest";
import { COMMAND_CHANNEL, type CommandTrace } from "../../lib/index.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";

type Event = { kind: "start" | "end" | "asyncStart" | "asyncEnd" | "error"; trace: CommandTrace };

describe("tracing channel", () => {
  let fleet: Fleet;
  const unhandled = watchUnhandled();
  const channel = diagnostics_channel.tracingChannel<unknown, CommandTrace>(COMMAND_CHANNEL);
  let events: Event[] = [];
  const handlers = {
    start: (trace: CommandTrace) => events.push({ kind: "start", trace: { ...trace } }),
    end: (trace: CommandTrace) => events.push({ kind: "end", trace: { ...trace } }),
    asyncStart: (trace: CommandTrace) => events.push({ kind: "asyncStart", trace: { ...trace } }),
    asyncEnd: (trace: CommandTrace) => events.push({ kind: "asyncEnd", trace: { ...trace } }),
    error: (trace: CommandTrace) => events.push({ kind: "error", trace: { ...trace } }),
  };

  beforeAll(async () => {
    fleet = await startFleet(2);
  });
  afterEach(() => {
    channel.unsubscribe(handlers);
    events = [];
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("publishes start, end, asyncStart, asyncEnd per command with shard, node, command, batch size and duration; no keys or values", async () => {
    const c = fleet.client();
    await c.set("trace:warm", "1"); // connect first: the traced commands below are not queued behind a handshake
    channel.subscribe(handlers);
    await Promise.all([c.set("trace:a", "secret-value"), c.get("trace:a"), c.get("trace:b")]);
    const done = events.filter((e) => e.kind === "asyncEnd").map((e) => e.trace);
    expect(done.map((t) => t.command).sort()).toEqual(["get", "get", "set"]);
    for (const trace of done) {
      expect(fleet.shards.find((s) => s.name === trace.shard)!.master).toBe(trace.node);
      expect(trace.role).toBe("master");
      expect(trace.batchSize).toBeGreaterThanOrEqual(1);
      expect(trace.durationMs).toBeGreaterThan(0);
      expect(trace.args).toBeUndefined();
      expect(trace.client).toBe(c);
      expect(JSON.stringify({ ...trace, client: undefined })).not.toMatch(/trace:a|trace:b|secret-value/);
    }
    // The set and the get of trace:a share a shard and a turn: one write of two.
    const a = c.shardOf("trace:a");
    expect(done.filter((t) => t.shard === a).every((t) => t.batchSize >= 2)).toBe(true);
    // Per command, events come in tracePromise order.
    const kinds = events.map((e) => e.kind);
    expect(kinds.filter((k) => k === "start")).toHaveLength(3);
    expect(kinds.indexOf("end")).toBeLessThan(kinds.indexOf("asyncStart"));
  });

  it("publishes error for a failed command, and arguments only when includeArgs is on", async () => {
    const c = fleet.client({ tracing: { includeArgs: true } });
    await c.set("trace:list", "x");
    channel.subscribe(handlers);
    await expect(c.lpush("trace:list", "y")).rejects.toThrow(/WRONGTYPE/);
    const failed = events.find((e) => e.kind === "error")!.trace;
    expect(failed.command).toBe("lpush");
    expect(String(failed.error)).toMatch(/WRONGTYPE/);
    expect(failed.args).toEqual(["trace:list", "y"]);
    expect(events.map((e) => e.kind)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
  });
});
