/**
 * Cache hits and misses, read off the replies of GET-like commands: a nil
 * reply (or nil element of MGET/HMGET) is a miss, anything else a hit. The
 * count rides on the command itself, so it costs nothing for other commands
 * and is taken when the batch is collected, in the shard and role that
 * answered.
 */
import { Command } from "ioredis";
import type { Encoding } from "../commands/install.js";

/** Commands whose nil reply means "not in the cache". */
const GET_LIKE = new Set(["get", "getex", "getdel", "hget", "mget", "hmget"]);

export class CountedRead extends Command {
  hits = 0;
  misses = 0;

  override transformReply(result: Buffer | Buffer[]): string | string[] | Buffer | Buffer[] {
    const reply = result as unknown;
    if (Array.isArray(reply)) {
      for (const item of reply) {
        if (item === null) this.misses++;
        else this.hits++;
      }
    } else if (reply === null) this.misses++;
    else this.hits++;
    return super.transformReply(result);
  }
}

/** The Command for a call (names arrive lower-cased): counted when it is GET-like. */
export function buildCommand(name: string, args: unknown[], encoding: Encoding): Command {
  const Kind = GET_LIKE.has(name) ? CountedRead : Command;
  return new Kind(name, args as never[], { replyEncoding: encoding });
}
