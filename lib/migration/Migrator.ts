/**
 * Runs the commands of a migration's moving keys by phase, through a host
 * (the executor) that sends to a shard: reads on the owner the phase names
 * (warm: the new one, falling back to the old one on a miss and copying the
 * value over with its remaining TTL), writes on the authoritative owner then
 * an invalidation of the other, split commands key by key. A command whose
 * keys keep their owner is not touched (undefined: the host routes it as
 * usual, by the placement in force). One migration, one Migrator: a new
 * migration replaces it (a snapshot, never patched).
 */
import { randomBytes } from "node:crypto";
import type { CallOptions } from "../config/callOptions.js";
import type { ResolvedMigration } from "../config/migration.js";
import { buildCommand, CarriedRead, type Carried, type ShardisCommand } from "../commands/command.js";
import type { Encoding } from "../commands/install.js";
import type { Script } from "../commands/script.js";
import { MigrationRefusedError, MigrationWriteError } from "../errors/migration.js";
import { PartialFailureError } from "../errors/calls.js";
import { ConnectionError, TimeoutError, WriteConcernError } from "../errors/nodes.js";
import type { CommandSpec } from "../routing/commandSpec.js";
import type { Args, SplitPlan } from "../routing/plan.js";
import { reduceReplies } from "../routing/reduce.js";
import { InFlightWrites } from "./inFlight.js";
import { PhaseClock, type Phase } from "./clock.js";
import { movingShare, Placement } from "./placement.js";
import { invalidations, keysOf, movingKeys, moving, moveRoute, type Invalidations, type Placements } from "./route.js";
import { COPY, DUMP, INVALIDATE, OBSERVE } from "./scripts.js";

/** What a Migrator needs of the executor. */
export interface MigrationHost {
  /** Sends a built command to a shard (no routing). */
  runOn(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions): Promise<unknown>;
  /** Runs a script on a shard's master. */
  runScript(script: Script, args: unknown[], encoding: Encoding, call: CallOptions, shard: number): Promise<unknown>;
  shardName(index: number): string;
  /** The `keyless` option's shard name (where commands without a key go). */
  readonly keyless?: string | undefined;
  /** The placement commands of keys that do not move are routed by from now on. */
  use(placement: Placement): void;
  /** The phase changed (events, near cache). */
  phaseChanged(phase: Phase, previous: Phase): void;
}

/** What client.migration() reports. */
export interface MigrationStatus {
  readonly phase: Phase;
  /** Epoch ms the phase began and ends (null: unbounded). */
  readonly since: number | null;
  readonly until: number | null;
  /** Until the next phase, in ms (null once done). */
  readonly timeLeftMs: number | null;
  readonly startAt: number;
  readonly doneAt: number;
  /** The fleets before and after, by shard name. */
  readonly from: readonly string[];
  readonly to: readonly string[];
  /** The share of keys whose owner changes (exact for slot maps, sampled for ketama). */
  readonly movingShare: number;
  /** Warm reads of a moving key that missed its new owner and read the old one. */
  readonly fallbackReads: number;
  /** Values copied to their new owner (keys moved). */
  readonly copies: number;
  /** Fallback reads that copied nothing: no value on the old owner either, invalidated or copied since, past the copy window, expired. */
  readonly copiesSkipped: number;
  readonly copyFailures: number;
  /** Values written in warm (on the old owner) copied to the new one as part of the write (not counted in `copies`): landed, and failed (the write still answered). */
  readonly writeCopies: number;
  readonly writeCopyFailures: number;
  /** Other owners invalidated after writes of moving keys (one per key). */
  readonly invalidations: number;
  readonly invalidationFailures: number;
}

/** Reads whose reply is nil only when the key is absent (or, for a field or member, may be): any other reply is a hit on the new owner, no look needed. */
const NIL_WHEN_ABSENT = new Set(["get", "hget", "zscore", "lindex"]);

type Counter = "fallbackReads" | "copies" | "copiesSkipped" | "copyFailures" | "writeCopies" | "writeCopyFailures" | "invalidations" | "invalidationFailures";

