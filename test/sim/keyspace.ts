/**
 * One simulated node's data: strings, hashes and lists under binary-safe
 * keys (latin1 strings of the key's bytes), with expiries in the fake clock,
 * a version per key for WATCH, and the keys each command touched (for
 * replication, client tracking and WATCH).
 */
export type Value =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "hash"; readonly value: Map<string, string> }
  | { readonly type: "list"; readonly value: string[] };

interface Slot {
  value: Value;
  /** Date.now() after which the key is gone; Infinity: no expiry. */
  expiresAt: number;
}

/** A key's content as replicated: the value and its expiry, or deleted. */
export interface KeyState {
  readonly key: string;
  readonly slot: { readonly value: Value; readonly expiresAt: number } | undefined;
}

/** Told of every change: the key's string value now (undefined: gone; "<hash>"/"<list>" for other types); key "*": everything gone. */
export type ChangeLog = (key: string, value: string | undefined) => void;

export class Keyspace {
  private readonly slots = new Map<string, Slot>();
  private readonly versions = new Map<string, number>();
  /** Bumped by FLUSHALL: every WATCH taken before it is broken. */
  private flushes = 0;
  /** Keys changed since the last take(): what the command wrote. */
  private touched = new Set<string>();
  /** A FLUSHALL happened since the last take(). */
  private flushed = false;

  constructor(private readonly log: ChangeLog = () => undefined) {
    this.log("*", undefined);
  }

  get size(): number {
    let n = 0;
    for (const key of this.slots.keys()) if (this.live(key)) n++;
    return n;
  }

  /** The key's value, or undefined when missing or expired (expired keys are deleted here, as Redis does lazily). */
  get(key: string): Value | undefined {
    return this.live(key)?.value;
  }

  expiresAt(key: string): number | undefined {
    return this.live(key)?.expiresAt;
  }

  set(key: string, value: Value, expiresAt = Infinity): void {
    this.slots.set(key, { value, expiresAt });
    this.changed(key);
  }

  /** Changes a key's expiry; false when the key does not exist. */
  expire(key: string, expiresAt: number): boolean {
    const slot = this.live(key);
    if (!slot) return false;
    slot.expiresAt = expiresAt;
    this.changed(key);
    return true;
  }

  /** Marks a key whose value object was changed in place (a hash field, a list push). */
  mutated(key: string): void {
    this.changed(key);
  }

  delete(key: string): boolean {
    const existed = this.live(key) !== undefined;
    if (existed) {
      this.slots.delete(key);
      this.changed(key);
    }
    return existed;
  }

  flush(): void {
    this.slots.clear();
    this.flushes++;
    this.flushed = true;
    this.log("*", undefined);
  }

  /** The live keys that `match` accepts. */
  keysIn(match: (key: string) => boolean): string[] {
    return [...this.slots.keys()].filter((key) => match(key) && this.live(key) !== undefined);
  }

  /** What WATCH remembers of a key: a change of it (or a FLUSHALL) breaks the transaction. */
  version(key: string): string {
    return `${this.flushes}:${this.versions.get(key) ?? 0}`;
  }

  /** The keys written since the last call, and whether everything was flushed. */
  take(): { keys: string[]; flushed: boolean } {
    const out = { keys: [...this.touched], flushed: this.flushed };
    this.touched = new Set();
    this.flushed = false;
    return out;
  }

  /** The current state of some keys (deep copies): what a replica receives. */
  states(keys: readonly string[]): KeyState[] {
    return keys.map((key) => {
      const slot = this.live(key);
      return { key, slot: slot && { value: copy(slot.value), expiresAt: slot.expiresAt } };
    });
  }

  /** Applies replicated states (a replica), as writes of their own (tracking and WATCH see them). */
  apply(states: readonly KeyState[]): void {
    for (const { key, slot } of states) {
      if (slot) this.set(key, copy(slot.value), slot.expiresAt);
      else this.delete(key);
    }
  }

  /** Everything, copied: a replica's full sync. */
  snapshot(): KeyState[] {
    return this.states([...this.slots.keys()]);
  }

  private live(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= Date.now()) {
      this.slots.delete(key);
      this.changed(key);
      return undefined;
    }
    return slot;
  }

  private changed(key: string): void {
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
    this.touched.add(key);
    const slot = this.slots.get(key);
    this.log(key, slot === undefined ? undefined : slot.value.type === "string" ? slot.value.value : `<${slot.value.type}>`);
  }
}

function copy(value: Value): Value {
  switch (value.type) {
    case "string":
      return value;
    case "hash":
      return { type: "hash", value: new Map(value.value) };
    case "list":
      return { type: "list", value: [...value.value] };
  }
}
