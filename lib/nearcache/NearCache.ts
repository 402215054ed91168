/**
 * The near cache: replies of read commands kept in the application's
 * memory, and dropped when Redis says their key changed (client tracking).
 *
 * Entries live in one invalidation domain per shard: a shard whose
 * tracking connection drops, fails over or reports a flush loses its own
 * entries only. A domain serves and fills only while tracking is confirmed
 * on its connection (`track`); each confirmation starts a new generation.
 *
 * The race every near cache has: a read is sent, the key changes, the
 * change is announced (or written by this process), then the old reply
 * arrives. So a read first leaves a placeholder (`begin`); an invalidation
 * of the key, a local write, a flush or a new generation removes it; the
 * reply is kept (`fill`) only if its placeholder is still there.
 *
 * Bounded by maxEntries and maxBytes (least recently used out first) and
 * by ttlMs (an entry is never served older than that, whatever Redis says).
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
  invalidations: number;
  readonly flushes: Record<FlushReason, number>;
}

interface Entry {
  readonly domain: Domain;
  readonly table: Table;
  readonly key: string;
  readonly id: string;
  value: unknown;
  bytes: number;
  expiresAt: number;
  /** A read in flight: no value yet. */
  pending: boolean;
  /** That read's reply, for reads of the same entry meanwhile (one read per entry in flight). */
  inflight: Promise<unknown> | undefined;
  /** Recency list: toward the least recently used, toward the most. */
  older: Entry | undefined;
  newer: Entry | undefined;
}

interface Domain {
  /** Tracking confirmed on the shard's connection; 0 while it is not. */
  generation: number;
  /**
   * Entries per Redis key, for invalidation: the entry itself while a key
   * has one (the usual case: no collection allocated per key), an array
   * once it has more (GET and STRLEN of one key, HGET of several fields).
   */
  readonly byKey: Map<string, Entry | Entry[]>;
  readonly stats: DomainStats;
}

/**
 * The entries of one command and reply encoding, by id: the key itself for
 * commands of one argument (a lookup then hashes a string the application
 * already holds, its hash cached), the arguments otherwise.
 */
export type Table = Map<string, Entry>;

/** What a read remembers between `begin` and `fill`. */
export interface Ticket {
  readonly entry: Entry;
  readonly generation: number;
}

export const FLUSH_REASONS: readonly FlushReason[] = ["connection", "failover", "topology", "server", "tracking", "write"];

export class NearCache {
  private readonly tables = new Map<string, Table>();
  private count = 0;
  /**
   * Recency as a doubly linked list, least recently used at `oldest`: a hit
   * moves its entry to `newest` in O(1). (Deleting and re-inserting in the
   * Map instead leaves holes its iteration must skip: eviction went quadratic.)
   */
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private readonly domains: Domain[] = [];
  private bytes = 0;
  private generations = 0;

  constructor(
    readonly limits: NearCacheLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** The table of a command's replies in one encoding (get it once per command, then look up in it). */
  table(name: string): Table {
    let table = this.tables.get(name);
    if (!table) this.tables.set(name, (table = new Map()));
    return table;
  }

  /**
   * The cached reply for entry `id`, or undefined. Needs no shard: an entry
   * lives in its key's shard's domain, and a domain is flushed whenever keys
   * could change shard (cluster slots moving).
   */
  lookup(table: Table, id: string): unknown {
    const entry = table.get(id);
    if (entry === undefined || entry.pending || entry.domain.generation === 0) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(entry);
      return undefined;
    }
    this.unlink(entry);
    this.append(entry);
    entry.domain.stats.hits++;
    return entry.value;
  }

  /** The reply of a read of entry `id` already in flight (sent after the entry's key last changed), to share. */
  inflight(table: Table, id: string): Promise<unknown> | undefined {
    const entry = table.get(id);
    if (!entry?.pending) return undefined;
    entry.domain.stats.misses++;
    return entry.inflight;
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
    const existing = table.get(id);
    if (existing) this.remove(existing);
    const entry: Entry = {
      domain, table, key, id, value: undefined, bytes: 0, expiresAt: 0, pending: true, inflight: reply, older: undefined, newer: undefined,
    };
    table.set(id, entry);
    this.count++;
    this.append(entry);
    const others = domain.byKey.get(key);
    if (others === undefined) domain.byKey.set(key, entry);
    else if (Array.isArray(others)) others.push(entry);
    else domain.byKey.set(key, [others, entry]);
    this.evict();
    return { entry, generation: domain.generation };
  }

