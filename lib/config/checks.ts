/** Small validators shared by the option resolvers: each returns a problem, or undefined. */
import { describe } from "./address.js";

export type Check = (value: unknown) => string | undefined;

export const isString: Check = (v) => (typeof v === "string" ? undefined : "must be a string");

export const isBoolean: Check = (v) => (typeof v === "boolean" ? undefined : `must be true or false (got ${describe(v)})`);

export const intRange =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `must be an integer from ${min} to ${max} (got ${describe(v)})`;

export const oneOf =
  (...allowed: unknown[]): Check =>
  (v) =>
    allowed.includes(v) ? undefined : `must be one of ${allowed.join(", ")} (got ${describe(v)})`;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function unknownKeys(object: Record<string, unknown>, known: readonly string[], what: string, problems: string[]): void {
  for (const key of Object.keys(object)) if (!known.includes(key)) problems.push(`unknown ${what} '${key}'`);
}

/** `credentials` excludes `username`/`password`; `reauthenticateEveryMs` needs it (re-sending a fixed password changes nothing). */
export function checkCredentials(where: string, options: Record<string, unknown>, problems: string[]): void {
  const has = (key: string) => options[key] !== undefined;
  if (has("credentials") && (has("password") || has("username"))) {
    problems.push(`${where}.credentials replaces ${where}.username and ${where}.password: give one or the other`);
  }
  if (has("reauthenticateEveryMs") && !has("credentials")) {
    problems.push(`${where}.reauthenticateEveryMs needs ${where}.credentials (a provider of fresh credentials)`);
  }
}

export const isFunction: Check = (v) => (typeof v === "function" ? undefined : `must be a function () => ({ username?, password }) (got ${describe(v)})`);

/** A shallow, frozen copy of tls options: nested values (certificates) belong to the caller. */
export function tlsOption(value: unknown): object {
  return Object.freeze(value === true ? {} : { ...(value as object) });
}

/** Freezes what the resolvers built; caller-owned values (tls, buffers, functions) are left as they are. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
