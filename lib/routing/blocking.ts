/**
 * How long a blocking command may hold its connection, from its arguments.
 * The command table flags these commands "blocking" but does not say where
 * their timeout is, so the positions are listed here (as ioredis does).
 */
import type { CommandSpec } from "./commandSpec.js";

const LAST_ARG_SECONDS = new Set(["blpop", "brpop", "brpoplpush", "blmove", "bzpopmin", "bzpopmax"]);
const FIRST_ARG_SECONDS = new Set(["blmpop", "bzmpop"]);

/**
 * Milliseconds this call may block; Infinity when it blocks until served
 * (a timeout of 0); undefined when this call does not block at all.
 */
export function blockingTimeoutMs(spec: CommandSpec, args: ReadonlyArray<string | Buffer>): number | undefined {
  if (!spec.blocking) return undefined;
  const name = spec.name;
  if (LAST_ARG_SECONDS.has(name)) return seconds(args[args.length - 1]);
  if (FIRST_ARG_SECONDS.has(name)) return seconds(args[0]);
  if (name === "blmovem") return seconds(args[4]);
  if (name === "wait") return millis(args[1]);
  if (name === "waitaof") return millis(args[2]);
  if (name === "xread" || name === "xreadgroup") {
    const at = args.findIndex((a) => String(a).toUpperCase() === "BLOCK");
    return at === -1 ? undefined : millis(args[at + 1]);
  }
  // A blocking command this table does not know: assume it may block indefinitely.
  return Infinity;
}

function seconds(arg: string | Buffer | undefined): number {
  const value = Number(String(arg));
  return Number.isFinite(value) && value > 0 ? value * 1000 : Infinity;
}

function millis(arg: string | Buffer | undefined): number {
  const value = Number(String(arg));
  return Number.isFinite(value) && value > 0 ? value : Infinity;
}