  /** The read's reply: kept if nothing touched its key (or its domain) since `begin`. */
  fill(ticket: Ticket, value: unknown, bytes: number): void {
    const { entry } = ticket;
    if (entry.table.get(entry.id) !== entry || entry.domain.generation !== ticket.generation || !entry.pending) return;
    entry.pending = false;
    entry.inflight = undefined;
    entry.value = value;
    entry.bytes = bytes;
    entry.expiresAt = this.now() + this.limits.ttlMs;
    this.bytes += bytes;
    this.evict();
  }

  /** The read failed: its placeholder goes. */
  abandon(ticket: Ticket): void {
    if (ticket.entry.table.get(ticket.entry.id) === ticket.entry && ticket.entry.pending) this.remove(ticket.entry);
  }

  /**
   * These keys changed (Redis said so, or this process wrote them): their
   * entries go from every domain, not only the reporting shard's. Over a
   * Redis Cluster a read redirected by MOVED is answered (and tracked) by
   * another shard's node than the one its entry was filed under, until the
   * new slot map flushes everything.
   */
  invalidate(keys: readonly string[]): void {
    for (const domain of this.domains) {
      if (domain.byKey.size === 0) continue;
      for (const key of keys) {
        const entries = domain.byKey.get(key);
        if (!entries) continue;
        domain.stats.invalidations++;
        if (Array.isArray(entries)) for (const entry of [...entries]) this.remove(entry);
        else this.remove(entries);
      }
    }
  }

  /** Drops the shard's entries; unless `keepTracking`, tracking must be confirmed again (`track`) before it caches. */
  flush(shard: number, reason: FlushReason, keepTracking = false): void {
    const domain = this.domain(shard);
    domain.stats.flushes[reason]++;
    for (const entries of [...domain.byKey.values()]) {
      if (Array.isArray(entries)) for (const entry of [...entries]) this.remove(entry);
      else this.remove(entries);
    }
    domain.byKey.clear();
    domain.generation = keepTracking ? ++this.generations : 0;
  }

  /** Whether the shard caches now (its tracking is confirmed). */
  tracking(shard: number): boolean {
    return this.domain(shard).generation > 0;
  }

  /** Tracking is on for the shard's connection: it may cache, from a new generation. */
  track(shard: number): void {
    this.domain(shard).generation = ++this.generations;
  }

  /** Per shard index: counts, entries and bytes. */
  stats(): Array<DomainStats & { entries: number; bytes: number; tracking: boolean }> {
    return this.domains.map((d) => {
      let entries = 0;
      let bytes = 0;
      for (const held of d.byKey.values()) {
        for (const entry of Array.isArray(held) ? held : [held]) {
          if (entry.pending) continue;
          entries++;
          bytes += entry.bytes;
        }
      }
      return { ...d.stats, flushes: { ...d.stats.flushes }, entries, bytes, tracking: d.generation > 0 };
    });
  }

  /** Entries and placeholders held. */
  get size(): number {
    return this.count;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  private domain(shard: number): Domain {
    let domain = this.domains[shard];
    if (!domain) {
      for (let i = this.domains.length; i <= shard; i++) {
        this.domains[i] = {
          generation: 0,
          byKey: new Map(),
          stats: { hits: 0, misses: 0, invalidations: 0, flushes: { connection: 0, failover: 0, topology: 0, server: 0, tracking: 0, write: 0 } },
        };
      }
      domain = this.domains[shard]!;
    }
    return domain;
  }

  private append(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
  }

  private unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
  }

  private remove(entry: Entry): void {
    entry.table.delete(entry.id);
    this.count--;
    this.unlink(entry);
    if (!entry.pending) this.bytes -= entry.bytes;
    const byKey = entry.domain.byKey;
    const held = byKey.get(entry.key);
    if (held === entry) byKey.delete(entry.key);
    else if (Array.isArray(held)) {
      const at = held.indexOf(entry);
      if (at >= 0) held.splice(at, 1);
      if (held.length === 1) byKey.set(entry.key, held[0]!);
      else if (held.length === 0) byKey.delete(entry.key);
    }
  }

  /** Least recently used first, until both bounds hold (placeholders count toward maxEntries: they are reads in flight). */
  private evict(): void {
    while (this.oldest && (this.count > this.limits.maxEntries || this.bytes > this.limits.maxBytes)) this.remove(this.oldest);
  }
}
