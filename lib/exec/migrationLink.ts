/**
 * The executor's side of a live migration: the Migrator in force (none, one
 * per migration, replaced whole by reconfigure()), the placement keys are
 * routed by when no migration moves them, and reconfigure() itself (shards
 * added to the layout, a new migration or a plain switch).
 */
import type { CallOptions } from "../config/callOptions.js";
import { resolveReconfigure, type ResolvedPlacement } from "../config/migration.js";
import type { ResolvedShard } from "../config/shards.js";
import type { Encoding } from "../commands/install.js";
import type { ShardisCommand } from "../commands/command.js";
import type { Script } from "../commands/script.js";
import { ClientClosedError, ConfigError, ScanCursorStaleError } from "../errors.js";
import { MigrationCopyError, MigrationRefusedError } from "../errors/migration.js";
import { phaseSteps, type Phase } from "../migration/clock.js";
import { Migrator, type Authoritative, type MigrationHost, type MigrationStatus } from "../migration/Migrator.js";
import { copyAll, type CopyAllOptions, type CopyAllResult, type MigrationControl } from "../migration/copier.js";
import { addedShardsReady, startedMeanwhile } from "./addedShards.js";
import { shardConnection } from "./copierConnection.js";
import { isNoPermission } from "../connection/aclRefusals.js";
import { PhaseTimer } from "../migration/phaseTimer.js";
import { Placement } from "../migration/placement.js";
import { keysOf, moving } from "../migration/route.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";
import { RELEASED, serving } from "../topology/Topology.js";
import type { Executor } from "./Executor.js";

/**
 * Where a test may hand the client a wall clock of its own (epoch ms; not
 * part of the public options): how the migration's phases are driven
 * without waiting for them.
 */
export const MIGRATION_CLOCK = Symbol("shardis.migrationClock");

