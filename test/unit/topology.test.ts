import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AddressPolicy } from "../../lib/topology/addressPolicy.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { TopologyHolder, type LayoutSource } from "../../lib/topology/TopologyHolder.js";
import { freezeLayout, nextLayout, RELEASED, serving, type Layout, type LayoutDraft, type ShardNodes } from "../../lib/topology/Topology.js";

const at = (port: number) => ({ host: "127.0.0.1", port });

describe("AddressPolicy", () => {
  it("maps with natMap, then checks the allow-list", () => {
    const policy = new AddressPolicy({ "10.0.0.5:6379": "127.0.0.1:7000" }, ["127.0.0.1:*", "10.0.0.9:6379"]);
    expect(policy.admit({ host: "10.0.0.5", port: 6379 })).toEqual({ ok: true, address: at(7000) });
    expect(policy.admit({ host: "10.0.0.9", port: 6379 })).toEqual({ ok: true, address: { host: "10.0.0.9", port: 6379 } });
    expect(policy.admit({ host: "10.0.0.9", port: 6380 })).toEqual({ ok: false, reason: "10.0.0.9:6380 is not in allowedAddresses" });
  });

  it("takes a function, and refuses what it breaks", () => {
    const policy = new AddressPolicy((a) => (a.startsWith("bad") ? "nonsense" : a.replace("10.0.0.5", "127.0.0.1")), undefined);
    expect(policy.admit({ host: "10.0.0.5", port: 1 })).toEqual({ ok: true, address: at(1) });
    expect(policy.admit({ host: "bad", port: 1 })).toMatchObject({ ok: false });
    const throwing = new AddressPolicy(() => {
      throw new Error("boom");
    }, undefined);
    expect(throwing.admit(at(1))).toEqual({ ok: false, reason: "natMap threw for 127.0.0.1:1: boom" });
  });

  it("keeps an announced hostname as the TLS servername, also when natMap sends the client to an IP", () => {
    const policy = new AddressPolicy({ "a.cache.example:6380": "127.0.0.1:16380" }, undefined);
    expect(policy.admit({ host: "a.cache.example", port: 6380 })).toEqual({ ok: true, address: { host: "127.0.0.1", port: 16380, servername: "a.cache.example" } });
    expect(policy.admit({ host: "b.cache.example", port: 6380 })).toEqual({ ok: true, address: { host: "b.cache.example", port: 6380, servername: "b.cache.example" } });
    const ip = policy.admit({ host: "10.0.0.1", port: 6380 });
    expect(ip.ok && ip.address.servername).toBeUndefined();
  });

  it("matches docs/cluster.md's pattern (`*` for one whole label, no port: any port), and nothing a wildcard could be tricked into", () => {
    const policy = new AddressPolicy(undefined, resolveOptions({ cluster: { seeds: ["h:1"] }, allowedAddresses: ["10.0.0.*", "*.cache.example:6379"] }).allowedAddresses);
    const admits = (host: string, port: number) => policy.admit({ host, port }).ok;
    expect([admits("10.0.0.7", 6379), admits("10.0.0.250", 7001), admits("A.Cache.Example", 6379)]).toEqual([true, true, true]);
    expect(admits("10.0.1.7", 6379)).toBe(false);
    expect(admits("10.0.0.7.attacker.example", 6379)).toBe(false);
    expect(admits("a.cache.example", 6380)).toBe(false);
    expect(admits("a.b.cache.example", 6379)).toBe(false);
    expect(admits("cache.example", 6379)).toBe(false);
  });

  it("allows anything without an allow-list", () => {
    expect(new AddressPolicy(undefined, undefined).admit({ host: "203.0.113.7", port: 1 }).ok).toBe(true);
  });
});

