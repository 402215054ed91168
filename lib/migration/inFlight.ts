/**
 * This client's writes of moving keys still in flight (from dispatch until
 * their invalidation of the other owner, and a warm write's copy, are done),
 * by key. A warm read of such a key goes to the old owner, where the write
 * was sent first: it is read behind it, as on one connection without a
 * migration. Through the new owner it could overtake the write's
 * invalidation and answer the value the write replaced (a pipeline's
 * SET then GET of one key; the chaos soak's --grow found it).
 */
export class InFlightWrites {
  private readonly counts = new Map<string, number>();

  /** Tracks p's keys until it settles; returns p. */
  track<T>(keys: ReadonlyArray<string | Buffer>, p: Promise<T>): Promise<T> {
    const ids = keys.map(id);
    for (const k of ids) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    const release = () => {
      for (const k of ids) {
        const left = this.counts.get(k)! - 1;
        if (left === 0) this.counts.delete(k);
        else this.counts.set(k, left);
      }
    };
    p.then(release, release);
    return p;
  }

  /** A write of this key from this client is in flight. Two keys taken for one (a lossy decoding) only send a read to the old owner, which is always right in warm. */
  has(key: string | Buffer): boolean {
    return this.counts.has(id(key));
  }
}

const id = (key: string | Buffer): string => (typeof key === "string" ? key : key.toString());
