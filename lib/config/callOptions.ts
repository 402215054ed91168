/**
 * Per-call settings (client.with({...}), client.readFrom(policy)), validated
 * in one place like the client's options, with the client's values as
 * defaults.
 */
import { InvalidArgumentError } from "../errors.js";
import { describe } from "./address.js";
import { MAX_TIMEOUT_MS } from "./defaults.js";
import { READ_POLICIES, resolveWriteConcern } from "./ha.js";
import type { ReadPolicy, WriteConcern } from "./types.js";

export interface CallSettings {
  /** This call's deadline in ms, instead of commandTimeoutMs. */
  timeoutMs?: number;
  /** The write may be repeated safely: retry it like a read. @default false */
  idempotent?: boolean;
  /** Where this call's reads go, instead of the client's readFrom. */
  readFrom?: ReadPolicy;
  /** Wait for replicas after this call's writes, instead of the client's writeConcern. */
  writeConcern?: WriteConcern;
}

/** Resolved settings of a call. */
export interface CallOptions {
  readonly timeoutMs: number;
  /** Split reads (MGET) return an Error per failed entry instead of rejecting. */
  readonly partial: boolean;
  readonly idempotent: boolean;
  readonly readFrom: ReadPolicy;
  readonly writeConcern: Readonly<WriteConcern> | undefined;
}

const FIELDS = ["timeoutMs", "idempotent", "readFrom", "writeConcern"];

export function resolveCallOptions(input: unknown, defaults: CallOptions): CallOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError(`call options must be an object (got ${describe(input)})`);
  }
  const settings = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(settings)) if (!FIELDS.includes(key)) problems.push(`unknown call option '${key}'`);
  const timeoutMs = settings.timeoutMs ?? defaults.timeoutMs;
  if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    problems.push(`timeoutMs must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (got ${describe(settings.timeoutMs)})`);
  }
  const idempotent = settings.idempotent ?? defaults.idempotent;
  if (typeof idempotent !== "boolean") problems.push(`idempotent must be true or false (got ${describe(idempotent)})`);
  const readFrom = settings.readFrom ?? defaults.readFrom;
  if (!READ_POLICIES.includes(readFrom as ReadPolicy)) {
    problems.push(`readFrom must be one of ${READ_POLICIES.join(", ")} (got ${describe(readFrom)})`);
  }
  const writeConcern =
    settings.writeConcern === undefined ? defaults.writeConcern : resolveWriteConcern(settings.writeConcern, "writeConcern", problems);
  if (problems.length) throw new InvalidArgumentError(`invalid call options: ${problems.join("; ")}`);
  return Object.freeze({
    ...defaults,
    timeoutMs: timeoutMs as number,
    idempotent: idempotent as boolean,
    readFrom: readFrom as ReadPolicy,
    writeConcern,
  });
}
