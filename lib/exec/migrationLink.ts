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
import { ConfigError } from "../errors.js";
import { MigrationRefusedError } from "../errors/migration.js";
import type { Phase } from "../migration/clock.js";
import { Migrator, type MigrationHost, type MigrationStatus } from "../migration/Migrator.js";
import { Placement } from "../migration/placement.js";
import { keysOf } from "../migration/route.js";
import { commandSpec, type CommandSpec } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";
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
  /** Called on each phase change. */
  onPhase: ((phase: Phase, previous: Phase) => void) | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly now: () => number = Date.now,
  ) {
    const options = executor.options;
    this.union = options.shards;
    this.current = options.migration?.to ?? { shards: options.shards.map((_, i) => i), sharding: options.sharding };
    if (options.migration) this.migrator = new Migrator(options.migration, options.shards, options.commandTimeoutMs, this, now);
    this.moved = options.migration !== undefined;
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
  script(script: Script, evalshaArgs: Args): { shard: number; after: (reply: unknown) => Promise<unknown> } | undefined {
    const migrator = this.migrator;
    if (!migrator) return undefined;
    const keys = keysOf(commandSpec(script.evalshaCommand), evalshaArgs);
    return keys.length ? migrator.authoritative(script.name, keys, script.readOnly) : undefined;
  }

  /** Refuses a transaction or dedicated connection on a moving key from dual to switch (MigrationRefusedError). */
  refuseMoving(name: string, keys: ReadonlyArray<string | Buffer>, reason: string): void {
    this.migrator?.refuseMoving(name, keys, reason);
  }

  /**
   * The keys a SCAN of `shard` found, less those it does not own in the
   * placement in force (a moving key's copy on its new owner, what a
   * migration left on old owners): each key is scanned once.
   */
  scanned<K extends string | Buffer>(shard: number, keys: K[]): K[] {
    if (!this.moved) return keys;
    this.tick();
    const strategy = this.executor.strategy;
    return keys.filter((key) => strategy.shardIndexOf(key) === shard);
  }

  status(): MigrationStatus | undefined {
    return this.migrator?.status();
  }

  /**
   * The fleet changed at run time: shards added to the layout (connected
   * as any shard), then either a migration over timed phases or, without
   * one, the new placement at once. Refused while a migration runs.
   */
  async reconfigure(input: unknown): Promise<void> {
    const executor = this.executor;
    const running = this.migrator;
    if (running && !running.done) {
      throw new MigrationRefusedError("reconfigure", running.phase(), "a migration is running; reconfigure once it is done", running.clock.doneAt);
    }
    const problems: string[] = [];
    if (executor.options.sentinels.length) problems.push("reconfigure() is for fixed masters: Sentinel-managed shards are configured when the client is made");
    const context = { shards: this.union, current: this.current, commandTimeoutMs: executor.options.commandTimeoutMs, now: this.now() };
    const resolved = resolveReconfigure(input, context, problems);
    if (problems.length || !resolved) throw new ConfigError(problems);
    const added = resolved.union.slice(this.union.length);
    if (added.length) {
      const holder = executor.fleet.holder;
      const layout = holder.current;
      holder.replace(
        { shards: [...layout.shards, ...added.map((s) => ({ master: s.master, replicas: s.replicas }))], names: [...layout.names, ...added.map((s) => s.name)] },
        "reconfigure()",
      );
    }
    this.union = resolved.union;
    this.current = resolved.to;
    this.moved = true;
    if (resolved.migration) this.migrator = new Migrator(resolved.migration, resolved.union, executor.options.commandTimeoutMs, this, this.now);
    else {
      this.migrator = undefined;
      this.use(new Placement(resolved.to, resolved.union));
      this.flushNear();
    }
    await Promise.all(added.map(async (s) => (await executor.masterWhenPlaced(s.index)).whenReady(executor.defaults.timeoutMs)));
  }

  runOn(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions): Promise<unknown> {
    return this.executor.runOn(shard, spec, cmd, call);
  }

  runScript(script: Script, args: unknown[], encoding: Encoding, call: CallOptions, shard: number): Promise<unknown> {
    return this.executor.runScriptAsGiven(script, args, encoding, call, shard);
  }

  shardName(index: number): string {
    return this.executor.shardName(index);
  }

  use(placement: Placement): void {
    this.executor.strategy = placement.strategy;
    this.executor.router = placement.router;
  }

  phaseChanged(phase: Phase, previous: Phase): void {
    // Near-cache entries are tracked on the owner they were read from: a key's new owner does not invalidate them.
    this.flushNear();
    // Noticed inside a command's dispatch: listeners run after it, and cannot fail it.
    const onPhase = this.onPhase;
    if (onPhase) queueMicrotask(() => onPhase(phase, previous));
  }

  private flushNear(): void {
    const near = this.executor.fleet.near;
    if (near) this.executor.shardNames.forEach((_, i) => near.cache.flush(i, "topology", near.cache.tracking(i)));
  }
}