describe("TopologyHolder", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"] }));
  afterEach(() => vi.useRealTimers());

  const initial = freezeLayout(1, [{ master: at(1), replicas: [] }], ["s0"], undefined);

  function scripted(answers: Array<ShardNodes | undefined>): LayoutSource & { calls: number } {
    const source = {
      calls: 0,
      async observe(): Promise<LayoutDraft> {
        return { shards: [answers[Math.min(source.calls++, answers.length - 1)]] };
      },
    };
    return source;
  }

  it("builds a new frozen layout with a higher epoch for each change, and none when nothing changed", async () => {
    const source = scripted([{ master: at(1), replicas: [] }, { master: at(2), replicas: [at(3)] }]);
    const changes: Array<[number, number, string]> = [];
    const holder = new TopologyHolder(initial, source, { cooldownMs: 100, intervalMs: 10_000 }, (a, b, why) => changes.push([a.epoch, b.epoch, why]), () => undefined);
    await holder.refresh("first");
    expect(changes).toEqual([]);
    const refreshing = holder.refresh("second");
    await vi.advanceTimersByTimeAsync(100);
    await refreshing;
    expect(changes).toEqual([[1, 2, "second"]]);
    const layout: Layout = holder.current;
    expect(Object.isFrozen(layout) && Object.isFrozen(layout.shards[0])).toBe(true);
    expect(layout.shards[0]).toEqual({ master: at(2), replicas: [at(3)] });
    expect(initial.shards[0]!.master).toEqual(at(1)); // the old snapshot is untouched
  });

  it("coalesces: one refresh in flight, one more for everything asked meanwhile, spaced by the cooldown", async () => {
    const source = scripted([{ master: at(1), replicas: [] }]);
    const holder = new TopologyHolder(initial, source, { cooldownMs: 100, intervalMs: 10_000 }, () => undefined, () => undefined);
    const all = Promise.all([holder.refresh("a"), holder.refresh("b"), holder.refresh("c"), holder.refresh("d")]);
    await vi.advanceTimersByTimeAsync(0);
    await all;
    expect(source.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(source.calls).toBe(1); // the follow-up waits for the cooldown
    await vi.advanceTimersByTimeAsync(1);
    expect(source.calls).toBe(2);
  });

  it("keeps a shard's layout when the source has nothing new for it, and swaps a master at once on demand", async () => {
    const source = scripted([undefined]);
    const epochs: number[] = [];
    const holder = new TopologyHolder(initial, source, { cooldownMs: 0, intervalMs: 10_000 }, (_, next) => epochs.push(next.epoch), () => undefined);
    await holder.refresh("nothing new");
    expect(holder.current).toBe(initial);
    holder.setMaster(0, at(9), "+switch-master");
    expect(holder.current.shards[0]!.master).toEqual(at(9));
    expect(epochs).toEqual([2]);
  });

  it("stops for good: a refresh in flight applies and reports nothing, nothing follows it, and waits return at once", async () => {
    let release: (draft: LayoutDraft) => void = () => undefined;
    const source: LayoutSource & { calls: number } = {
      calls: 0,
      observe() {
        source.calls++;
        return new Promise<LayoutDraft>((resolve) => (release = resolve));
      },
    };
    const changes: number[] = [];
    const errors: Error[] = [];
    const holder = new TopologyHolder(initial, source, { cooldownMs: 0, intervalMs: 10_000 }, (_, next) => changes.push(next.epoch), (e) => errors.push(e));
    const inFlight = holder.refresh("a");
    void holder.refresh("b"); // would run once more after the first
    await vi.advanceTimersByTimeAsync(0);
    holder.stop();
    release({ shards: [{ master: at(2), replicas: [] }] });
    await inFlight;
    await vi.advanceTimersByTimeAsync(1000);
    void holder.refresh("after stop");
    await vi.advanceTimersByTimeAsync(0);
    expect(source.calls).toBe(1);
    expect(changes).toEqual([]);
    expect(errors).toEqual([]);
    expect(holder.current).toBe(initial);
    let woke = false;
    void holder.whenChanged(60_000).then(() => (woke = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(woke).toBe(true);
  });

  it("wakes callers waiting for a shard's master", async () => {
    const empty = freezeLayout(1, [{ master: undefined, replicas: [] }], ["s0"], undefined);
    const holder = new TopologyHolder(empty, undefined, { cooldownMs: 0, intervalMs: 10_000 }, () => undefined, () => undefined);
    let placed = false;
    void holder.whenPlaced(0, 5000).then(() => (placed = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(placed).toBe(false);
    holder.setMaster(0, at(4), "found");
    await vi.advanceTimersByTimeAsync(0);
    expect(placed).toBe(true);
  });
});

describe("a pending shard (reconfigure() waiting for it)", () => {
  it("keeps the flag through freezeLayout, does not serve, and serving it is a change of the layout (a new epoch)", () => {
    const pending = freezeLayout(1, [{ master: at(1), replicas: [] }, { master: at(2), replicas: [], pending: true }], ["s0", "s1"], undefined);
    expect(pending.shards[1]!.pending).toBe(true);
    expect(pending.shards.map((s) => serving(s))).toEqual([true, false]);
    const served = nextLayout(pending, { shards: [undefined, { master: at(2), replicas: [] }] });
    expect(served?.epoch).toBe(2);
    expect(served!.shards.map((s) => serving(s))).toEqual([true, true]);
    expect(serving(RELEASED)).toBe(false);
  });
});