export class Migrator {
  readonly clock: PhaseClock;
  readonly placements: Placements;
  private readonly counts: Record<Counter, number> = { fallbackReads: 0, copies: 0, copiesSkipped: 0, copyFailures: 0, writeCopies: 0, writeCopyFailures: 0, invalidations: 0, invalidationFailures: 0 };
  private phaseNow: Phase;
  /** Until when phaseNow holds: the clock is only read against it on the hot path. */
  private until: number;
  private readonly tombTtlMs: number;
  private share: number | undefined;
  /** This client's writes of moving keys in flight: a warm read of one reads behind it, on the old owner. */
  private readonly writing = new InFlightWrites();

  constructor(
    readonly migration: ResolvedMigration,
    union: ReadonlyArray<{ readonly name: string; readonly weight: number }>,
    commandTimeoutMs: number,
    private readonly host: MigrationHost,
    private readonly now: () => number = Date.now,
  ) {
    this.clock = new PhaseClock(migration, commandTimeoutMs);
    this.placements = { from: new Placement(migration.from, union, host.keyless), to: new Placement(migration.to, union, host.keyless) };
    // Longer than any copy may take from its look at the tombstone to landing (the copy script refuses later ones).
    this.tombTtlMs = 2 * migration.copyWindowMs + this.clock.boundMs;
    const state = this.clock.state(this.now());
    this.phaseNow = state.phase;
    this.until = state.until;
    host.use(this.inForce(state.phase));
  }

  /** The phase now; routing follows it (the host is told at each change). */
  phase(): Phase {
    const now = this.now();
    if (now < this.until) return this.phaseNow;
    const previous = this.phaseNow;
    const state = this.clock.state(now);
    this.phaseNow = state.phase;
    this.until = state.until;
    if (state.phase !== previous) {
      this.host.use(this.inForce(state.phase));
      this.host.phaseChanged(state.phase, previous);
    }
    return state.phase;
  }

  /** The placement keys that do not move are routed by (both agree on them from dual to switch). */
  inForce(phase: Phase): Placement {
    return phase === "done" || phase === "switch" ? this.placements.to : this.placements.from;
  }

  get done(): boolean {
    return this.phase() === "done";
  }

  /** Copies made (or skipped, or failed) outside a read (copyAll()), counted with the fallback reads' ones. */
  counted(copied: number, skipped: number, failed: number): void {
    this.counts.copies += copied;
    this.counts.copiesSkipped += skipped;
    this.counts.copyFailures += failed;
  }

  status(): MigrationStatus {
    const now = this.now();
    const { phase, since, until } = this.clock.state(now);
    const names = (p: Placement) => p.shards.map((i) => p.names[i]!);
    this.share ??= movingShare(this.placements.from, this.placements.to);
    return Object.freeze({
      phase,
      since: Number.isFinite(since) ? since : null,
      until: Number.isFinite(until) ? until : null,
      timeLeftMs: Number.isFinite(until) ? Math.max(0, until - now) : null,
      startAt: this.clock.dualAt,
      doneAt: this.clock.doneAt,
      from: Object.freeze(names(this.placements.from)),
      to: Object.freeze(names(this.placements.to)),
      movingShare: this.share,
      ...this.counts,
    });
  }

  /**
   * Runs a command whose keys move in this phase; undefined when none does
   * (or the phase moves nothing): the host routes it as usual.
   */
  dispatch(spec: CommandSpec, cmd: ShardisCommand, encoding: Encoding, call: CallOptions): Promise<unknown> | undefined {
    const phase = this.phase();
    if (!moving(phase)) return undefined;
    const args = cmd.args as Args;
    const keys = keysOf(spec, args);
    if (keys.length < 2 || !spec.split) return this.single(phase, spec, cmd, call);
    if (movingKeys(this.placements, keys).length === 0) return undefined;
    return this.split(phase, spec, args, keys, encoding, call);
  }

  /**
   * A script (or a transaction's keys) on moving keys: the shard of its
   * keys' authoritative owner, and a function to call after it ran (it
   * invalidates the other owners); undefined when no key moves.
   */
  authoritative(name: string, keys: ReadonlyArray<string | Buffer>, readOnly: boolean): Authoritative | undefined {
    const phase = this.phase();
    if (!moving(phase)) return undefined;
    const moved = movingKeys(this.placements, keys);
    if (moved.length === 0) return undefined;
    const primary = phase === "switch" ? this.placements.to : this.placements.from;
    const other = phase === "switch" ? this.placements.from : this.placements.to;
    const shards = new Set(keys.map((k) => primary.strategy.shardIndexOf(k)));
    if (shards.size > 1) throw new MigrationRefusedError(name, phase, "its keys are on several shards of the authoritative fleet");
    const shard = [...shards][0]!;
    if (readOnly) return { shard, after: async (reply) => reply, failed: (error) => Promise.reject(error) };
    const targets = invalidations(other, moved);
    return {
      shard,
      after: (reply) => this.invalidate(name, shard, targets, reply, phase === "switch"),
      failed: (error) => this.invalidateAnyway(name, shard, targets, error, phase === "switch"),
    };
  }

