/**
 * A command's arguments as traces may show them: every argument of a read
 * (keys, fields, ranges: a read carries no values), only the keys of a
 * write, "?" in place of everything else. Used for ioredis's channel (which
 * always carries arguments, sanitized) and for OpenTelemetry's
 * db.query.text (with includeArgs).
 */
import { commandSpec, keyIndexes } from "../routing/commandSpec.js";
import type { Args } from "../routing/plan.js";

const HIDDEN = "?";

export function sanitizeArgs(name: string, args: readonly unknown[]): string[] {
  const spec = commandSpec(name);
  if (spec.readOnly) return args.map(String);
  let keys: ReadonlySet<number>;
  try {
    keys = new Set(keyIndexes(spec, args as Args));
  } catch {
    keys = new Set();
  }
  return args.map((arg, i) => (keys.has(i) || i === spec.channelIndex ? String(arg) : HIDDEN));
}
