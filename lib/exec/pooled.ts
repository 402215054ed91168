/**
 * Commands on a pooled (dedicated) connection of a shard's master: blocking
 * ones, so they never hold the shared connection, and writes under a write
 * concern (the write, then WAIT, on one connection). The wait for a
 * connection counts against the call's deadline. Over a cluster a pooled
 * connection does not follow MOVED or ASK itself: the command did not run,
 * so it is sent again here, within the same deadline.
 */
import type { CallOptions } from "../config/callOptions.js";
import type { ResolvedOptions } from "../config/resolve.js";
import { internalCommand, type ShardisCommand } from "../commands/command.js";
import { ClientClosedError, SlotMovedError, WriteConcernError } from "../errors.js";
import { INTERNAL, type NodeClient } from "../connection/NodeClient.js";
import { blockingTimeoutMs } from "../routing/blocking.js";
import { blockingNetMs, nullOnNet } from "./blockingNet.js";
import type { CommandSpec } from "../routing/commandSpec.js";
import type { Args, Router } from "../routing/plan.js";
import { UNASSIGNED } from "../topology/Topology.js";
import { within } from "../util/within.js";
import type { Fleet } from "./Fleet.js";


/** A demoted master's answer to a write: the command did not run. */
function isReadOnlyReply(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError" && error.message.startsWith("READONLY");
}

/** Times a command on a pooled connection is sent again after MOVED/ASK or READONLY (as a command's redirections). */
const MAX_POOLED_HOPS = 16;

/** What the pooled paths need of the executor. */
export interface PooledHost {
  readonly fleet: Fleet;
  readonly options: ResolvedOptions;
  readonly defaults: CallOptions;
  /** The client is closing: nothing new is borrowed. */
  readonly closed: boolean;
  /** Routing now (over a cluster, rebuilt with each slot map). */
  readonly router: Router;
  shardName(index: number): string;
  /** Waits, within budgetMs, for the shard's master to be known; resolves what is left (TimeoutError otherwise). */
  placed(shard: number, budgetMs: number): Promise<number>;
}

export class PooledRuns {
  constructor(private readonly host: PooledHost) {}

  /**
   * A command on a pooled connection: a blocking one (deadline: its own
   * timeout plus the call's), or a write with a write concern. The wait for
   * the connection counts against the call's deadline. Over a cluster such a
   * connection does not follow MOVED or ASK (SlotMovedError): the command
   * did not run, so it goes again, a bounded number of times and within the
   * same deadline, to the slot's owner once the map is re-read (MOVED), or to
   * the importing node with ASKING in front (ASK). `asking`: this is that
   * second send.
   */
  run(shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number, hops = 0, asking = false): Promise<unknown> {
    const deadline = performance.now() + call.timeoutMs;
    const sent =
      call.writeConcern && !spec.readOnly
        ? this.withConcern(shard, cmd, call, flags, asking)
        : this.withPooled(
            shard,
            (pooled, leftMs) => {
              // Both queued now, back to back on this connection: ASKING applies to the command.
              if (asking) pooled.send(internalCommand("asking"), leftMs, INTERNAL).catch(() => undefined);
              const blocksMs = blockingTimeoutMs(spec, cmd.args as Args) ?? 0;
              const netMs = blockingNetMs(spec.name, blocksMs, this.host.options.redis);
              return netMs === undefined ? pooled.send(cmd, blocksMs + leftMs, flags) : pooled.send(cmd, netMs, flags).catch(nullOnNet);
            },
            call.timeoutMs,
          );
    return sent.catch((error: unknown) => {
      if (isReadOnlyReply(error)) return this.demoted(error, shard, spec, cmd, call, flags, hops, deadline);
      if (this.host.options.cluster) return this.movedElsewhere(error, spec, cmd, call, flags, hops, deadline);
      throw error;
    });
  }

  /**
   * READONLY: the shard's master was demoted and the command did not run.
   * Once the topology is re-read it goes again, on a pooled connection of the
   * master the topology names now (never on a shared one), within the same
   * deadline, a bounded number of times.
   */
  private async demoted(error: Error, shard: number, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number, hops: number, deadline: number): Promise<unknown> {
    if (hops >= MAX_POOLED_HOPS || this.host.closed) throw error;
    // The connection's hook asked for the re-read as the reply arrived: join it, bounded by the deadline.
    await within(this.host.fleet.holder.refresh("READONLY on a pooled connection", true), deadline - performance.now());
    if (this.host.closed) throw new ClientClosedError();
    const left = deadline - performance.now();
    const master = this.host.fleet.registry.master(shard);
    if (!master || left <= 0) throw error;
    if (!master.admits) throw master.circuitOpenError();
    return this.run(shard, spec, cmd.clone(), { ...call, timeoutMs: left }, flags, hops + 1, false);
  }

