/**
 * Lua scripts a simulated node can run, as JavaScript with the same effect,
 * found by the SHA1 of their Lua text: shardis's cache scripts (ported
 * line by line from lib/cache/scripts.ts; the SHA1 ties each port to the
 * exact script text, so a changed script is "NOSCRIPT"/unknown here until
 * its port follows) and the workload's own scripts.
 */
import { createHash } from "node:crypto";
import { ACQUIRE, COMMIT, EXTEND, RELEASE } from "../../lib/cache/scripts.js";
import { bulk, err, type Args, type CommandContext, type Reply } from "./commands.js";

type ScriptBody = (keys: Args, argv: Args, ctx: CommandContext) => Reply;

export const sha1 = (text: string): string => createHash("sha1").update(Buffer.from(text, "latin1")).digest("hex");

/** The workload's script: INCRBY KEYS[1] by ARGV[1], then return the new value and the key's previous value's length. */
export const WORKLOAD_SCRIPT = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) return v";

interface Header {
  h: string[];
  nl: number;
}

function parse(v: string | undefined): Header | undefined {
  if (v === undefined || !v.startsWith("SC1|")) return undefined;
  const nl = v.indexOf("\n", 4);
  if (nl < 0 || nl + 1 > 256) return undefined;
  const h = v.slice(4, nl).split("|");
  if (h.length !== 6) return undefined;
  return { h, nl };
}

const holds = (h: string[]) => h[0] !== "l" && h[0] !== "e";
const now = () => Date.now();

function getString(ctx: CommandContext, key: string): string | undefined {
  const value = ctx.keys.get(key);
  if (value && value.type !== "string") throw err("WRONGTYPE Operation against a key holding the wrong kind of value");
  return value?.value as string | undefined;
}

function rewrite(ctx: CommandContext, key: string, h: string[], v: string, nl: number, ttl: number | undefined): void {
  const expiresAt = ctx.keys.expiresAt(key) ?? Infinity;
  ctx.keys.set(key, { type: "string", value: `SC1|${h.join("|")}${v.slice(nl)}` }, expiresAt);
  const pttl = expiresAt === Infinity ? -1 : expiresAt - now();
  if (ttl !== undefined && pttl < ttl) ctx.keys.expire(key, now() + ttl);
}

const BODIES = new Map<string, ScriptBody>([
  [
    ACQUIRE.sha,
    ([key], [token, ttlText, seen], ctx) => {
      const v = getString(ctx, key!);
      const parsed = parse(v);
      const t = now();
      const ttl = Number(ttlText);
      const lockUntil = String(t + ttl);
      if (parsed && parsed.h[4] !== "" && Number(parsed.h[5]) > t) return [0, bulk(v!)];
      if (parsed && holds(parsed.h)) {
        if (parsed.h[1] !== seen) return [0, bulk(v!)];
        parsed.h[4] = token!;
        parsed.h[5] = lockUntil;
        rewrite(ctx, key!, parsed.h, v!, parsed.nl, ttl);
        return [1];
      }
      ctx.keys.set(key!, { type: "string", value: `SC1|l|0|0|0|${token}|${lockUntil}\n` }, t + ttl);
      return [1];
    },
  ],
  [
    COMMIT.sha,
    ([key], [token, record, px], ctx) => {
      const parsed = parse(getString(ctx, key!));
      if (!parsed || parsed.h[4] !== token || Number(parsed.h[5]) < now()) return 0;
      ctx.keys.set(key!, { type: "string", value: record! }, now() + Number(px));
      return 1;
    },
  ],
  [
    EXTEND.sha,
    ([key], [token, ttlText], ctx) => {
      const v = getString(ctx, key!);
      const parsed = parse(v);
      const t = now();
      if (!parsed || parsed.h[4] !== token || Number(parsed.h[5]) < t) return 0;
      const ttl = Number(ttlText);
      parsed.h[5] = String(t + ttl);
      rewrite(ctx, key!, parsed.h, v!, parsed.nl, ttl);
      return 1;
    },
  ],
  [
    RELEASE.sha,
    ([key], [token, message, px], ctx) => {
      const v = getString(ctx, key!);
      const parsed = parse(v);
      if (!parsed || parsed.h[4] !== token) return 0;
      if (holds(parsed.h)) {
        parsed.h[4] = "";
        parsed.h[5] = "0";
        rewrite(ctx, key!, parsed.h, v!, parsed.nl, undefined);
      } else if (message !== "") {
        ctx.keys.set(key!, { type: "string", value: `SC1|e|0|0|0|${token}|0\n${message}` }, now() + Number(px));
      } else ctx.keys.delete(key!);
      return 1;
    },
  ],
  [
    sha1(WORKLOAD_SCRIPT),
    ([key], [by], ctx) => {
      const value = getString(ctx, key!);
      const base = value === undefined ? 0 : Number(value);
      if (!Number.isSafeInteger(base) || !/^-?\d+$/.test(by ?? "")) return err("ERR value is not an integer or out of range");
      const next = base + Number(by);
      ctx.keys.set(key!, { type: "string", value: String(next) }, ctx.keys.expiresAt(key!) ?? Infinity);
      return next;
    },
  ],
]);

/** Whether the script with this SHA1 writes (all of them do here, but the read-only variants must not be used for them). */
export function scriptBody(sha: string): ScriptBody | undefined {
  return BODIES.get(sha);
}
