/**
 * client.shard(name): one shard's master, for keyless commands (PING, INFO,
 * DBSIZE, FLUSHDB, SCAN, ...). Commands go unrouted through the same shared,
 * auto-pipelined connection and deadlines as routed ones.
 */
import { inspect } from "node:util";
import type { RedisCommander } from "ioredis";
import { DISPATCH, installCommands, type Dispatcher, type Encoding } from "./commands/install.js";

/** Sends a command to this shard's current master. */
export type ShardSender = (name: string, args: unknown[], encoding: Encoding) => Promise<unknown>;

export interface ShardHandle extends Omit<RedisCommander, "quit"> {}

export class ShardHandle implements Dispatcher {
  constructor(
    /** The shard's name. */
    readonly name: string,
    private readonly sender: ShardSender,
    private readonly masterAddress: () => string,
  ) {}

  /** "host:port" of the shard's master right now. */
  get master(): string {
    return this.masterAddress();
  }

  [DISPATCH](name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return this.sender(name, args, encoding);
  }

  [inspect.custom](): string {
    return `ShardHandle { name: ${this.name}, master: ${this.master} }`;
  }
}

installCommands(ShardHandle, new Set(["quit"]));
