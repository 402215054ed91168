/**
 * Talks to the sentinels: finds each named master and its healthy replicas
 * (rotating through sentinels when one fails, learning new ones from
 * SENTINEL SENTINELS), and watches their pub/sub for failovers and node
 * state changes. Every address a sentinel reports passes the AddressPolicy.
 */
import { Redis, type RedisOptions } from "ioredis";
import { formatAddress } from "../config/address.js";
import type { ResolvedShard } from "../config/shards.js";
import type { Address, SentinelConnectionOptions } from "../config/types.js";
import { AuthenticationError, SentinelError } from "../errors.js";
import { isAuthFailure, sanitizeError } from "../connection/sanitize.js";
import { authArguments, credentialsOnConnect, fetchCredentials } from "../connection/credentials.js";
import { refusedUser } from "../connection/handshake.js";
import { tlsFor } from "../connection/connectionOptions.js";
import { isNoPermission, type AclFeatureName } from "../connection/aclRefusals.js";
import type { AddressPolicy } from "../topology/addressPolicy.js";
import type { Layout, LayoutDraft, ShardNodes } from "../topology/Topology.js";
import type { LayoutSource } from "../topology/TopologyHolder.js";
import { untraced } from "../connection/untraced.js";
import { lastingStreamErrors } from "../connection/streamErrors.js";

export interface SentinelEvents {
  /** +switch-master: the named master moved to `address` (already admitted by the policy). */
  switched(masterName: string, address: Address): void;
  /** Another watched event about one of our masters: worth re-reading the topology. */
  changed(channel: string, masterName: string): void;
  /** The watch connection is (re)established: events may have been missed meanwhile. */
  watching(sentinel: string): void;
  error(sentinel: string, error: Error): void;
  /** A sentinel reported an address (a node's or a peer sentinel's) the policy refused. */
  refused(masterName: string, reported: string, reason: string): void;
  /** A sentinel's ACL refused a query discovery can do without: it goes on without it. */
  aclRefused?(masterName: string, sentinel: string, feature: AclFeatureName, error: Error): void;
}

/** The events that say a master or replica changed (from Sentinel's documented pub/sub messages). */
const CHANNELS = ["+switch-master", "+sdown", "-sdown", "+odown", "-odown", "+slave", "+reboot", "+failover-end"];
/** Replica flags that make it unfit to list. */
const UNFIT = ["s_down", "o_down", "disconnected"];
/** Master flags that mean a failover may be under way: the picture is in flux. */
const IN_FLUX = ["s_down", "o_down", "failover_in_progress"];

export class SentinelClient implements LayoutSource {
  private readonly sentinels: Address[];
  private cursor = 0;
  /** One connection per sentinel, shared by concurrent queries (the promise, so a connect in progress is shared too). */
  private readonly connections = new Map<string, Promise<Redis>>();
  private watcher: Redis | undefined;
  private watcherKey = "";
  private watchTurn = 0;
  private closed = false;
  private readonly masterNames: Set<string>;
  /** Peer sentinels already reported as refused (they come back on every refresh). */
  private readonly refusedPeers = new Set<string>();
  /** sentinelOptions.reauthenticateEveryMs: open connections send AUTH with fresh credentials. */
  private readonly reauth: NodeJS.Timeout | undefined;

  constructor(
    seeds: readonly Address[],
    private readonly options: Readonly<SentinelConnectionOptions> & { connectTimeout: number; commandTimeoutMs: number },
    private readonly shards: readonly ResolvedShard[],
    private readonly policy: AddressPolicy,
    private readonly events: SentinelEvents,
  ) {
    this.sentinels = [...seeds];
    this.masterNames = new Set(shards.flatMap((s) => (s.masterName ? [s.masterName] : [])));
    if (options.credentials && options.reauthenticateEveryMs) {
      this.reauth = setInterval(() => void this.reauthenticate(), options.reauthenticateEveryMs);
      this.reauth.unref();
    }
  }

  /** The sentinel asked first now (the last one that answered): named in errors about discovery. */
  get current(): string {
    return formatAddress(this.sentinels[this.cursor % this.sentinels.length]!);
  }

  /** Every sentinel known now: the configured ones and those learned since. */
  get known(): readonly string[] {
    return this.sentinels.map(formatAddress);
  }

  async observe(_current: Layout): Promise<LayoutDraft> {
    const shards = await Promise.all(
      this.shards.map(async (shard) => {
        if (!shard.masterName) return undefined;
        try {
          return await this.discover(shard.masterName);
        } catch (error) {
          // A sentinel that failed was reported by query(); a refused address as refused. What is left is an answer, from this one.
          if (error instanceof SentinelError && error.reported) return undefined;
          this.events.error(this.current, error as Error);
          return undefined;
        }
      }),
    );
    return { shards };
  }

