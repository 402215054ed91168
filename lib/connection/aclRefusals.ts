/**
 * Commands shardis sends on its own (not the caller's) that a node's ACL
 * may refuse with NOPERM, what each feature does without its command, and
 * the one place that reports a refusal: once per node and feature, as a
 * NoPermissionError naming the command and the ACL rule that restores it.
 * A refusal never stops a node: its feature degrades (see FEATURES) and the
 * node keeps serving by the role the configuration gives it.
 */
import { NoPermissionError } from "../errors.js";

/** A feature that rests on a command of shardis's own, and what goes without it. */
export interface AclFeature {
  /** The command as Redis's ACL names it: ROLE, INFO, CLIENT|TRACKING, ... */
  readonly command: string;
  /** What `ACL SETUSER <user>` needs to restore it. */
  readonly grant: string;
  /** What happens on that node while it is refused. */
  readonly degraded: string;
  /** Sent to the sentinels (as sentinelOptions' user), not to the data nodes. */
  readonly sentinel?: boolean;
}

export const ACL_FEATURES = {
  roleCheck: {
    command: "ROLE",
    grant: "+role",
    degraded:
      "the node's role is not checked on connect; it serves as the role the configuration, Sentinel or the cluster map gives it (a demoted master is still found by READONLY replies, Sentinel's events and the map)",
  },
  replicaHealth: {
    command: "INFO",
    grant: "+info",
    degraded:
      "replication offsets and sync state cannot be read from this node: a replica of unknown lag is not read from (replicaPreferred reads go to the master)",
  },
  serverStats: {
    command: "INFO",
    grant: "+info",
    degraded: "the server_* metrics are not read from this node",
  },
  nearCache: {
    command: "CLIENT|TRACKING",
    grant: "+client|tracking",
    degraded: "the near cache does not cache this shard's keys: they are read from Redis",
  },
  replicaReads: {
    command: "READONLY",
    grant: "+readonly",
    degraded: "this cluster replica would answer reads with MOVED: no read goes to it",
  },
  writeConcern: {
    command: "WAIT",
    grant: "+wait",
    degraded: "writes with a writeConcern are applied but cannot be confirmed: they reject with WriteConcernError",
  },
  transactions: {
    command: "MULTI",
    grant: "+multi",
    degraded:
      "MULTI/EXEC blocks on this node fail with this error before anything is sent; the block that met the refusal first had its commands run by Redis outside a transaction (Redis runs the commands that follow a refused MULTI)",
  },
  cacheScripts: {
    command: "EVAL",
    grant: "+eval +evalsha",
    degraded: "client.cache() cannot take its rebuild lock or store values on this node: every getOrSet that misses is answered by its loader, and nothing is cached",
  },
  migrationScripts: {
    command: "EVAL",
    grant: "+@scripting",
    degraded:
      "a live migration's own scripts (a warm read's look at the new owner, copies, invalidations of the other owner) cannot run on this node: commands on keys moving to or from it fail with this error (writes: MigrationWriteError, with it as the cause) until it is granted",
  },
  sentinelMaster: {
    command: "SENTINEL|MASTER",
    grant: "+sentinel|master",
    degraded: "a master being failed over is not seen as in flux: a half-updated answer may be followed until +switch-master settles it",
    sentinel: true,
  },
  sentinelReplicas: {
    command: "SENTINEL|REPLICAS",
    grant: "+sentinel|replicas",
    degraded: "the shard's replicas are not known: its reads go to the master",
    sentinel: true,
  },
  sentinelPeers: {
    command: "SENTINEL|SENTINELS",
    grant: "+sentinel|sentinels",
    degraded: "other sentinels are not learned: only the configured ones are asked",
    sentinel: true,
  },
} as const satisfies Record<string, AclFeature>;

export type AclFeatureName = keyof typeof ACL_FEATURES;

/** Whether a command failed because the node's ACL refused it (a NOPERM reply). */
export function isNoPermission(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError" && error.message.startsWith("NOPERM");
}

/** Where a node is named in a report. */
export interface RefusedAt {
  readonly shard: string;
  /** "host:port" */
  readonly id: string;
}

export class AclRefusals {
  /** "host:port feature" of refusals already reported (and not since lifted). */
  private readonly reported = new Set<string>();

  /**
   * @param user the ACL user the client connects as, for the fix it names ("default" without a username)
   * @param report where a new refusal goes (the client's `acl:refused` event)
   * @param sentinelUser the user it connects to sentinels as
   */
  constructor(
    private readonly user: string,
    private readonly report: (error: NoPermissionError) => void,
    private readonly sentinelUser = "default",
  ) {}

  /**
   * A command of the feature failed with `error`. A NOPERM is reported (the
   * first time on this node) and true is returned: the caller degrades the
   * feature. Anything else returns false and is the caller's to handle.
   */
  refused(node: RefusedAt, feature: AclFeatureName, error: unknown): boolean {
    if (!isNoPermission(error)) return false;
    const key = `${node.id} ${feature}`;
    if (this.reported.has(key)) return true;
    this.reported.add(key);
    this.report(this.error(node, feature, error));
    return true;
  }

  /**
   * What a caller whose command was refused gets: the NoPermissionError
   * (the refusal reported once per node, as refused() does), or the error
   * itself when it is no ACL refusal.
   */
  asError(node: RefusedAt, feature: AclFeatureName, error: unknown): unknown {
    return this.refused(node, feature, error) ? this.error(node, feature, error) : error;
  }

  /** The feature's command ran on the node: a later refusal (the ACL changed again) is reported anew. */
  permitted(node: RefusedAt, feature: AclFeatureName): void {
    if (this.reported.size) this.reported.delete(`${node.id} ${feature}`);
  }

  /** Whether the feature is refused on the node now (as last seen). */
  isRefused(node: RefusedAt, feature: AclFeatureName): boolean {
    return this.reported.size > 0 && this.reported.has(`${node.id} ${feature}`);
  }

  /** The error a refusal is reported as (also what a caller gets where the feature was theirs, as WAIT's). */
  error(node: RefusedAt, feature: AclFeatureName, cause?: unknown): NoPermissionError {
    const known: AclFeature = ACL_FEATURES[feature];
    const user = known.sentinel ? this.sentinelUser : this.user;
    return new NoPermissionError(node.shard, node.id, known.command.replace("|", " "), known.degraded, `ACL SETUSER ${user} ${known.grant}`, cause);
  }
}
