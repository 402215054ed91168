/** Validation and defaults of the `hotKeys` option (the hot-key detector). */
import { describe } from "./address.js";
import { intRange, isPlainObject, unknownKeys } from "./checks.js";
import { DEFAULTS } from "./defaults.js";
import type { DetectorOptions } from "../hotkeys/HotKeys.js";

export type ResolvedHotKeys = DetectorOptions;

const FIELDS = ["topK", "windowMs", "sampleEvery"] as const;
const LIMITS: Record<(typeof FIELDS)[number], [number, number]> = {
  topK: [1, 1000],
  windowMs: [100, 3_600_000],
  sampleEvery: [1, 1000],
};

/** undefined when the detector is off (`hotKeys: false`). */
export function resolveHotKeys(value: unknown, problems: string[]): ResolvedHotKeys | undefined {
  if (value === false) return undefined;
  if (value !== undefined && !isPlainObject(value)) {
    problems.push(`hotKeys must be an object { topK?, windowMs?, sampleEvery? } or false (got ${describe(value)})`);
    return undefined;
  }
  const given = value ?? {};
  unknownKeys(given, FIELDS, "option in hotKeys", problems);
  const resolved: { -readonly [K in keyof ResolvedHotKeys]: number } = { ...DEFAULTS.hotKeys };
  for (const field of FIELDS) {
    const v = given[field] ?? DEFAULTS.hotKeys[field];
    const problem = intRange(...LIMITS[field])(v);
    if (problem) problems.push(`hotKeys.${field} ${problem}`);
    else resolved[field] = v as number;
  }
  return Object.freeze(resolved);
}