  /**
   * Master and fit replicas of one named master; undefined while its master
   * is down or being failed over. Mid-failover answers are half-updated (the
   * replica being promoted is no longer listed, the old master still is);
   * the layout keeps its last picture until +switch-master settles it.
   */
  async discover(masterName: string): Promise<ShardNodes | undefined> {
    const state = pairs(((await this.optional(masterName, "sentinelMaster", ["MASTER", masterName])) ?? []) as unknown[]);
    if (String(state.flags ?? "").split(",").some((flag) => IN_FLUX.includes(flag))) return undefined;
    const reply = (await this.query(["GET-MASTER-ADDR-BY-NAME", masterName])) as [string, string | number] | null;
    if (!reply) throw new SentinelError(`no sentinel knows a master named '${masterName}'`);
    const master = this.admit(masterName, { host: String(reply[0]), port: Number(reply[1]) });
    if (!master) throw new SentinelError(`the master address sentinels gave for '${masterName}' was refused`, undefined, true);
    const listed = ((await this.optional(masterName, "sentinelReplicas", ["REPLICAS", masterName])) ?? []) as unknown[][];
    const replicas: Address[] = [];
    for (const fields of listed) {
      const replica = pairs(fields);
      const flags = String(replica.flags ?? "").split(",");
      if (flags.some((f) => UNFIT.includes(f))) continue;
      const admitted = this.admit(masterName, { host: String(replica.ip), port: Number(replica.port) });
      if (admitted) replicas.push(admitted);
    }
    await this.learnPeers(masterName);
    return { master, replicas };
  }

  /** A query discovery can do without: undefined (reported once) when the sentinel's ACL refuses it. */
  private async optional(masterName: string, feature: AclFeatureName, args: string[]): Promise<unknown> {
    try {
      return await this.query(args);
    } catch (error) {
      if (!isNoPermission(error)) throw error;
      this.events.aclRefused?.(masterName, this.current, feature, error);
      return undefined;
    }
  }

