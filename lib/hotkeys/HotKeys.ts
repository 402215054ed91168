/**
 * The hot-key detector: which keys each shard receives most, and how the
 * load spreads over shards, over tumbling windows of windowMs.
 *
 * Every routed command counts toward its shard's total (one array
 * increment). About one command in `sampleEvery` also feeds the shard's
 * Space-Saving sketch, weighted by sampleEvery, so the per-command cost
 * stays a counter and a countdown while heavy hitters, which are sampled
 * many times per window, are found with their counts estimated. The gaps
 * between samples are random (uniform, mean sampleEvery), so a periodic
 * access pattern cannot hide from them.
 *
 * Memory is fixed: per shard, two sketches (the window being filled and
 * the last complete one) of 8 x topK counters.
 */
import { SpaceSaving } from "./SpaceSaving.js";

/** The detector's settings (the resolved `hotKeys` option). */
export interface DetectorOptions {
  readonly topK: number;
  readonly windowMs: number;
  /** One command in this many (on average) feeds the sketches; 1 samples every command. */
  readonly sampleEvery: number;
}

export interface HotKey {
  readonly key: string;
  readonly shard: string;
  /** Commands on the key in the window (estimated from the samples). */
  readonly count: number;
  /** count per second of the window. */
  readonly rate: number;
}

export interface ShardLoad {
  readonly shard: string;
  /** Commands routed to the shard in the window. */
  readonly commands: number;
  /** The shard's part of every shard's commands (0 to 1): a hot shard stands out. */
  readonly loadShare: number;
  /** The part of the shard's commands that went to its top-k keys (0 to 1): a hot key stands out. */
  readonly hotKeyShare: number;
}

/** Counters per key per sketch: enough slack for Space-Saving to rank the top k on skewed traffic. */
const COUNTERS_PER_KEY = 8;

/** A shard's top-k of a window as a set, and the sketch total it was taken at. */
interface TopSet {
  readonly keys: ReadonlySet<string>;
  readonly total: number;
}

interface Window {
  readonly sketches: SpaceSaving[];
  readonly totals: number[];
  /** Per shard, for isHot: taken again once the sketch's total grew by an eighth. */
  readonly tops: Array<TopSet | undefined>;
  readonly startedAt: number;
  endedAt: number | undefined;
}

export class HotKeyDetector {
  private current: Window;
  private last: Window | undefined;
  private countdown = 1;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    readonly options: DetectorOptions,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = () => performance.now(),
    /** Rotates the windows itself every windowMs (tests rotate by hand). */
    timer = true,
  ) {
    this.current = this.open();
    if (timer) this.timer = setInterval(() => this.rotate(), options.windowMs).unref();
  }

  /**
   * A command for `key` was routed to shard `shard`. `load` false: a read
   * the near cache answered (demand for the key, which the shard did not
   * receive): sampled into the sketch, not counted in the shard's load.
   */
  observe(shard: number, key: string | Buffer | number, load = true): void {
    const window = this.current;
    if (load) window.totals[shard] = (window.totals[shard] ?? 0) + 1;
    if (--this.countdown > 0) return;
    const every = this.options.sampleEvery;
    this.countdown = every === 1 ? 1 : 1 + Math.floor(this.random() * (2 * every - 1));
    const sketch = (window.sketches[shard] ??= new SpaceSaving(this.options.topK * COUNTERS_PER_KEY));
    sketch.observe(typeof key === "string" ? key : String(key), every);
  }

  /**
   * Whether `key` is among shard `shard`'s top-k keys: of the window being
   * filled, or of the last complete one (so a key stays hot across a
   * window's turn). The near cache's `hotOnly` admits only such keys.
   */
  isHot(shard: number, key: string): boolean {
    return this.inTop(this.current, shard, key) || (this.last !== undefined && this.inTop(this.last, shard, key));
  }

  /** Closes the window being filled; it becomes the one reported. */
  rotate(): void {
    this.current.endedAt = this.now();
    this.last = this.current;
    this.current = this.open();
  }

  /** The top-k keys of the last complete window (the one being filled, before the first ends), across shards, most first. */
  hotKeys(shardName: (index: number) => string): HotKey[] {
    const window = this.reported();
    const seconds = this.seconds(window);
    return window.sketches
      .flatMap((sketch, shard) => (sketch ? sketch.top(this.options.topK).map((c) => ({ key: c.item, shard: shardName(shard), count: c.count })) : []))
      .sort((a, b) => b.count - a.count)
      .slice(0, this.options.topK)
      .map((hot) => ({ ...hot, rate: hot.count / seconds }));
  }

  /** Per shard that received commands in the reported window: its commands, load share and hot-key share. */
  loads(shardName: (index: number) => string): ShardLoad[] {
    const window = this.reported();
    const all = window.totals.reduce((sum, n) => sum + (n ?? 0), 0);
    const out: ShardLoad[] = [];
    window.totals.forEach((commands, shard) => {
      if (!commands) return;
      const top = window.sketches[shard]?.top(this.options.topK) ?? [];
      // Estimated from samples, so bounded: the top keys cannot take more than all of the shard's commands.
      const hot = Math.min(commands, top.reduce((sum, c) => sum + c.count, 0));
      out.push({ shard: shardName(shard), commands, loadShare: commands / all, hotKeyShare: hot / commands });
    });
    return out;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private inTop(window: Window, shard: number, key: string): boolean {
    const sketch = window.sketches[shard];
    if (sketch === undefined || sketch.countOf(key) === 0) return false;
    let top = window.tops[shard];
    // Ranking the counters costs a sort: done again only once the window has grown by an eighth since.
    if (top === undefined || sketch.total >= top.total * 1.125 + this.options.sampleEvery) {
      // By guaranteed count (count - error): a key that just took a counter over inherits its count, and is not hot for it.
      const ranked = sketch.top(sketch.size).sort((a, b) => b.count - b.error - (a.count - a.error));
      top = window.tops[shard] = { keys: new Set(ranked.slice(0, this.options.topK).map((c) => c.item)), total: sketch.total };
    }
    return top.keys.has(key);
  }

  private reported(): Window {
    return this.last ?? this.current;
  }

  /** The window's length so far, in seconds (at least a millisecond: rates stay finite). */
  private seconds(window: Window): number {
    return Math.max(1, (window.endedAt ?? this.now()) - window.startedAt) / 1000;
  }

  private open(): Window {
    return { sketches: [], totals: [], tops: [], startedAt: this.now(), endedAt: undefined };
  }
}
