/**
 * The near cache: replies of read commands kept in the application's
 * memory, and dropped when Redis says their key changed (client tracking).
 *
 * Entries live in one invalidation domain per shard: a shard whose
 * tracking connection drops, fails over or reports a flush loses its own
 * entries only. A domain serves and fills only while tracking is confirmed
 * on its connection (`track`); each confirmation starts a new generation,
 * and an entry counts only while its generation is its domain's. So a
 * flush is O(1): the domain moves to a new generation, and the old
 * generation's entries are never served again and go first on eviction.
 *
 * The race every near cache has: a read is sent, the key changes, the
 * change is announced (or written by this process), then the old reply
 * arrives. So a read first leaves a placeholder (`begin`); an invalidation
 * of the key, a local write, a flush or a new generation removes it (or
 * outdates it); the reply is kept (`fill`) only if its placeholder is
 * still current.
 *
 * Bounded by maxEntries and maxBytes, evicting by SIEVE (Zhang et al.,
 * NSDI 2024): a hit only sets its entry's `visited` bit, so a hit touches
 * no other entry (LRU's relinking touched two more, each a cache miss on
 * a large table), and on skewed loads SIEVE keeps more hits than LRU. And
 * by ttlMs: an entry is never served older than that, whatever Redis says.
 */

export interface NearCacheLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
}

export type FlushReason = "connection" | "failover" | "topology" | "server" | "tracking" | "write";

export interface DomainStats {
  hits: number;
  misses: number;
  /** Of the misses: reads that shared a read in flight. */
  joined: number;
  invalidations: number;
  readonly flushes: Record<FlushReason, number>;
}

/** The replies of one command in one encoding: entries of a key are told apart by it. */
export interface Table {
  readonly name: string;
}

/**
 * A class, not an object literal: V8 pretenures a literal's allocation site
 * once a scavenge finds nearly all of its recent objects alive, and a cache
 * warming up (entries that live) tips it in some processes and not in
 * others: entries born in the old generation in one process, in the young
 * one in the next (docs/benchmarks.md, "The garbage-collector mode"). `new`
 * of a class carries no allocation site: every process allocates alike.
 */
export class Entry {
  value: unknown = undefined;
  bytes = 0;
  expiresAt = 0;
  /** A read in flight: no value yet. */
  pending = true;
  /** In the index (not removed): what `fill` and `abandon` check instead of looking the key up again. */
  held = true;
  /** SIEVE: hit since the eviction hand last passed. */
  visited = false;
  /** Insertion order: toward the newest (the oldest side is `older`). */
  newer: Entry | undefined = undefined;

  constructor(
    readonly domain: Domain,
    /** The domain's generation when the read was sent: the entry counts only while it is the domain's. */
    readonly generation: number,
    readonly table: Table,
    readonly key: string,
    /** The key itself for commands of one argument, all arguments otherwise. */
    readonly id: string,
    /** That read's reply, for reads of the same entry meanwhile (one read per entry in flight). */
    public inflight: Promise<unknown> | undefined,
    /** Insertion order: toward the oldest. */
    public older: Entry | undefined,
  ) {}
}

interface Domain {
  /** The shard's index. */
  readonly shard: number;
  /** Tracking confirmed on the shard's connection; 0 while it is not. */
  generation: number;
  /** Filled entries of the current generation, and their bytes. */
  entries: number;
  bytes: number;
  readonly stats: DomainStats;
}

/** What a read remembers between `begin` and `fill`: its placeholder entry (nothing else is allocated per miss). */
export type Ticket = Entry;

export const FLUSH_REASONS: readonly FlushReason[] = ["connection", "failover", "topology", "server", "tracking", "write"];

export class NearCache {
  /**
   * Entries by Redis key, across commands and domains: the entry itself
   * while a key has one (the usual case: no collection per key), an array
   * once it has more (GET and STRLEN of one key, HGET of several fields).
   * A lookup is one Map read; an invalidation drops everything of its key.
   */
  private readonly byKey = new Map<string, Entry | Entry[]>();
  private readonly tables = new Map<string, Table>();
  private readonly domains: Domain[] = [];
  private count = 0;
  private bytes = 0;
  private generations = 0;
  /** Insertion order (new entries at `newest`) and the SIEVE hand walking from oldest to newest. */
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private hand: Entry | undefined;