  /** Subscribes to one sentinel's events; moves to the next sentinel if that one goes away. */
  watch(): void {
    if (this.closed || this.watcher) return;
    const sentinel = this.sentinels[this.watchTurn++ % this.sentinels.length]!;
    const key = formatAddress(sentinel);
    // Sentinel traffic is shardis's own: kept off ioredis's tracing channel (open()).
    const redis = this.open({
      ...this.base(sentinel),
      lazyConnect: true,
      enableOfflineQueue: true,
      autoResubscribe: true,
      retryStrategy: (attempt) => (attempt > 2 ? null : 100 * attempt),
    });
    redis.on("error", (error) => this.events.error(key, this.failure(key, error)));
    redis.on("ready", () => this.events.watching(key));
    redis.on("message", (channel: string, message: string) => this.onEvent(channel, message));
    redis.on("end", () => {
      if (this.watcher === redis) this.watcher = undefined;
      if (!this.closed) setTimeout(() => this.watch(), 100).unref();
    });
    // Subscribed once connected (a credentials provider may be asked first); ioredis subscribes again after reconnects.
    redis.once("ready", () => void redis.subscribe(...CHANNELS).catch(() => undefined));
    redis.connect().catch(() => undefined);
    this.watcher = redis;
    this.watcherKey = key;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.reauth);
    this.watcher?.disconnect();
    this.watcher = undefined;
    for (const pending of this.connections.values()) void pending.then((redis) => redis.disconnect(), () => undefined);
    this.connections.clear();
  }

  private onEvent(channel: string, message: string): void {
    const words = message.split(" ");
    if (channel === "+switch-master") {
      const [name, , , host, port] = words;
      if (!name || !this.masterNames.has(name)) return;
      const address = this.admit(name, { host: String(host), port: Number(port) });
      if (address) this.events.switched(name, address);
      return;
    }
    // "<type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>", or "master <name> <ip> <port>".
    const at = words.indexOf("@");
    const name = at >= 0 ? words[at + 1] : words[0] === "master" ? words[1] : undefined;
    if (name && this.masterNames.has(name)) this.events.changed(channel, name);
  }

  /** Asks the sentinels in turn, starting with the last one that answered. */
  private async query(args: string[]): Promise<unknown> {
    let lastError: Error | undefined;
    for (let i = 0; i < this.sentinels.length; i++) {
      const index = (this.cursor + i) % this.sentinels.length;
      const sentinel = this.sentinels[index]!;
      const key = formatAddress(sentinel);
      try {
        const connection = await this.connection(sentinel);
        const reply = await connection.call("SENTINEL", ...args);
        this.cursor = index;
        return reply;
      } catch (error) {
        // Closing is not a sentinel's fault: nothing to report, nobody to ask next.
        if (this.closed) throw new SentinelError("the sentinel client is closed", undefined, true);
        // An ACL's answer, not a failing sentinel: the connection is fine, and the caller decides what to do without it.
        if (isNoPermission(error)) throw error;
        lastError = this.failure(key, error);
        this.events.error(key, lastError);
        this.forget(key);
      }
    }
    throw new SentinelError(`no sentinel answered SENTINEL ${args[0]} (tried ${this.known.join(", ")})`, lastError, true);
  }

  private connection(sentinel: Address): Promise<Redis> {
    // A refresh still running when the client closes must not open a connection nobody will close.
    if (this.closed) return Promise.reject(new SentinelError("the sentinel client is closed", undefined, true));
    const key = formatAddress(sentinel);
    let pending = this.connections.get(key);
    if (!pending) {
      const redis = this.open({ ...this.base(sentinel), lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
      redis.on("error", () => undefined); // reported by query() when a command fails
      // A connection that ends is forgotten, so the next query makes a new one.
      redis.on("end", () => this.connections.get(key) === pending && this.connections.delete(key));
      pending = redis.connect().then(() => {
        // close() ran while this connection was being made: it cleared the map, so close it here.
        if (this.closed) redis.disconnect();
        return redis;
      });
      this.connections.set(key, pending);
    }
    return pending;
  }

  /** A connection to a sentinel (lazy): with sentinelOptions.credentials, the provider is asked before each connect. */
  /** A connection to a sentinel: shardis's own traffic, kept off ioredis's tracing channel (untraced.ts). */
  private open(options: RedisOptions): Redis {
    const redis = untraced(lastingStreamErrors(new Redis(options)));
    if (this.options.credentials) credentialsOnConnect(redis, this.options.credentials);
    return redis;
  }

  /** A sentinel's error, safe to report: refused credentials as an AuthenticationError naming the sentinel and the user. */
  private failure(key: string, error: unknown): Error {
    const safe = sanitizeError(error);
    return isAuthFailure(safe) ? new AuthenticationError("(sentinel)", key, refusedUser(error), safe.message) : safe;
  }

  /** One re-authentication round over the open sentinel connections (sentinelOptions.reauthenticateEveryMs). */
  private async reauthenticate(): Promise<void> {
    const queries = await Promise.all([...this.connections].map(([key, pending]) => pending.then((redis) => [key, redis] as const, () => undefined)));
    const open = [...queries, ...(this.watcher ? [[this.watcherKey, this.watcher] as const] : [])].filter((c) => c !== undefined && c[1].status === "ready");
    if (open.length === 0 || this.closed) return;
    let credentials;
    try {
      credentials = await fetchCredentials(this.options.credentials!);
    } catch (error) {
      this.events.error(this.current, sanitizeError(error));
      return;
    }
    const user = credentials.username ?? "default";
    await Promise.all(
      open.map(async (connection) => {
        const [key, redis] = connection!;
        try {
          await redis.call("AUTH", ...authArguments(credentials));
        } catch (error) {
          const safe = sanitizeError(error);
          if (isAuthFailure(safe) && !this.closed) this.events.error(key, new AuthenticationError("(sentinel)", key, user, safe.message));
        }
      }),
    );
  }

  private forget(key: string): void {
    const pending = this.connections.get(key);
    this.connections.delete(key);
    void pending?.then((redis) => redis.disconnect(), () => undefined);
  }

  private base(sentinel: Address): RedisOptions {
    const { username, password, tls, connectTimeout, commandTimeoutMs } = this.options;
    return {
      host: sentinel.host,
      port: sentinel.port,
      username,
      password,
      tls: tls ? tlsFor(sentinel, tls === true ? {} : tls) : undefined,
      connectTimeout,
      commandTimeout: commandTimeoutMs,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      showFriendlyErrorStack: false,
    } as RedisOptions;
  }

  private async learnPeers(masterName: string): Promise<void> {
    const peers = ((await this.optional(masterName, "sentinelPeers", ["SENTINELS", masterName]).catch(() => [])) ?? []) as unknown[][];
    for (const fields of peers) {
      const peer = pairs(fields);
      const reported = { host: String(peer.ip), port: Number(peer.port) };
      const admitted = this.policy.admit(reported);
      if (!admitted.ok) {
        // Learning a sentinel outside allowedAddresses would silently do nothing: say so, once per address.
        const key = formatAddress(reported);
        if (!this.refusedPeers.has(key)) {
          this.refusedPeers.add(key);
          this.events.refused(masterName, key, `sentinel peer: ${admitted.reason}`);
        }
        continue;
      }
      const key = formatAddress(admitted.address);
      if (!this.known.includes(key)) this.sentinels.push(admitted.address);
    }
  }

  private admit(masterName: string, reported: Address): Address | undefined {
    const admission = this.policy.admit(reported);
    if (admission.ok) return admission.address;
    this.events.refused(masterName, formatAddress(reported), admission.reason);
    return undefined;
  }
}

/** Sentinel's [k1, v1, k2, v2, ...] replies as an object. */
function pairs(fields: unknown[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) object[String(fields[i])] = fields[i + 1];
  return object;
}
