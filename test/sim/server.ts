/**
 * One simulated Redis node: its data, its role (master, or replica of
 * another node with replication that lags), the sessions of the
 * connections to it (MULTI/EXEC/WATCH, client tracking, the offset of their
 * last write for WAIT), and the faults the scheduler can give it: down
 * (connections refused), a restart that loses its data, refusals of
 * chosen commands (NOPERM, LOADING, OOM, ...), a master demoted.
 */
import type { Random } from "./random.js";
import { bulk, err, isDataCommand, runData, WRITES, type Args, type Reply } from "./commands.js";
import { Keyspace, type KeyState } from "./keyspace.js";
import { scriptBody, sha1 } from "./scripts.js";
import type { SimCluster } from "./cluster.js";

/** What a session pushes to its connection outside replies (client tracking). */
export interface SessionSink {
  /** Client tracking: these keys changed (null: all of them). */
  invalidate(keys: string[] | null): void;
  /** Pub/sub: a message on a channel this session subscribed to (`pattern`: through a pattern). */
  message(channel: string, message: string, pattern?: string): void;
}

export class Session {
  readonly id: number;
  multi: Array<{ name: string; args: Args }> | undefined;
  /** A command refused while queuing: EXEC answers EXECABORT. */
  multiFailed = false;
  readonly watched = new Map<string, string>();
  tracking = false;
  /** Replication offset of this session's last write (WAIT waits for it). */
  lastWrite = 0;
  closed = false;
  /** The node closes this connection once its pending reply is written (Redis's CLIENT_CLOSE_AFTER_REPLY). */
  closeAfterReply = false;
  /** Cluster: READONLY was sent (a replica serves its reads). */
  readonly = false;
  /** Cluster: ASKING was sent; holds for the next command, or until EXEC inside MULTI. */
  asking = false;
  /** Pub/sub: channels and patterns subscribed to on this connection. */
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();

  constructor(
    id: number,
    readonly sink: SessionSink,
  ) {
    this.id = id;
  }
}

interface Waiter {
  readonly session: Session;
  readonly replicas: number;
  readonly resolve: (reply: Reply) => void;
}

/** Commands a session runs outside MULTI even when one is open. */
const BLOCK_CONTROL = new Set(["exec", "discard", "multi", "watch", "quit"]);

/** Every change of every key on every node, with the fake time it happened. */
export interface Change {
  readonly at: number;
  readonly server: string;
  readonly key: string;
  readonly value: string | undefined;
}

export class SimServer {
  keys: Keyspace;
  role: "master" | "replica";
  /** The master this node replicates (a replica). */
  master: SimServer | undefined;
  readonly replicas = new Set<SimServer>();
  up = true;
  /** Commands answered with an error instead (name or "name|subcommand", lower case): ACL refusals, LOADING, ... */
  readonly refusals = new Map<string, string>();
  /** Extra one-way latency (ms) added to everything to and from this node: a slow network or a busy server. */
  extraLatencyMs = 0;
  /** Replication offset: writes applied (a master's own, a replica's from its master). */
  offset = 0;
  private sessionIds = 0;
  readonly sessions = new Set<Session>();
  /** Keys read by tracking sessions (default mode): invalidated once, on their next change. */
  private readonly readers = new Map<string, Set<Session>>();
  private readonly waiters = new Set<Waiter>();
  /** Replicas' applied offsets, as the master knows them. */
  private readonly acked = new Map<SimServer, number>();
  private readonly scripts = new Set<string>();
  /** The master's data was lost (restart): the next time it comes up, replicas resync. */
  restarts = 0;
  /** Set when the node is part of a Redis Cluster. */
  cluster: SimCluster | undefined;

  constructor(
    readonly address: string,
    role: "master" | "replica",
    private readonly random: Random,
    private readonly changes: Change[],
  ) {
    this.role = role;
    this.keys = this.newKeyspace();
  }

  private newKeyspace(): Keyspace {
    return new Keyspace((key, value) => this.changes.push({ at: Date.now(), server: this.address, key, value }));
  }

  /** Makes this node a replica of `master` with a full copy of its data now (a full sync). */
  replicate(master: SimServer): void {
    this.unblockWaiters();
    this.master?.replicas.delete(this);
    this.syncs++;
    this.role = "replica";
    this.master = master;
    master.replicas.add(this);
    master.acked.set(this, master.offset);
    this.keys = this.newKeyspace();
    this.keys.apply(master.keys.snapshot());
    this.keys.take();
    this.offset = master.offset;
    this.invalidateAll();
  }

  /**
   * Writes key states as a command of its own would (a slot migration moving
   * keys): replicated, and invalidating what tracking sessions read.
   */
  applyStates(states: readonly KeyState[]): void {
    this.keys.apply(states);
    this.afterCommand(this.system);
  }