  constructor(
    readonly limits: NearCacheLimits,
    private readonly now: () => number = Date.now,
    /** Told of every hit (the hot-key detector's demand, for `hotOnly`). */
    private readonly onHit?: (shard: number, key: string) => void,
  ) {}

  /** The table of a command's replies in one encoding (get it once, then pass it to every call). */
  table(name: string): Table {
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = Object.freeze({ name })));
    return table;
  }

  /**
   * The cached reply of entry `id` of `key`, or undefined. Needs no shard:
   * an entry lives in its key's shard's domain, and a domain is flushed
   * whenever keys could change shard (cluster slots moving).
   */
  lookup(table: Table, key: string, id: string): unknown {
    const entry = this.find(table, key, id);
    if (entry === undefined || entry.pending || entry.generation !== entry.domain.generation) return undefined;
    return this.serve(entry, key);
  }

  /** The reply of a read of entry `id` already in flight (sent after its key last changed), to share. */
  inflight(table: Table, key: string, id: string): Promise<unknown> | undefined {
    const entry = this.find(table, key, id);
    if (!entry?.pending || entry.generation !== entry.domain.generation) return undefined;
    return this.join(entry);
  }

  /**
   * lookup and inflight in one lookup (a read's first step): the cached
   * reply, else the Promise of a read of the entry in flight (no reply is a
   * Promise), else undefined.
   */
  probe(table: Table, key: string, id: string): unknown {
    const entry = this.find(table, key, id);
    if (entry === undefined || entry.generation !== entry.domain.generation) return undefined;
    return entry.pending ? this.join(entry) : this.serve(entry, key);
  }

  private serve(entry: Entry, key: string): unknown {
    if (entry.expiresAt <= this.now()) {
      this.remove(entry);
      return undefined;
    }
    entry.visited = true;
    entry.domain.stats.hits++;
    if (this.onHit !== undefined) this.onHit(entry.domain.shard, key);
    return entry.value;
  }

  private join(entry: Entry): Promise<unknown> | undefined {
    if (entry.inflight === undefined) return undefined;
    entry.domain.stats.misses++;
    entry.domain.stats.joined++;
    return entry.inflight;
  }

  /** Whether a read of entry `id` is in flight (its placeholder is current). */
  pending(table: Table, key: string, id: string): boolean {
    const entry = this.find(table, key, id);
    return entry !== undefined && entry.pending && entry.generation === entry.domain.generation;
  }

  /**
   * A read of entry `id` (key `key`, on shard `shard`) is being sent
   * (`reply`): counts a miss and leaves the entry's placeholder, which later
   * reads share. undefined when the domain does not cache now.
   */
  begin(shard: number, table: Table, key: string, id: string, reply?: Promise<unknown>): Ticket | undefined {
    const domain = this.domain(shard);
    domain.stats.misses++;
    if (domain.generation === 0) return undefined;
    let others = this.byKey.get(key);
    const existing = others === undefined ? undefined : match(others, table, id);
    if (existing) {
      this.remove(existing);
      others = this.byKey.get(key);
    }
    const entry = new Entry(domain, domain.generation, table, key, id, reply, this.newest);
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.count++;
    if (others === undefined) this.byKey.set(key, entry);
    else if (Array.isArray(others)) others.push(entry);
    else this.byKey.set(key, [others, entry]);
    this.evict(entry);
    return entry;
  }

  /** The read's reply: kept if nothing touched its key (or its domain) since `begin`. */
  fill(entry: Ticket, value: unknown, bytes: number): void {
    if (!entry.pending || !entry.held || entry.generation !== entry.domain.generation) return;
    entry.pending = false;
    entry.inflight = undefined;
    entry.value = value;
    entry.bytes = bytes;
    entry.expiresAt = this.now() + this.limits.ttlMs;
    this.bytes += bytes;
    entry.domain.entries++;
    entry.domain.bytes += bytes;
    this.evict(entry);
  }

  /** The read failed: its placeholder goes. */
  abandon(entry: Ticket): void {
    if (entry.pending && entry.held) this.remove(entry);
  }

  /**
   * These keys changed (Redis said so, or this process wrote them): their
   * entries go, from every domain, not only the reporting shard's. Over a
   * Redis Cluster a read redirected by MOVED is answered (and tracked) by
   * another shard's node than the one its entry was filed under, until the
   * new slot map flushes everything.
   */
  invalidate(keys: readonly string[]): void {
    for (const key of keys) {
      const held = this.byKey.get(key);
      if (held === undefined) continue;
      if (Array.isArray(held)) {
        held[0]!.domain.stats.invalidations++;
        for (const entry of [...held]) this.remove(entry);
      } else {
        held.domain.stats.invalidations++;
        this.remove(held);
      }
    }
  }

  /**
   * Drops the shard's entries (its generation ends: they are never served
   * again, and go first when room is needed); unless `keepTracking`,
   * tracking must be confirmed again (`track`) before it caches.
   */
  flush(shard: number, reason: FlushReason, keepTracking = false): void {
    const domain = this.domain(shard);
    domain.stats.flushes[reason]++;
    this.renew(domain, keepTracking ? ++this.generations : 0);
  }

  /** Whether the shard caches now (its tracking is confirmed). */
  tracking(shard: number): boolean {
    return this.domain(shard).generation > 0;
  }

  /** Tracking is on for the shard's connection: it may cache, from a new generation. */
  track(shard: number): void {
    this.renew(this.domain(shard), ++this.generations);
  }

  /** Per shard index: counts, entries and bytes (of the current generation). */
  stats(): Array<DomainStats & { entries: number; bytes: number; tracking: boolean }> {
    return this.domains.map((d) => ({ ...d.stats, flushes: { ...d.stats.flushes }, entries: d.entries, bytes: d.bytes, tracking: d.generation > 0 }));
  }

  /** Entries and placeholders held (flushed ones too, until evicted). */
  get size(): number {
    return this.count;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  private find(table: Table, key: string, id: string): Entry | undefined {
    const held = this.byKey.get(key);
    return held === undefined ? undefined : match(held, table, id);
  }

  private renew(domain: Domain, generation: number): void {
    domain.generation = generation;
    domain.entries = 0;
    domain.bytes = 0;
  }

  private domain(shard: number): Domain {
    let domain = this.domains[shard];
    if (!domain) {
      for (let i = this.domains.length; i <= shard; i++) {
        this.domains[i] = {
          shard: i,
          generation: 0,
          entries: 0,
          bytes: 0,
          stats: { hits: 0, misses: 0, joined: 0, invalidations: 0, flushes: { connection: 0, failover: 0, topology: 0, server: 0, tracking: 0, write: 0 } },
        };
      }
      domain = this.domains[shard]!;
    }
    return domain;
  }

  private remove(entry: Entry): void {
    this.count--;
    entry.held = false;
    if (this.hand === entry) this.hand = entry.newer;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
    if (!entry.pending) {
      this.bytes -= entry.bytes;
      if (entry.generation === entry.domain.generation) {
        entry.domain.entries--;
        entry.domain.bytes -= entry.bytes;
      }
    }
    const held = this.byKey.get(entry.key);
    if (held === entry) this.byKey.delete(entry.key);
    else if (Array.isArray(held)) {
      const at = held.indexOf(entry);
      if (at >= 0) held.splice(at, 1);
      if (held.length === 1) this.byKey.set(entry.key, held[0]!);
      else if (held.length === 0) this.byKey.delete(entry.key);
    }
  }

  /**
   * SIEVE, until both bounds hold: the hand walks from the oldest entry
   * toward the newest (then wraps), clearing `visited` bits, and evicts the
   * first entry not visited since it last passed, or of an ended
   * generation. `added`, the entry just begun or filled, is passed by
   * unless it alone breaks a bound. Placeholders count toward maxEntries
   * (reads in flight).
   */
  private evict(added: Entry): void {
    while (this.count > this.limits.maxEntries || this.bytes > this.limits.maxBytes) {
      let victim = this.hand ?? this.oldest;
      if (victim === undefined) return;
      while (victim === added ? this.count > 1 : victim.visited && victim.generation === victim.domain.generation) {
        if (victim !== added) victim.visited = false;
        victim = victim.newer ?? this.oldest!;
      }
      this.hand = victim.newer;
      this.remove(victim);
    }
  }
}

/** The entry of `table` and `id` among a key's entries. */
function match(held: Entry | Entry[], table: Table, id: string): Entry | undefined {
  if (!Array.isArray(held)) return held.table === table && held.id === id ? held : undefined;
  for (const entry of held) if (entry.table === table && entry.id === id) return entry;
  return undefined;
}