  /** Refuses work that would hold one owner of a moving key (a dedicated connection, a transaction) from dual to switch. */
  refuseMoving(name: string, keys: ReadonlyArray<string | Buffer>, reason: string): void {
    const phase = this.phase();
    if (!moving(phase) || movingKeys(this.placements, keys).length === 0) return;
    throw new MigrationRefusedError(name, phase, reason, this.clock.doneAt);
  }

  private single(phase: Phase, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions): Promise<unknown> | undefined {
    let route;
    try {
      route = moveRoute(this.placements, phase, spec, cmd.args as Args);
    } catch (error) {
      return Promise.reject(error);
    }
    if (route === undefined) return undefined;
    switch (route.kind) {
      case "read":
        return this.host.runOn(route.route as number, spec, cmd, call);
      case "warm": {
        const keys = keysOf(spec, cmd.args as Args);
        // Several keys (one hash tag) read together: the old owner has every write until the switch. So has a key
        // this client is writing: the read queues behind the write there (inFlight.ts).
        if (keys.length !== 1 || typeof route.to !== "number") return this.host.runOn(route.from as number, spec, cmd, call);
        if (this.writing.has(keys[0]!)) return this.host.runOn(route.from as number, spec, cmd, { ...call, readFrom: "master" });
        return this.warm(spec, cmd, call, keys[0]!, route.from as number, route.to);
      }
      case "write": {
        const shard = route.route as number;
        const oldOwners = route.side === "to";
        const written = this.host.runOn(shard, spec, cmd, call).then(
          (reply) => this.invalidate(spec.name, shard, route.invalidate, reply, oldOwners),
          (error: unknown) => this.invalidateAnyway(spec.name, shard, route.invalidate, error, oldOwners),
        );
        return this.writing.track([...route.invalidate.values()].flat(), written);
      }
    }
  }

  /**
   * A warm read: the new owner, and whether the key is there (observed after
   * the read, with the tombstone and the server's time; for a GET, only when
   * it answered nil); on a miss, the old owner, and (early enough in the
   * phase) its value copied to the new one.
   */
  private async warm(spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, key: string | Buffer, from: number, to: number): Promise<unknown> {
    // One deadline for the whole read (docs/resilience.md), not one per step: each step gets what is left of it.
    const deadline = performance.now() + call.timeoutMs;
    const master = (): CallOptions => ({ ...call, readFrom: "master", timeoutMs: Math.max(1, deadline - performance.now()) });
    const copies = this.clock.copies(this.now());
    const again = cmd.clone();
    let value: unknown;
    let look: unknown;
    if (NIL_WHEN_ABSENT.has(spec.name)) {
      value = await this.host.runOn(to, spec, cmd, master());
      if (!isNil(cmd, value)) return value;
      look = await this.host.runScript(OBSERVE, [key], null, master(), to);
    } else {
      const read = this.host.runOn(to, spec, cmd, master());
      const observed = this.host.runScript(OBSERVE, [key], null, master(), to);
      // Both settle before either is looked at: no rejection is left unhandled.
      const [reply, looked] = await Promise.allSettled([read, observed]);
      if (reply.status === "rejected") throw reply.reason;
      if (looked.status === "rejected") throw looked.reason;
      [value, look] = [reply.value, looked.value];
    }
    const [exists, tomb, seenMs] = look as [number, Buffer, number];
    if (exists === 1) return value;
    this.counts.fallbackReads++;
    const old = this.host.runOn(from, spec, again, master());
    if (!copies) {
      this.counts.copiesSkipped++;
      return old;
    }
    const dumped = this.host.runScript(DUMP, [key], null, master(), from);
    const [answer, dump] = await Promise.allSettled([old, dumped]);
    if (dump.status === "fulfilled") {
      const [payload, pttl] = dump.value as [Buffer | null, number];
      if (payload) this.copy(key, tomb, seenMs, pttl, payload, to, { ...call, readFrom: "master" });
      else this.counts.copiesSkipped++;
    } else this.counts.copyFailures++;
    if (answer.status === "rejected") throw answer.reason;
    return answer.value;
  }

