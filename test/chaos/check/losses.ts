/**
 * When and where a server may have lost data, from the fault log: a window
 * [at, healedAt] (to the end of the run if it never healed) on a shard, or
 * on a cluster master's slots. A counter going backwards, or a read missing
 * its own write, is a violation only if no such window covers it.
 */
import type { FaultRecord } from "../history.js";

/** Where a key lives: its shard (plain, sentinel) or its slot (cluster). */
export interface Scope {
  /** Its shard; for a key a migration moves (--grow), its new owner. */
  readonly shard?: string;
  readonly slot?: number;
  /**
   * A key a migration moves: each owner and when it may hold the key's data
   * (epoch ms): the old one until no process reads it, the new one from the
   * first copies on. A fault on either, while it may hold the key, may lose it.
   */
  readonly owners?: ReadonlyArray<{ readonly shard: string; readonly from: number; readonly until: number }>;
}

export class LossWindows {
  private readonly losses: FaultRecord[];
  private readonly reshards: FaultRecord[];

  constructor(
    private readonly faults: readonly FaultRecord[],
    private readonly scope: (key: string) => Scope,
  ) {
    this.losses = faults.filter((f) => f.loss);
    this.reshards = faults.filter((f) => f.moved?.length);
  }

  /** A fault that may have lost (unreplicated or all) writes of this key between from and to. */
  covering(key: string, from: number, to: number): FaultRecord | undefined {
    const scope = this.scope(key);
    return this.losses.find((f) => f.at <= to && end(f) >= from && inScope(f, scope));
  }

  /**
   * A moving key's write never copied stays on its old owner only (--grow):
   * a wipe of that old owner after the write began loses it, also after
   * every process left that owner (nothing reads it there, but nothing
   * else holds the value either).
   */
  wipedOldOwner(key: string, start: number): FaultRecord | undefined {
    const old = this.scope(key).owners?.[0]?.shard;
    return old === undefined ? undefined : this.losses.find((f) => f.loss === "wipe" && f.shard === old && end(f) >= start);
  }

  /** Wipes of a moving key's old owner that began before `before` (--grow). */
  oldOwnerWipes(key: string, before: number): FaultRecord[] {
    const old = this.scope(key).owners?.[0]?.shard;
    return old === undefined ? [] : this.losses.filter((f) => f.loss === "wipe" && f.shard === old && f.at < before);
  }

  /** The key changes owner in the migration (--grow). */
  moves(key: string): boolean {
    return this.scope(key).owners !== undefined;
  }

  /**
   * A fault on the key's shard (or slots, or moving them) between from and
   * to, of any kind but an ACL change: something that may have let an
   * earlier write of it land late, or moved it (a WATCH then aborts).
   */
  touching(key: string, from: number, to: number): FaultRecord | undefined {
    const scope = this.scope(key);
    const moves = (f: FaultRecord) => f.moved?.some(([a, b]) => scope.slot !== undefined && a <= scope.slot && scope.slot <= b);
    return this.faults.find((f) => f.at <= to && end(f) >= from && (moves(f) || ((f.shard !== undefined || f.slots !== undefined) && inScope(f, scope))));
  }

  /**
   * Why an acknowledged write-concern write may be missing at the end: its
   * node was wiped after it began, or (cluster) its slot moved to another
   * master after it (MIGRATE copies without a write concern) and that master
   * then failed over.
   */
  excuseForDurable(key: string, start: number): FaultRecord | undefined {
    const scope = this.scope(key);
    const wipe = this.losses.find((f) => f.loss === "wipe" && end(f) >= start && inScope(f, scope));
    if (wipe) return wipe;
    const moved = this.reshards.find((r) => r.at >= start - 1 && r.moved!.some(([a, b]) => scope.slot !== undefined && a <= scope.slot && scope.slot <= b));
    return moved && this.losses.find((f) => end(f) >= moved.at && inScope(f, scope));
  }
}

const end = (f: FaultRecord) => (f.unhealed ? Infinity : f.healedAt);

function inScope(fault: FaultRecord, scope: Scope): boolean {
  if (fault.shard !== undefined && scope.owners) return scope.owners.some((o) => o.shard === fault.shard && fault.at <= o.until && end(fault) >= o.from);
  if (fault.shard !== undefined) return scope.shard === undefined || fault.shard === scope.shard;
  if (fault.slots !== undefined && scope.slot !== undefined) return fault.slots.some(([a, b]) => a <= scope.slot! && scope.slot! <= b);
  return true; // nothing says where: assume anywhere
}