  /** The session internal writes are made in (a migration's MIGRATE). */
  private readonly system = new Session(0, { invalidate: () => undefined, message: () => undefined });

  /**
   * Full syncs so far: a write shipped before the latest one never lands
   * (Redis drops the old replication stream with the old link).
   */
  private syncs = 0;

  /**
   * A master turned replica answers every WAIT with -UNBLOCKED and closes
   * those connections (Redis's disconnectAllBlockedClients).
   */
  private unblockWaiters(): void {
    for (const waiter of this.waiters) {
      waiter.session.closeAfterReply = true;
      waiter.resolve(err("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"));
    }
    this.waiters.clear();
  }

  /** Makes this replica a master (a failover). */
  promote(): void {
    this.master?.replicas.delete(this);
    this.master = undefined;
    this.role = "master";
  }

  /** The process dies: connections drop (the network layer sees `up` false), sessions end. */
  kill(): void {
    this.up = false;
    for (const session of this.sessions) this.endSession(session);
  }

  /** Starts again; `loseData`: without persistence, the data set is empty. */
  restart(loseData: boolean): void {
    this.up = true;
    this.restarts++;
    if (loseData) {
      this.keys = this.newKeyspace();
      this.scripts.clear();
    }
  }

  openSession(sink: SessionSink): Session {
    const session = new Session(++this.sessionIds, sink);
    this.sessions.add(session);
    return session;
  }

