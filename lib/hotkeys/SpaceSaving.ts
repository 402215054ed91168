/**
 * Space-Saving (Metwally, Agrawal, El Abbadi, ICDT 2005): the most frequent
 * items of a stream in fixed memory. It keeps `capacity` counters; an item
 * without one takes the smallest counter over, inheriting its count (kept
 * as the new item's `error`, the most its count can be overstated by). Any
 * item seen more than total/capacity times is guaranteed to hold a counter,
 * so with capacity a few times the k wanted, the top k are found on skewed
 * (Zipf) traffic.
 *
 * The counters form a binary min-heap (the item to evict is the root), so
 * an update is O(log capacity) and nothing allocates once the sketch is
 * full except the evicted item's replacement.
 */

export interface Counted {
  readonly item: string;
  /** Observations counted for the item (an upper bound: count - error is a lower one). */
  readonly count: number;
  /** How much of count may belong to the items it replaced. */
  readonly error: number;
}

interface Counter {
  item: string;
  count: number;
  error: number;
  /** The counter's position in the heap. */
  at: number;
}

export class SpaceSaving {
  private readonly heap: Counter[] = [];
  private readonly byItem = new Map<string, Counter>();
  /** Observations since the last reset. */
  total = 0;

  constructor(readonly capacity: number) {}

  observe(item: string, weight = 1): void {
    this.total += weight;
    const counter = this.byItem.get(item);
    if (counter) {
      counter.count += weight;
      this.down(counter.at);
      return;
    }
    if (this.heap.length < this.capacity) {
      const fresh: Counter = { item, count: weight, error: 0, at: this.heap.length };
      this.heap.push(fresh);
      this.byItem.set(item, fresh);
      this.up(fresh.at);
      return;
    }
    // Full: the least counted item gives its counter to this one.
    const least = this.heap[0]!;
    this.byItem.delete(least.item);
    least.item = item;
    least.error = least.count;
    least.count += weight;
    this.byItem.set(item, least);
    this.down(0);
  }

  /** The item's count, 0 when it holds no counter. */
  countOf(item: string): number {
    return this.byItem.get(item)?.count ?? 0;
  }

  /** The k items counted most, most first. */
  top(k: number): Counted[] {
    return [...this.heap]
      .sort((a, b) => b.count - a.count)
      .slice(0, k)
      .map(({ item, count, error }) => ({ item, count, error }));
  }

  get size(): number {
    return this.heap.length;
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.count <= heap[i]!.count) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const smaller = right < heap.length && heap[right]!.count < heap[left]!.count ? right : left;
      if (heap[i]!.count <= heap[smaller]!.count) return;
      this.swap(i, smaller);
      i = smaller;
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap;
    const first = heap[a]!;
    const second = heap[b]!;
    heap[a] = second;
    heap[b] = first;
    second.at = a;
    first.at = b;
  }
}