  /**
   * After a warm write of moving keys (applied on the old owner, the new one
   * invalidated): each key's value copied to its new owner before the write
   * answers, as a warm read's miss would copy it. Without it a key written
   * in warm (a cache filled after a miss) and not read again before the
   * switch is on its old owner only and misses from the switch on: the
   * growth bench saw 1.35-1.5x the steady database loads after a migration
   * from exactly those keys. The guard is a read's copy's: the look at the
   * new owner (its tombstone, after this write's invalidation) comes before
   * the old owner's value is dumped, so a later write's invalidation refuses
   * the copy, a copy never lands past its window, and a key present there
   * (a later write of switch) is never overwritten. A failure is counted,
   * never the caller's: the write and its invalidation are done.
   */
  private async copyBehindWrite(keys: ReadonlyArray<string | Buffer>, from: number, to: number, call: CallOptions): Promise<void> {
    await Promise.all(
      keys.map(async (key) => {
        try {
          const [exists, tomb, seenMs] = (await this.host.runScript(OBSERVE, [key], null, call, to)) as [number, Buffer, number];
          if (exists === 1) return;
          const [payload, pttl] = (await this.host.runScript(DUMP, [key], null, call, from)) as [Buffer | null, number];
          if (!payload) return;
          if ((await this.host.runScript(COPY, this.copyArgs(key, tomb, seenMs, pttl, payload), "utf8", call, to)) === 1) this.counts.writeCopies++;
        } catch {
          this.counts.writeCopyFailures++;
        }
      }),
    );
  }

  /** The copy script's arguments: copied only if absent, the tombstone still `tomb`, within the window of `seenMs`, with its TTL. */
  private copyArgs(key: string | Buffer, tomb: Buffer, seenMs: number, pttl: number, payload: Buffer): Array<string | Buffer> {
    return [key, tomb, String(seenMs), String(this.migration.copyWindowMs), String(pttl), payload];
  }

  /** Copies a value to its new owner in the background (the read does not wait); counted. */
  private copy(key: string | Buffer, tomb: Buffer, seenMs: number, pttl: number, payload: Buffer, to: number, call: CallOptions): void {
    this.host.runScript(COPY, this.copyArgs(key, tomb, seenMs, pttl, payload), "utf8", call, to).then(
      (result) => (result === 1 ? this.counts.copies++ : this.counts.copiesSkipped++),
      () => this.counts.copyFailures++,
    );
  }

  /**
   * After a write on `applied`: each other owner's copies of the moving keys
   * deleted and tombstoned. MigrationWriteError when one fails.
   * `oldOwners`: the others are the old owners (a write of switch, on the
   * new owner). Their invalidation keeps the written key from being read
   * there by a process still in warm; once this client is done, every
   * process is past warm (it ends S before done), so it is no longer needed:
   * not sent then, and a failure of one already sent (its shard released, a
   * shrink's removed one) is not the caller's: the write landed on the owner
   * that counts.
   */
  private async invalidate(name: string, applied: number, targets: Invalidations, reply: unknown, oldOwners: boolean): Promise<unknown> {
    const lapsed = () => oldOwners && this.phase() === "done";
    if (lapsed()) return reply;
    const token = randomBytes(12).toString("base64");
    const call: CallOptions = { timeoutMs: this.clock.boundMs, partial: false, idempotent: true, readFrom: "master", writeConcern: undefined };
    const runs = [...targets].map(([shard, keys]) =>
      this.host.runScript(INVALIDATE, [keys.length, ...keys, token, String(this.tombTtlMs)], "utf8", call, shard).then(
        () => (this.counts.invalidations += keys.length, undefined),
        (error: unknown) => ({ shard, keys, error }),
      ),
    );
    const failures = (await Promise.all(runs)).filter((r) => r !== undefined);
    // A write on the old owner in warm, early enough to copy: its value follows to the new owners (copyBehindWrite).
    if (failures.length === 0 && !oldOwners && reply !== undefined && this.clock.copies(this.now())) {
      // A command's own deadline, not S: the look must be answered within it for the copy to land before any process's
      // switch (copyUntil leaves S + W for a command's life plus the skew; S itself would spend the skew twice).
      const copyCall: CallOptions = { ...call, timeoutMs: this.clock.boundMs - this.clock.timing.clockSkewMs };
      await Promise.all([...targets].map(([shard, keys]) => this.copyBehindWrite(keys, applied, shard, copyCall)));
    }
    if (failures.length === 0 || lapsed()) return reply;
    for (const { keys } of failures) this.counts.invalidationFailures += keys.length;
    const failed = failures[0]!;
    throw new MigrationWriteError(name, this.host.shardName(applied), this.host.shardName(failed.shard), reply, failed.error);
  }