  endSession(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session);
    for (const readers of this.readers.values()) readers.delete(session);
    for (const waiter of this.waiters) {
      if (waiter.session === session) this.waiters.delete(waiter);
    }
  }

  /** Sessions inside MULTI now (a connection left there would answer QUEUED to everyone). */
  sessionsInMulti(): number {
    let n = 0;
    for (const session of this.sessions) if (session.multi) n++;
    return n;
  }

  /** Runs one command of a session. */
  handle(session: Session, name: string, args: Args): Reply {
    const reply = this.answer(session, name, args);
    // ASKING lasts one command; inside MULTI, until the block ends (as Redis's resetClient).
    if (name !== "asking" && !session.multi) session.asking = false;
    return reply;
  }

  private answer(session: Session, name: string, args: Args): Reply {
    const refused = this.refusals.get(name) ?? (args[0] ? this.refusals.get(`${name}|${args[0].toLowerCase()}`) : undefined);
    if (refused !== undefined && name !== "exec" && name !== "discard") {
      if (session.multi) session.multiFailed = true;
      return err(refused);
    }
    if (this.cluster && (!BLOCK_CONTROL.has(name) || name === "watch")) {
      const elsewhere = this.cluster.route(this, session, name, args);
      if (elsewhere) {
        if (session.multi) session.multiFailed = true;
        return elsewhere;
      }
    }
    if (session.multi && !BLOCK_CONTROL.has(name)) {
      if (!this.knows(name)) {
        session.multiFailed = true;
        return err(`ERR unknown command '${name}'`);
      }
      if (this.role === "replica" && WRITES.has(name)) {
        session.multiFailed = true;
        return err("READONLY You can't write against a read only replica.");
      }
      session.multi.push({ name, args });
      return "QUEUED";
    }
    switch (name) {
      case "multi":
        if (session.multi) return err("ERR MULTI calls can not be nested");
        session.multi = [];
        session.multiFailed = false;
        return "OK";
      case "exec":
        return this.exec(session);
      case "discard":
        if (!session.multi) return err("ERR DISCARD without MULTI");
        session.multi = undefined;
        session.watched.clear();
        return "OK";
      case "watch":
        if (session.multi) return err("ERR WATCH inside MULTI is not allowed");
        for (const key of args) session.watched.set(key, this.keys.version(key));
        return "OK";
      case "unwatch":
        session.watched.clear();
        return "OK";
      default:
        return this.run(session, name, args);
    }
  }

  private exec(session: Session): Reply {
    const queued = session.multi;
    if (!queued) return err("ERR EXEC without MULTI");
    session.multi = undefined;
    const failed = session.multiFailed;
    const watched = [...session.watched];
    session.watched.clear();
    if (failed) return err("EXECABORT Transaction discarded because of previous errors.");
    // A slot that moved away while the block was queued: the block does not run (Redis checks again at EXEC).
    const elsewhere = this.cluster && queued.map(({ name, args }) => this.cluster!.route(this, session, name, args)).find(Boolean);
    if (elsewhere) return elsewhere;
    if (watched.some(([key, version]) => this.keys.version(key) !== version)) return null;
    const replies: Reply[] = [];
    for (const { name, args } of queued) {
      const reply = this.run(session, name, args);
      replies.push(reply instanceof Promise ? err("ERR blocking command inside MULTI") : reply);
    }
    return replies;
  }

  private knows(name: string): boolean {
    return isDataCommand(name) || META.has(name);
  }

  /** A command outside MULTI (or run by EXEC). */
  private run(session: Session, name: string, args: Args): Reply {
    switch (name) {
      case "role":
        return this.role === "master"
          ? [bulk("master"), this.offset, [...this.replicas].map((r) => [bulk(r.address.split(":")[0]!), bulk(r.address.split(":")[1]!), bulk(String(r.offset))])]
          : [bulk("slave"), bulk(this.master!.address.split(":")[0]!), Number(this.master!.address.split(":")[1]), bulk("connected"), this.offset];
      case "info":
        return bulk(this.info());
      case "readonly":
        session.readonly = true;
        return "OK";
      case "readwrite":
        session.readonly = false;
        return "OK";
      case "asking":
        session.asking = true;
        return "OK";
      case "select":
        return "OK";
      case "cluster":
        return this.cluster ? this.cluster.command(this, args) : err("ERR This instance has cluster support disabled");
      case "subscribe":
      case "psubscribe":
      case "unsubscribe":
      case "punsubscribe":
        return this.subscription(session, name, args);
      case "publish":
        return this.publish(args[0]!, args[1]!);
      case "quit":
        return "OK";
      case "client":
        return this.client(session, args);
      case "wait":
        return this.wait(session, Number(args[0]), Number(args[1]));
      case "script":
        return this.script(args);
      case "eval":
      case "eval_ro":
        this.scripts.add(sha1(args[0]!));
        return this.evaluate(session, sha1(args[0]!), args.slice(1), name === "eval_ro");
      case "evalsha":
      case "evalsha_ro":
        if (!this.scripts.has(args[0]!)) return err("NOSCRIPT No matching script. Please use EVAL.");
        return this.evaluate(session, args[0]!, args.slice(1), name === "evalsha_ro");
    }
    if (this.role === "replica" && WRITES.has(name)) return err("READONLY You can't write against a read only replica.");
    const reply = runData(name, args, {
      keys: this.keys,
      tracked: session.tracking ? (key) => this.track(key, session) : undefined,
    });
    if (reply === undefined) return err(`ERR unknown command '${name}', with args beginning with: `);
    this.afterCommand(session);
    return reply;
  }

  private evaluate(session: Session, sha: string, rest: Args, readOnly: boolean): Reply {
    const body = scriptBody(sha);
    if (!body) return err("ERR unknown script in the simulation (port it to test/sim/scripts.ts)");
    if (readOnly) return err("ERR Write commands are not allowed from read-only scripts.");
    if (this.role === "replica") return err("READONLY You can't write against a read only replica.");
    const numKeys = Number(rest[0]);
    const keys = rest.slice(1, 1 + numKeys);
    const argv = rest.slice(1 + numKeys);
    let reply: Reply;
    try {
      reply = body(keys, argv, { keys: this.keys, tracked: session.tracking ? (key) => this.track(key, session) : undefined });
    } catch (error) {
      reply = error as Error;
    }
    this.afterCommand(session);
    return reply;
  }

  private script(args: Args): Reply {
    const sub = args[0]?.toLowerCase();
    if (sub === "load") {
      const sha = sha1(args[1]!);
      this.scripts.add(sha);
      return bulk(sha);
    }
    if (sub === "exists") return args.slice(1).map((sha) => (this.scripts.has(sha) ? 1 : 0));
    if (sub === "flush") {
      this.scripts.clear();
      return "OK";
    }
    return err("ERR unknown subcommand");
  }

  private client(session: Session, args: Args): Reply {
    const sub = args[0]?.toLowerCase();
    switch (sub) {
      case "id":
        return session.id;
      case "tracking":
        session.tracking = args[1]?.toLowerCase() === "on";
        return "OK";
      case "setname":
      case "setinfo":
        return "OK";
      case "getname":
        return null;
      default:
        return err(`ERR unknown subcommand '${sub}'`);
    }
  }

  private info(): string {
    const lines = ["# Replication", `role:${this.role === "master" ? "master" : "slave"}`];
    if (this.role === "master") {
      lines.push(`connected_slaves:${this.replicas.size}`);
      [...this.replicas].forEach((r, i) => {
        const [host, port] = r.address.split(":");
        lines.push(`slave${i}:ip=${host},port=${port},state=online,offset=${this.acked.get(r) ?? 0},lag=0`);
      });
      lines.push(`master_repl_offset:${this.offset}`);
    } else {
      const [host, port] = this.master!.address.split(":");
      lines.push(`master_host:${host}`, `master_port:${port}`, "master_link_status:up", "master_sync_in_progress:0", `slave_repl_offset:${this.offset}`);
      lines.push(`master_repl_offset:${this.offset}`);
    }
    lines.push("# Stats", "keyspace_hits:0", "keyspace_misses:0", "evicted_keys:0");
    return `${lines.join("\r\n")}\r\n`;
  }

  private wait(session: Session, replicas: number, timeoutMs: number): Reply {
    const count = () => [...this.replicas].filter((r) => (this.acked.get(r) ?? 0) >= session.lastWrite).length;
    if (count() >= replicas) return count();
    return new Promise<Reply>((resolve) => {
      const waiter: Waiter = { session, replicas, resolve: (n) => resolve(n) };
      this.waiters.add(waiter);
      if (timeoutMs > 0) {
        setTimeout(() => {
          if (!this.waiters.delete(waiter)) return;
          resolve(count());
        }, timeoutMs);
      }
    });
  }

  private subscription(session: Session, name: string, args: Args): Reply {
    const set = name.startsWith("p") ? session.patterns : session.channels;
    const adding = !name.includes("unsubscribe");
    const names = args.length ? args : [...set];
    let reply: Reply = [];
    for (const n of names) {
      if (adding) set.add(n);
      else set.delete(n);
      reply = [bulk(name), bulk(n), session.channels.size + session.patterns.size];
    }
    return reply;
  }

  /** PUBLISH: to this node's subscribers (and, over a cluster, every node's: classic pub/sub is cluster-wide). */
  publish(channel: string, message: string): number {
    const nodes = this.cluster ? this.cluster.shards.flatMap((s) => s.nodes) : [this];
    let receivers = 0;
    for (const node of nodes) {
      if (!node.up) continue;
      for (const session of node.sessions) {
        if (session.channels.has(channel)) {
          receivers++;
          session.sink.message(channel, message);
        }
        for (const pattern of session.patterns) {
          if (!glob(pattern, channel)) continue;
          receivers++;
          session.sink.message(channel, message, pattern);
        }
      }
    }
    return receivers;
  }

  private track(key: string, session: Session): void {
    let readers = this.readers.get(key);
    if (!readers) this.readers.set(key, (readers = new Set()));
    readers.add(session);
  }

  /** After a command: what it wrote goes to the replicas and to tracking sessions that read it. */
  private afterCommand(session: Session): void {
    const { keys, flushed } = this.keys.take();
    if (!keys.length && !flushed) return;
    if (flushed) this.invalidateAll();
    else this.invalidate(keys);
    if (this.role !== "master") return;
    this.offset++;
    session.lastWrite = this.offset;
    const states = flushed ? undefined : this.keys.states(keys);
    const offset = this.offset;
    for (const replica of this.replicas) this.ship(replica, offset, states);
  }

  /** One write to one replica, after a lag (in order: each lands after the one before). */
  private ship(replica: SimServer, offset: number, states: KeyState[] | undefined): void {
    const lag = this.random.int(0, 30);
    const at = Math.max(Date.now() + lag, replica.lastShipped);
    replica.lastShipped = at;
    const sync = replica.syncs;
    setTimeout(() => {
      if (!this.up || !replica.up || replica.master !== this || replica.syncs !== sync) return;
      if (states) replica.keys.apply(states);
      else replica.keys.flush();
      const { keys, flushed } = replica.keys.take();
      if (flushed) replica.invalidateAll();
      else replica.invalidate(keys);
      replica.offset = offset;
      this.acked.set(replica, offset);
      for (const waiter of this.waiters) {
        const count = [...this.replicas].filter((r) => (this.acked.get(r) ?? 0) >= waiter.session.lastWrite).length;
        if (count >= waiter.replicas) {
          this.waiters.delete(waiter);
          waiter.resolve(count);
        }
      }
    }, at - Date.now());
  }

  /** When the last replicated write to this node lands (keeps the stream in order). */
  lastShipped = 0;

  private invalidate(keys: readonly string[]): void {
    for (const key of keys) {
      const readers = this.readers.get(key);
      if (!readers) continue;
      this.readers.delete(key);
      for (const session of readers) if (!session.closed) session.sink.invalidate([key]);
    }
  }

  private invalidateAll(): void {
    this.readers.clear();
    for (const session of this.sessions) if (session.tracking) session.sink.invalidate(null);
  }
}

/** Commands handled by the server itself rather than the data model. */
const META = new Set(["subscribe", "psubscribe", "unsubscribe", "punsubscribe", "publish", "role", "info", "readonly", "readwrite", "asking", "select", "quit", "client", "wait", "script", "eval", "eval_ro", "evalsha", "evalsha_ro", "unwatch", "cluster"]);

/** Redis's glob for PSUBSCRIBE: * and ? (no character classes: the workload uses none). */
function glob(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
  return re.test(text);
}