  private async movedElsewhere(error: unknown, spec: CommandSpec, cmd: ShardisCommand, call: CallOptions, flags: number, hops: number, deadline: number): Promise<unknown> {
    if (!(error instanceof SlotMovedError) || hops >= MAX_POOLED_HOPS || this.host.closed) throw error;
    const again = cmd.clone();
    const left = () => ({ ...call, timeoutMs: deadline - performance.now() });
    if (error.redirect === "ASK") {
      // The slot is migrating and the key is on the importing node already: there, for this command only.
      const found = this.host.fleet.shardOfNode("ask", error.owner);
      await within(found, deadline - performance.now());
      if (left().timeoutMs <= 0) throw error;
      return this.run(await found, spec, again, left(), flags, hops + 1, true);
    }
    await within(this.host.fleet.holder.refresh("MOVED on a pooled connection", true), deadline - performance.now());
    if (this.host.closed) throw new ClientClosedError();
    const route = this.host.router.route(spec, again.args as Args);
    if (typeof route !== "number" || route === UNASSIGNED || left().timeoutMs <= 0) throw error;
    const node = this.host.fleet.registry.master(route);
    if (!node) throw error;
    if (!node.admits) throw node.circuitOpenError();
    return this.run(route, spec, again, left(), flags, hops + 1, false);
  }

  /**
   * Borrows a dedicated connection to the shard's master for fn, and always
   * returns it. `budgetMs`: the caller's deadline, which the wait for the
   * connection counts against; fn gets what is left of it.
   */
  async withPooled<T>(shard: number, fn: (node: NodeClient, leftMs: number) => Promise<T>, budgetMs = Infinity): Promise<T> {
    if (this.host.closed) throw new ClientClosedError();
    const started = performance.now();
    const pool = this.host.fleet.registry.pool(shard);
    if (!pool) {
      const waitMs = Math.min(budgetMs, this.host.defaults.timeoutMs);
      const left = await this.host.placed(shard, waitMs);
      return this.withPooled(shard, fn, budgetMs === Infinity ? Infinity : budgetMs - (waitMs - left));
    }
    // The node refuses the handshake (credentials, SELECT): a pooled connection would be refused too, and the pool
    // would open one after another until its acquire timed out. The shared connection keeps asking, with backoff.
    const refusal = this.host.fleet.registry.master(shard)?.handshakeRefusal;
    if (refusal) throw refusal;
    const node = await pool.acquire(budgetMs);
    try {
      return await fn(node, budgetMs - (performance.now() - started));
    } finally {
      await pool.release(node);
    }
  }

  /**
   * The write, then WAIT on the same dedicated connection; fewer replicas
   * than asked is a WriteConcernError. So is a WAIT that failed after the
   * write succeeded: the caller must learn the write was applied.
   * `asking`: ASKING first (ASK).
   */
  private withConcern(shard: number, cmd: ShardisCommand, call: CallOptions, flags: number, asking: boolean): Promise<unknown> {
    const { replicas, timeoutMs } = call.writeConcern!;
    return this.withPooled(shard, async (node, leftMs) => {
      if (asking) node.send(internalCommand("asking"), leftMs, INTERNAL).catch(() => undefined);
      const written = node.send(cmd, leftMs, flags);
      const waited = node.send(internalCommand("wait", [replicas, timeoutMs]), leftMs + timeoutMs);
      const [reply, acked] = await Promise.allSettled([written, waited]);
      if (reply.status === "rejected") throw reply.reason;
      if (acked.status === "rejected") {
        // WAIT failed after the write was applied (refused by the ACL, connection lost, deadline): typed, with the write's reply.
        // An ACL refusal is reported once per node, and the caller's cause names the fix.
        const cause = this.host.fleet.refusals.asError(node, "writeConcern", acked.reason);
        throw new WriteConcernError(node.shard, node.id, replicas, 0, timeoutMs, reply.value, cause);
      }
      if (Number(acked.value) < replicas) {
        throw new WriteConcernError(node.shard, node.id, replicas, Number(acked.value), timeoutMs, reply.value);
      }
      return reply.value;
    }, call.timeoutMs);
  }
}
