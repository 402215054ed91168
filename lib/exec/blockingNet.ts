/**
 * ioredis's `blockingTimeout` on shardis's deadlines: a blocking command
 * (ioredis's list: BLPOP and the like, XREAD/XREADGROUP) that gets no reply
 * settles with null, as if the server's own timeout had passed, after that
 * timeout plus `blockingTimeoutGrace`, or after `blockingTimeout` when it
 * blocks without end. It is a safety net for a connection that died without
 * a close (a zombie). Unlike ioredis, the connection it was on is then
 * dropped, not lent again: the server may still hold the command blocked,
 * and would hand it the next value pushed.
 */
import { TimeoutError } from "../errors.js";
import type { RedisConnectionOptions } from "../config/types.js";

/** ioredis's BLOCKING_COMMANDS (WAIT and WAITAOF are not among them). */
const NETTED = new Set(["blpop", "brpop", "brpoplpush", "blmove", "blmovem", "bzpopmin", "bzpopmax", "bzmpop", "blmpop", "xread", "xreadgroup"]);

/** ioredis's default blockingTimeoutGrace, in ms. */
const GRACE_MS = 100;

/**
 * The command's deadline under the net, in ms; undefined when there is no
 * net (the option off, or not one of ioredis's blocking commands). `blocksMs`:
 * how long it may block by its arguments (Infinity: without end).
 */
export function blockingNetMs(name: string, blocksMs: number, redis: Readonly<RedisConnectionOptions>): number | undefined {
  const net = redis.blockingTimeout;
  if (!net || !NETTED.has(name)) return undefined;
  return blocksMs === Infinity ? net : blocksMs + (redis.blockingTimeoutGrace ?? GRACE_MS);
}

/** The net caught it: null, as the server answers a blocking command whose timeout passed. */
export function nullOnNet(error: unknown): null {
  if (error instanceof TimeoutError) return null;
  throw error;
}