  /**
   * A write that failed in a way that leaves it possibly applied (its reply
   * lost: TimeoutError, ConnectionError) or surely applied (WriteConcernError):
   * the other owners are invalidated all the same, or a copy there (made by a
   * warm reader) would be read in place of the write, and kept by the switch.
   * Then the write's own error rejects; an invalidation that fails too is
   * counted, and retrying the write (as its error says) invalidates again.
   */
  private async invalidateAnyway(name: string, applied: number, targets: Invalidations, error: unknown, oldOwners: boolean): Promise<never> {
    if (error instanceof TimeoutError || error instanceof ConnectionError || error instanceof WriteConcernError) {
      await this.invalidate(name, applied, targets, undefined, oldOwners).catch(() => undefined);
    }
    throw error;
  }

  /**
   * A splittable command (MGET, MSET, DEL, EXISTS, ...) with moving keys:
   * each moving key's part alone, by its own phase route; the keys that stay
   * grouped by their shard, as without a migration. Replies combined as the
   * command's split rule says.
   */
  private async split(phase: Phase, spec: CommandSpec, args: Args, keys: ReadonlyArray<string | Buffer>, encoding: Encoding, call: CallOptions): Promise<unknown> {
    const step = spec.split!.step;
    const parts: SplitPlan["parts"] = [];
    const staying = new Map<number, SplitPlan["parts"][number]>();
    const { from, to } = this.placements;
    keys.forEach((key, k) => {
      const owner = from.strategy.shardIndexOf(key);
      const moves = owner !== to.strategy.shardIndexOf(key);
      let part = moves ? undefined : staying.get(owner);
      if (!part) {
        part = { shard: moves ? -1 : owner, args: [], positions: [] };
        parts.push(part);
        if (!moves) staying.set(owner, part);
      }
      for (let j = 0; j < step; j++) part.args.push(args[k * step + j]!);
      part.positions.push(k);
    });
    const plan: SplitPlan = { kind: "split", parts, keyCount: keys.length, reduce: spec.split!.reduce };
    const settled = await Promise.allSettled(
      parts.map((part) => {
        const cmd = buildCommand(spec.name, part.args, encoding);
        return part.shard >= 0 ? this.host.runOn(part.shard, spec, cmd, call) : this.single(phase, spec, cmd, call)!;
      }),
    );
    // Failures as without a migration: PartialFailureError by shard (a moving key's part named by the owner it goes to first), or with `partial` each key of a failed part reading as its error.
    const first = phase === "dual" || (phase === "warm" && !spec.readOnly) ? from : to;
    const failures: Array<{ shard: string; error: Error }> = [];
    const succeeded: string[] = [];
    const replies = settled.map((outcome, i) => {
      const part = parts[i]!;
      const shard = this.host.shardName(part.shard >= 0 ? part.shard : first.strategy.shardIndexOf(part.args[0]!));
      if (outcome.status === "fulfilled") return (succeeded.push(shard), outcome.value);
      failures.push({ shard, error: outcome.reason as Error });
      return part.positions.map(() => outcome.reason);
    });
    if (failures.length && !(call.partial && plan.reduce === "byKey")) throw new PartialFailureError(spec.name, failures, [...new Set(succeeded)]);
    return reduceReplies(plan, replies);
  }
}

/** Where a script on moving keys runs, and what follows it: the other owners invalidated after it ran, or after it failed in a way that may have left it applied. */
export interface Authoritative {
  readonly shard: number;
  after(reply: unknown): Promise<unknown>;
  failed(error: unknown): Promise<never>;
}

/** A read's reply is nil (a CarriedRead settles with the caller's object, the reply on it). */
function isNil(cmd: ShardisCommand, reply: unknown): boolean {
  return cmd instanceof CarriedRead ? (reply as Carried).raw === null : reply === null;
}
