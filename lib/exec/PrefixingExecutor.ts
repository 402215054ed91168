/**
 * The executor of a client with ioredis's `keyPrefix` (redis.keyPrefix):
 * every command a caller gives it (commands, scripts, a shard handle's, the
 * cache layer's, explain()) gets the prefix on its keys first, then runs as
 * if the caller had written the prefixed keys. A client without a prefix
 * gets the plain Executor, so the prefix costs it nothing. What shardis
 * sends for itself (a migration's scripts on keys the server named, split
 * parts of a prefixed command) passes below these methods, never twice.
 */
import type { CallOptions } from "../config/callOptions.js";
import type { Encoding } from "../commands/install.js";
import type { ShardisCommand } from "../commands/command.js";
import type { Script } from "../commands/script.js";
import { prefixKeys, prefixScriptArgs } from "../commands/keyPrefix.js";
import type { Plan } from "../routing/plan.js";
import { Executor } from "./Executor.js";

export class PrefixingExecutor extends Executor {
  override plan(name: string, args: unknown[]): Plan {
    return super.plan(name, prefixKeys(name, args, this.options.keyPrefix));
  }

  override run(name: string, args: unknown[], encoding: Encoding, call?: CallOptions): Promise<unknown> {
    return super.run(name, prefixKeys(name, args, this.options.keyPrefix), encoding, call);
  }

  override runBuilt(cmd: ShardisCommand, encoding: Encoding, call?: CallOptions): Promise<unknown> {
    cmd.args = prefixKeys(cmd.name, cmd.args, this.options.keyPrefix) as typeof cmd.args;
    return super.runBuilt(cmd, encoding, call);
  }

  override runUnrouted(shard: number, name: string, args: unknown[], encoding: Encoding, call?: CallOptions): Promise<unknown> {
    return super.runUnrouted(shard, name, prefixKeys(name, args, this.options.keyPrefix), encoding, call);
  }

  override runScript(script: Script, callArgs: unknown[], encoding: Encoding, call?: CallOptions, shard?: number): Promise<unknown> {
    return super.runScript(script, prefixScriptArgs(script, callArgs, this.options.keyPrefix), encoding, call, shard);
  }

  /** ioredis's sendCommand(Command): the Command's arguments go as they are (ioredis prefixes only in its command methods). */
  override runAsGiven(name: string, args: unknown[], encoding: Encoding): Promise<unknown> {
    return super.run(name, args, encoding);
  }

  /** A script on keys the server named (a migration's): as they are. */
  override runScriptAsGiven(script: Script, callArgs: unknown[], encoding: Encoding, call: CallOptions, shard: number): Promise<unknown> {
    return super.runScript(script, callArgs, encoding, call, shard);
  }
}
