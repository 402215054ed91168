/**
 * The facade applications use: every Redis command as a method, routed by
 * its keys to the shard that owns them. It delegates: options to
 * config/resolve, placement to sharding/, routing to routing/, I/O to node/.
 */
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { Command, type RedisCommander } from "ioredis";
import { resolveOptions, type ResolvedOptions } from "./config/resolve.js";
import type { ShardedClientOptions } from "./config/types.js";
import { DISPATCH, installCommands, type Dispatcher, type Encoding } from "./commands/install.js";
import {
  ClientClosedError,
  InvalidArgumentError,
  PartialFailureError,
  UnknownShardError,
  UnsupportedCommandError,
} from "./errors.js";
import type { NodeClient, NodeEvents } from "./node/NodeClient.js";
import { NodeSet } from "./node/NodeSet.js";
import { commandSpec, type CommandSpec } from "./routing/commandSpec.js";
import { Router, SPLIT, type Args } from "./routing/plan.js";
import { reduceReplies } from "./routing/reduce.js";
import { refusal } from "./routing/refusals.js";
import { ShardHandle } from "./ShardHandle.js";
import { createStrategy, colocateHint } from "./sharding/create.js";
import type { ShardingStrategy } from "./sharding/strategy.js";
import { staticTopology, type TopologySnapshot } from "./topology/Topology.js";

export interface NodeEvent {
  readonly shard: string;
  /** "host:port" */
  readonly node: string;
}

export interface ShardisEvents {
  /** A node connection is ready; commands queued for it are written now. */
  "node:ready": [NodeEvent];
  /** A node connection was lost or could not be made; emitted once per outage. */
  "node:down": [NodeEvent & { readonly error: Error | undefined }];
  /** A connection-level error (refused, reset, authentication). Secrets are stripped. */
  "node:error": [NodeEvent & { readonly error: Error }];
}

export interface ShardedClient extends Omit<RedisCommander, "quit"> {}

export class ShardedClient extends EventEmitter<ShardisEvents> implements Dispatcher {
  readonly #options: ResolvedOptions;
  readonly #strategy: ShardingStrategy;
  readonly #router: Router;
  readonly #nodes: NodeSet;
  readonly #topology: TopologySnapshot;
  readonly #handles = new Map<string, ShardHandle>();
  #closing: Promise<void> | undefined;

  /** Throws ConfigError, listing every problem, before any connection is opened. */
  constructor(options: ShardedClientOptions) {
    super();
    this.#options = resolveOptions(options);
    const shards = this.#options.shards;
    this.#strategy = createStrategy(this.#options);
    this.#router = new Router(this.#strategy, shards.map((s) => s.name), colocateHint(this.#options.sharding));
    this.#topology = staticTopology(shards);
    this.#nodes = new NodeSet(shards, this.#options.redis, this.#nodeEvents());
    if (!this.#options.lazyConnect) this.#nodes.connect();
  }

  /** Name of the shard that owns key. */
  shardOf(key: string | Buffer): string {
    if (typeof key !== "string" && !Buffer.isBuffer(key)) {
      throw new InvalidArgumentError(`shardOf(key) needs a string or Buffer (got ${typeof key})`);
    }
    return this.#options.shards[this.#strategy.shardIndexOf(key)]!.name;
  }

  /** That shard's node client, for keyless commands (PING, INFO, DBSIZE, FLUSHDB, SCAN, ...). */
  shard(name: string): ShardHandle {
    let handle = this.#handles.get(name);
    if (handle) return handle;
    const index = this.#options.shards.findIndex((s) => s.name === name);
    if (index === -1) throw new UnknownShardError(String(name), this.#options.shards.map((s) => s.name));
    handle = new ShardHandle(
      name,
      (command, args, encoding) => this.#sendUnrouted(index, command, args, encoding),
      () => this.#nodes.master(index).id,
    );
    this.#handles.set(name, handle);
    return handle;
  }

  /** The current topology: an immutable snapshot. */
  topology(): TopologySnapshot {
    return this.#topology;
  }

  /** Stops accepting commands, lets in-flight ones settle, then closes every connection. */
  async quit(): Promise<"OK"> {
    this.#closing ??= this.#nodes.close();
    await this.#closing;
    return "OK";
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    if (this.#closing) return Promise.reject(new ClientClosedError());
    const refused = refusal(name, args);
    if (refused) return Promise.reject(new UnsupportedCommandError(name, refused));
    const spec = commandSpec(name);
    const cmd = new Command(name, args as never[], { replyEncoding: encoding });
    let shard: number;
    try {
      shard = this.#router.route(spec, cmd.args as Args);
    } catch (error) {
      return Promise.reject(error);
    }
    if (shard === SPLIT) return this.#scatter(spec, cmd.args as Args, encoding);
    return this.#nodes.master(shard).send(cmd, this.#options.commandTimeoutMs);
  }

  /** Sends one command per shard in parallel and combines the replies in caller order. */
  async #scatter(spec: CommandSpec, args: Args, encoding: Encoding): Promise<unknown> {
    const plan = this.#router.split(spec, args);
    const settled = await Promise.allSettled(
      plan.parts.map((part) =>
        this.#nodes.master(part.shard).send(
          new Command(spec.name, part.args, { replyEncoding: encoding }),
          this.#options.commandTimeoutMs,
        ),
      ),
    );
    const replies: unknown[] = [];
    const failures: Array<{ shard: string; error: Error }> = [];
    const succeeded: string[] = [];
    settled.forEach((result, i) => {
      const shard = this.#options.shards[plan.parts[i]!.shard]!.name;
      if (result.status === "fulfilled") {
        replies.push(result.value);
        succeeded.push(shard);
      } else failures.push({ shard, error: result.reason as Error });
    });
    if (failures.length) throw new PartialFailureError(spec.name, failures, succeeded);
    return reduceReplies(plan, replies);
  }

  #sendUnrouted(shardIndex: number, name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    if (this.#closing) return Promise.reject(new ClientClosedError());
    const refused = refusal(name, args);
    if (refused) return Promise.reject(new UnsupportedCommandError(name, refused));
    const cmd = new Command(name, args as never[], { replyEncoding: encoding });
    return this.#nodes.master(shardIndex).send(cmd, this.#options.commandTimeoutMs);
  }

  #nodeEvents(): NodeEvents {
    const at = (node: NodeClient) => ({ shard: node.shard, node: node.id });
    return {
      ready: (node) => this.emit("node:ready", at(node)),
      down: (node, error) => this.emit("node:down", { ...at(node), error }),
      error: (node, error) => this.emit("node:error", { ...at(node), error }),
    };
  }

  [inspect.custom](): string {
    const shards = this.#topology.shards.map((s) => `${s.name}=${s.master}`).join(", ");
    const state = this.#closing ? "closed" : "open";
    return `ShardedClient { strategy: ${this.#strategy.kind}, shards: [${shards}], ${state} }`;
  }
}

installCommands(ShardedClient, new Set(["quit"]));