export class MigrationLink implements MigrationHost {
  /** The migration in force; undefined when there is none (or it was replaced by a plain switch). */
  private migrator: Migrator | undefined;
  /** Every shard the client has, by index (shards added by reconfigure() included). */
  private union: readonly ResolvedShard[];
  /** The fleet keys go to once any migration is done: where the next one starts from. */
  private current: ResolvedPlacement;
  /** A migration or reconfigure() happened: shards may hold keys they do not own (copies, leftovers). */
  private moved: boolean;
  /** Wakes the migration in force at each phase boundary, commands or not. */
  private timer: PhaseTimer | undefined;
  /** Changes of the placement in force so far (a SCAN cursor carries it): a scan that sees it change is stale. */
  private epoch = 0;
  /** The placement in force, as its shards and sharding (undefined until the first use()). */
  private inForce: { shards: readonly number[]; sharding: unknown } | undefined;
  /** Settles when the client closes: a reconfigure() waiting for shards it adds stops waiting. */
  private readonly closed: Promise<void>;
  private onClosed!: () => void;
  /** The last reconfigure() call's end: the next one starts after it. */
  private reconfigures: Promise<unknown> = Promise.resolve();
  /** Called on each phase change. */
  onPhase: ((phase: Phase, previous: Phase) => void) | undefined;
  /** Called when where channels are listened to changes (a migration configured, done, replaced): pub/sub resyncs. */
  onPlacement: (() => void) | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly now: () => number = Date.now,
  ) {
    const options = executor.options;
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
    this.union = options.shards;
    this.current = options.migration?.to ?? { shards: options.shards.map((_, i) => i), sharding: options.sharding };
    if (!options.migration) this.inForce = this.current;
    if (options.migration) this.migrator = new Migrator(options.migration, options.shards, options.commandTimeoutMs, this, now);
    this.moved = options.migration !== undefined;
    // Made after the migration ended: its removed shards are of no use from the start.
    if (this.migrator?.done) queueMicrotask(() => (this.release(), this.onPlacement?.()));
    this.timed();
  }

  /** The client closes: no phase change is looked for any more. */
  close(): void {
    this.onClosed();
    this.timer?.stop();
    this.timer = undefined;
  }

  /** A migration is in force (not done, or not yet looked at since it ended). */
  get active(): boolean {
    return this.migrator !== undefined;
  }

  /** Brings routing to the phase now (the near cache is flushed at each change). */
  tick(): void {
    this.migrator?.phase();
  }

  /** A command on moving keys, run by its phase's plan; undefined when the executor routes it as usual. */
  dispatch(spec: CommandSpec, cmd: ShardisCommand, encoding: Encoding, call: CallOptions): Promise<unknown> | undefined {
    return this.migrator?.dispatch(spec, cmd, encoding, call);
  }

  /** A script on moving keys: the shard it runs on and what follows it (the other owners invalidated); undefined otherwise. */
  script(script: Script, evalshaArgs: Args): Authoritative | undefined {
    const migrator = this.migrator;
    if (!migrator) return undefined;
    const keys = keysOf(commandSpec(script.evalshaCommand), evalshaArgs);
    return keys.length ? migrator.authoritative(script.name, keys, script.readOnly) : undefined;
  }

  /** Whether the key's owner changes and the phase gives it a plan of its own (dual to switch): the near cache keeps no reply of it. */
  moving(key: string | Buffer): boolean {
    const migrator = this.migrator;
    if (!migrator || !moving(migrator.phase())) return false;
    const { from, to } = migrator.placements;
    return from.strategy.shardIndexOf(key) !== to.strategy.shardIndexOf(key);
  }

  /** Refuses a transaction or dedicated connection on a moving key from dual to switch (MigrationRefusedError). */
  refuseMoving(name: string, keys: ReadonlyArray<string | Buffer>, reason: string): void {
    this.migrator?.refuseMoving(name, keys, reason);
  }

  /** The epoch of the placement in force now (the phase brought up to date): scans carry it. */
  scanEpoch(): number {
    this.tick();
    return this.epoch;
  }

  /**
   * The keys a SCAN of `shard` found, less those it does not own in the
   * placement in force (a moving key's copy on its new owner, what a
   * migration left on old owners): each key is scanned once. A scan begun
   * in another placement epoch is stale (ScanCursorStaleError): keys changed
   * owner between the shards it scanned and those it has yet to.
   */
  scanned<K extends string | Buffer>(shard: number, keys: K[], epoch: number): K[] {
    if (this.scanEpoch() !== epoch) throw new ScanCursorStaleError();
    if (!this.moved) return keys;
    const strategy = this.executor.strategy;
    return keys.filter((key) => strategy.shardIndexOf(key) === shard);
  }

  /**
   * copyAll() of the migration in force (docs/scaling.md): moving keys
   * copied to their new owners, or past doneAt + S deleted from their old
   * ones. ConfigError without a migration.
   */
  copyAll(options: CopyAllOptions): Promise<CopyAllResult> {
    const migrator = this.migrator;
    if (!migrator) return Promise.reject(new ConfigError(["copyAll() needs a migration (the migration option or reconfigure({ migration }))"]));
    const executor = this.executor;
    const host = {
      // Keys SCAN named carry any keyPrefix already: as given, never prefixed again.
      runScript: (script: Script, args: unknown[], encoding: null, call: CallOptions, shard: number) => executor.runScriptAsGiven(script, args, encoding, call, shard),
      onShard: <T>(shard: number, fn: (send: (name: string, args: unknown[]) => Promise<unknown>) => Promise<T>) => shardConnection(executor, shard, fn),
      shardName: (i: number) => executor.shardName(i),
      present: (i: number) => this.serves(i),
      call: { ...executor.defaults, readFrom: "master", idempotent: true } as CallOptions,
      count: (copied: number, skipped: number, failed: number) => migrator.counted(copied, skipped, failed),
    };
    const target = { clock: migrator.clock, placements: migrator.placements, copyWindowMs: migrator.migration.copyWindowMs, phase: () => migrator.phase() };
    // The client closing stops a run between keys, as the caller's signal does (its pacing wait ends too)...
    const stopped = new AbortController();
    const user = options?.signal;
    const abort = () => stopped.abort();
    if (user?.aborted) abort();
    else user?.addEventListener("abort", abort, { once: true });
    void this.closed.then(abort);
    // ...and it rejects, each unfinished shard failed by the close, with the cursors to resume from.
    const closedRun = (result: CopyAllResult) => new MigrationCopyError(result, Object.keys(result.cursors).map((shard) => ({ shard, error: new ClientClosedError() })));
    return copyAll(host, target, { ...options, signal: stopped.signal }, this.now)
      .then(
        (result) => {
          if (executor.closed && !result.complete) throw closedRun(result);
          return result;
        },
        (error: unknown) => {
          throw executor.closed && error instanceof MigrationCopyError ? closedRun(error.result) : error;
        },
      )
      .finally(() => user?.removeEventListener("abort", abort));
  }

  /** What client.migration() returns: the status now, and copyAll(). */
  control(): MigrationControl | undefined {
    const status = this.status();
    return status && Object.freeze({ ...status, copyAll: (options: CopyAllOptions) => this.copyAll(options) });
  }

  /**
   * The shards a channel is listened to on: while a migration is in force
   * and not done, both of its owners (a publisher on either side of a phase
   * boundary publishes to one of them, each message is heard once); else the
   * owner in force. Publishing is routed by the placement in force.
   */
  channelShards(channel: string | Buffer): number[] {
    const now = this.executor.strategy.shardIndexOf(channel);
    const migrator = this.migrator;
    if (!migrator || migrator.done) return [now];
    const { from, to } = migrator.placements;
    return [...new Set([from.strategy.shardIndexOf(channel), to.strategy.shardIndexOf(channel)])].filter((shard) => this.serves(shard));
  }

  status(): MigrationStatus | undefined {
    return this.migrator?.status();
  }

  /**
   * The fleet changed at run time: shards added to the layout (connected
   * as any shard), then, once every one is ready, either a migration over
   * timed phases or, without one, the new placement at once. All or
   * nothing: a shard not ready in time (or a close()) takes the added
   * shards out again and leaves the placement and migration in force as
   * they were (ReconfigureError, ClientClosedError). Calls run one after
   * the other, each checked against what the one before left. Refused
   * while a migration runs.
   */
  reconfigure(input: unknown): Promise<void> {
    const turn = this.reconfigures.then(() => this.reconfigureNow(input));
    this.reconfigures = turn.catch(() => undefined);
    return turn;
  }

  private async reconfigureNow(input: unknown): Promise<void> {
    const executor = this.executor;
    // A call queued behind one that close() ended.
    if (executor.closed) throw new ClientClosedError();
    const running = this.migrator;
    if (running && !running.done) {
      throw new MigrationRefusedError("reconfigure", running.phase(), "a migration is running; reconfigure once it is done", running.clock.doneAt);
    }
    const problems: string[] = [];
    if (executor.options.sentinels.length) problems.push("reconfigure() is for fixed masters: Sentinel-managed shards are configured when the client is made");
    const released = (i: number) => !this.serves(i);
    const context = { shards: this.union, released, current: this.current, commandTimeoutMs: executor.options.commandTimeoutMs, now: this.now() };
    const resolved = resolveReconfigure(input, context, problems);
    if (problems.length || !resolved) throw new ConfigError(problems);
    // Shards appended, and released ones named again (same name, same nodes: the same shard, back at its index).
    const added = resolved.union.filter((s) => s.index >= this.union.length || (released(s.index) && resolved.to.shards.includes(s.index)));
    // Indexes are given for good, taken out again or not: no other shard ever gets them.
    this.union = resolved.union;
    if (added.length) {
      // Pending until committed below: connected, but nothing routes or fans out to them (commands keep the placement in force).
      const layout = executor.fleet.holder.current;
      const shards = resolved.union.map((s) => (added.includes(s) ? { master: s.master, replicas: s.replicas, pending: true as const } : layout.shards[s.index]!));
      executor.fleet.holder.replace({ shards, names: resolved.union.map((s) => s.name) }, "reconfigure()");
      try {
        await addedShardsReady(executor, added, this.closed);
        const startAt = resolved.migration?.startAt;
        if (startAt !== undefined && startAt <= this.now()) throw startedMeanwhile(startAt, this.now());
      } catch (error) {
        // Not in this.current: released again, as removed shards are (their subscriber connections closed too).
        this.release();
        this.onPlacement?.();
        throw error;
      }
      const ready = executor.fleet.holder.current.shards.map((s) => (s.pending ? { master: s.master, replicas: s.replicas } : s));
      executor.fleet.holder.replace({ shards: ready }, "reconfigure(): shards added ready");
    }
    this.current = resolved.to;
    this.moved = true;
    if (resolved.migration) this.migrator = new Migrator(resolved.migration, resolved.union, executor.options.commandTimeoutMs, this, this.now);
    else {
      this.migrator = undefined;
      this.use(new Placement(resolved.to, resolved.union, this.keyless));
      this.flushNear();
      this.release();
    }
    this.timed();
    this.onPlacement?.();
  }

  runOn(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions): Promise<unknown> {
    return this.executor.runOn(shard, spec, cmd, call);
  }

  /** The migration's own scripts: a node's ACL refusing them is reported once (acl:refused) and fails typed (NoPermissionError). */
  runScript(script: Script, args: unknown[], encoding: Encoding, call: CallOptions, shard: number): Promise<unknown> {
    return this.executor.runScriptAsGiven(script, args, encoding, call, shard).catch((error: unknown) => {
      const node = isNoPermission(error) ? this.executor.master(shard) : undefined;
      throw node ? this.executor.fleet.refusals.asError(node, "migrationScripts", error) : error;
    });
  }

  shardName(index: number): string {
    return this.executor.shardName(index);
  }

  get keyless(): string | undefined {
    return this.executor.options.keyless;
  }

  use(placement: Placement): void {
    if (this.inForce && !samePlacement(this.inForce, placement)) this.epoch++;
    this.inForce = placement;
    this.executor.strategy = placement.strategy;
    this.executor.router = placement.router;
  }

  phaseChanged(phase: Phase, previous: Phase): void {
    // Near-cache entries are tracked on the owner they were read from: a key's new owner does not invalidate them.
    this.flushNear();
    if (phase === "done") queueMicrotask(() => (this.release(), this.onPlacement?.()));
    // Noticed inside a command's dispatch: listeners run after it, and cannot fail it. Every phase passed, in order.
    const onPhase = this.onPhase;
    if (onPhase) queueMicrotask(() => phaseSteps(phase, previous).forEach(([entered, left]) => onPhase(entered, left)));
  }

  /** Whether the shard at this index serves (is in the layout, neither released nor pending). */
  private serves(index: number): boolean {
    return serving(this.executor.fleet.holder.current.shards[index]);
  }

  /**
   * The shards the fleet in force no longer has, once nothing of this client
   * routes to them (a migration done, a plain switch), wherever they are in
   * the list: their connections, pools and breakers closed. Each keeps its
   * index (a shard's place in every table), marked released: never routed
   * to, never given to another shard, its handles failing typed.
   */
  private release(): void {
    const executor = this.executor;
    if (executor.closed || executor.options.sentinels.length || executor.options.cluster) return;
    // A migration started since (reconfigure() right after `done`) still reads its old fleet's shards.
    const running = this.migrator && !this.migrator.done ? this.migrator.placements.from.shards : [];
    const keep = new Set([...this.current.shards, ...running]);
    const layout = executor.fleet.holder.current;
    if (layout.shards.every((s, i) => keep.has(i) || s.released)) return;
    executor.fleet.holder.replace({ shards: layout.shards.map((s, i) => (keep.has(i) ? s : RELEASED)) }, "removed shards released");
  }

  /** A timer for the migration in force (the one before stopped): an idle client changes phase on time too. */
  private timed(): void {
    this.timer?.stop();
    const migrator = this.migrator;
    this.timer = migrator && !this.executor.closed ? new PhaseTimer(migrator.clock, this.now, () => this.executor.closed || migrator.phase()) : undefined;
    this.timer?.start();
  }

  private flushNear(): void {
    const near = this.executor.fleet.near;
    if (near) this.executor.shardNames.forEach((_, i) => near.cache.flush(i, "topology", near.cache.tracking(i)));
  }
}

/** Whether two placements put every key on the same shard: the same shards in the same order, sharded alike. */
function samePlacement(a: { shards: readonly number[]; sharding: unknown }, b: { shards: readonly number[]; sharding: unknown }): boolean {
  if (a.shards.length !== b.shards.length || a.shards.some((s, i) => s !== b.shards[i])) return false;
  return a.sharding === b.sharding || JSON.stringify(a.sharding) === JSON.stringify(b.sharding);
}
