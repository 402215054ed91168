/**
 * ioredis's `keyPrefix`, by ioredis's own rules: an ioredis Command built
 * with the prefix puts it before every key argument the command table names
 * (after ioredis's argument transforms: `mset({ a: 1 })`, numbers as
 * strings), never on patterns (KEYS, SCAN MATCH), channels or replies.
 * Reusing the Command keeps shardis exact wherever ioredis changes a rule.
 * The prefixed keys are then routed as any key: `{tag}` after the prefix
 * hashes as it would on Redis Cluster under ioredis.
 */
import { Command } from "ioredis";
import type { Script } from "./script.js";

type CommandArgs = ConstructorParameters<typeof Command>[1];

/** The arguments ioredis would send for `name(...args)` on a client with this prefix. */
export function prefixKeys(name: string, args: unknown[], prefix: string): unknown[] {
  if (prefix === "") return args;
  return new Command(name, args as CommandArgs, { keyPrefix: prefix }).args;
}

/** One key with the prefix, as ioredis writes it (a Buffer key stays a Buffer). */
export function prefixKey(key: string | Buffer, prefix: string): string | Buffer {
  return prefix === "" ? key : (prefixKeys("get", [key], prefix)[0] as string | Buffer);
}

/** A defined script's call arguments with its KEYS prefixed (ioredis prefixes EVALSHA's keys), in the call's own form. */
export function prefixScriptArgs(script: Script, callArgs: unknown[], prefix: string): unknown[] {
  if (prefix === "") return callArgs;
  // The SHA's place is taken by a placeholder: only the numkeys-based key positions matter.
  const prefixed = prefixKeys("evalsha", ["", ...script.evalArgs(callArgs)], prefix).slice(1);
  return script.numberOfKeys === undefined ? prefixed : prefixed.slice(1);
}
