import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineTracker, type Deadlined } from "../../lib/connection/deadlines.js";

class Item implements Deadlined {
  done = false;
  constructor(
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly id: string,
  ) {}
  isDone() {
    return this.done;
  }
}

describe("DeadlineTracker", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "performance"] }));
  afterEach(() => vi.useRealTimers());

  const item = (timeoutMs: number, id: string) => new Item(performance.now() + timeoutMs, timeoutMs, id);
  // The sweep runs in the check phase after its timer (setImmediate), which fake timers run on the next millisecond.
  const settle = () => vi.advanceTimersByTime(1);

  it("expires entries at their deadline, in order, and skips finished ones", () => {
    const expired: string[] = [];
    const tracker = new DeadlineTracker<Item>((items) => expired.push(...items.map((i) => i.id)));
    const a = item(100, "a");
    tracker.add(a);
    vi.advanceTimersByTime(10);
    const b = item(100, "b");
    tracker.add(b);
    b.done = true;
    vi.advanceTimersByTime(89);
    settle();
    expect(expired).toEqual([]);
    settle();
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(["a"]);
    expect(tracker.size).toBe(0);
  });

  it("expires an entry handed over with an earlier deadline than its lane's last at its own deadline (simulation seed 169)", () => {
    const expired: string[] = [];
    const tracker = new DeadlineTracker<Item>((items) => expired.push(...items.map((i) => i.id)));
    const own = item(300, "own");
    vi.advanceTimersByTime(100);
    // Accepted here later, with the same timeout: its deadline is 100 ms after the handed-over one's.
    tracker.add(item(300, "later"));
    tracker.add(own);
    vi.advanceTimersByTime(199);
    settle();
    expect(expired).toEqual([]);
    settle();
    expect(expired).toEqual(["own"]);
    expect(tracker.pending().map((i) => i.id)).toEqual(["later"]);
    vi.advanceTimersByTime(99);
    settle();
    expect(expired).toEqual(["own", "later"]);
    expect(tracker.size).toBe(0);
  });

  it("expires entries whose timeouts are what was left of a deadline (fractions) each at its own deadline, in order", () => {
    const expired: string[] = [];
    const tracker = new DeadlineTracker<Item>((items) => expired.push(...items.map((i) => i.id)));
    // Issued together, with the time left of their callers' deadlines: out of order, none sharing a value.
    for (const [left, id] of [[250.5, "c"], [100.25, "a"], [175.75, "b"], [400.125, "d"]] as const) tracker.add(item(left, id));
    vi.advanceTimersByTime(101);
    settle();
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(75);
    settle();
    expect(expired).toEqual(["a", "b"]);
    vi.advanceTimersByTime(300);
    settle();
    expect(expired).toEqual(["a", "b", "c", "d"]);
    expect(tracker.size).toBe(0);
  });

  it("handles several timeout values with one timer", () => {
    const expired: string[] = [];
    const tracker = new DeadlineTracker<Item>((items) => expired.push(...items.map((i) => i.id)));
    tracker.add(item(1000, "slow"));
    tracker.add(item(50, "fast"));
    tracker.add(item(500, "mid"));
    vi.advanceTimersByTime(50);
    settle();
    expect(expired).toEqual(["fast"]);
    vi.advanceTimersByTime(449);
    settle();
    expect(expired).toEqual(["fast", "mid"]);
    vi.advanceTimersByTime(499);
    settle();
    expect(expired).toEqual(["fast", "mid", "slow"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("prunes finished heads and lists what is pending", () => {
    const tracker = new DeadlineTracker<Item>(() => undefined);
    const items = [item(100, "a"), item(100, "b"), item(100, "c")];
    items.forEach((i) => tracker.add(i));
    items[0]!.done = true;
    items[2]!.done = true;
    tracker.prune();
    expect(tracker.size).toBe(2);
    expect(tracker.pending().map((i) => i.id)).toEqual(["b"]);
    tracker.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
