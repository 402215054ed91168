/**
 * Span names and attributes for shardis's traces, by OpenTelemetry's
 * database semantic conventions for Redis (db.system.name "redis",
 * db.operation.name, db.namespace as the database index, server.* and
 * network.peer.* for the node actually used, error.type and
 * db.response.status_code), plus shardis.* for what only shardis knows.
 * Plain functions of the trace contexts: no OpenTelemetry import.
 */
import { ShardisError } from "../errors.js";
import { sanitizeArgs } from "../metrics/sanitize.js";
import type { CallTrace, CommandTrace } from "../metrics/tracing.js";

export type Attributes = Record<string, string | number | boolean>;

/** What the functions below return when there is nothing to add (most calls): nothing made per call. */
const NONE: Attributes = Object.freeze({});

/** The conventions' name: the command (no db.namespace: a number reads confusingly there); a script's name after EVALSHA. */
export function callSpanName(call: CallTrace): string {
  switch (call.kind) {
    case "script":
      return `${call.operation.toUpperCase()} ${call.script}`;
    case "cache":
      return `cache.getOrSet ${call.namespace}`;
    case "load":
      return `cache.load ${call.namespace}`;
    default:
      return call.operation.toUpperCase();
  }
}

/** Whether a call is a database operation (a CLIENT span, counted in db.client.operation.duration), not the cache's own work. */
export function isOperation(call: CallTrace): boolean {
  return call.kind !== "cache" && call.kind !== "load";
}

/** What every span of an operation carries: the system, the operation's name, the database index. */
export function operationAttributes(operation: string, db: number): Attributes {
  return { "db.system.name": "redis", "db.operation.name": operation.toUpperCase(), "db.namespace": String(db) };
}

/** What a call's span carries at its start. */
export function callAttributes(call: CallTrace, includeArgs: boolean): Attributes {
  if (!isOperation(call)) return callStartExtras(call, includeArgs);
  return { ...operationAttributes(call.operation, call.db), ...callStartExtras(call, includeArgs) };
}

/** callAttributes() beyond operationAttributes(): what only this call says (its batch, script, arguments; a cache's namespace). */
export function callStartExtras(call: CallTrace, includeArgs: boolean): Attributes {
  if (!isOperation(call)) return { "shardis.cache.namespace": call.namespace ?? "" };
  if (call.kind === "command" && (!includeArgs || call.args === undefined)) return NONE;
  const attributes: Attributes = {};
  if (call.kind === "pipeline" || call.kind === "multi") attributes["db.operation.batch.size"] = call.batchSize;
  if (call.script !== undefined) attributes["db.stored_procedure.name"] = call.script;
  if (includeArgs && call.args !== undefined && call.kind === "command") attributes["db.query.text"] = queryText(call.operation, call.args);
  return attributes;
}

/** What a call learned on its way, for its span's end: shards fanned out to, a near-cache hit, the cache's outcome. */
export function callEndAttributes(call: CallTrace): Attributes {
  if (call.shards === 0 && !call.nearCache && call.outcome === undefined) return NONE;
  const attributes: Attributes = {};
  if (call.shards > 0) attributes["shardis.shards"] = call.shards;
  if (call.nearCache) attributes["shardis.near_cache.hit"] = true;
  if (call.outcome !== undefined) attributes["shardis.cache.outcome"] = call.outcome;
  return attributes;
}

/** The node a command went to, as the conventions name it. */
export function nodeAttributes(command: Pick<CommandTrace, "shard" | "node">): Attributes {
  const { host, port } = hostPort(command.node);
  const attributes: Attributes = { "shardis.shard": command.shard, "server.address": host, "network.peer.address": host };
  if (port !== undefined) {
    attributes["server.port"] = port;
    attributes["network.peer.port"] = port;
  }
  return attributes;
}

/** A command's own span (a split command's part, a pipeline's command): named and attributed as a call of its own. */
export function commandAttributes(command: CommandTrace, includeArgs: boolean): Attributes {
  return { ...operationAttributes(command.command, command.db), ...nodeAttributes(command), ...commandExtras(command, includeArgs) };
}

/** commandAttributes() beyond the operation's and the node's: a MULTI block's size, the arguments. */
export function commandExtras(command: CommandTrace, includeArgs: boolean): Attributes {
  if (command.blockSize === 0 && (!includeArgs || command.args === undefined)) return NONE;
  const attributes: Attributes = {};
  if (command.blockSize > 0) attributes["db.operation.batch.size"] = command.blockSize;
  if (includeArgs && command.args !== undefined) attributes["db.query.text"] = queryText(command.command, command.args);
  return attributes;
}

/**
 * error.type and db.response.status_code for a failure: a Redis error reply
 * by its prefix (WRONGTYPE, ERR, MOVED), shardis's own failures by their
 * code (ERR_SHARDIS_TIMEOUT is "timeout", ERR_SHARDIS_CIRCUIT_OPEN "circuit_open").
 */
export function errorAttributes(error: unknown): Attributes {
  if (error instanceof ShardisError) return { "error.type": error.code.replace(/^ERR_SHARDIS_/, "").toLowerCase() };
  if (error instanceof Error && error.name === "ReplyError") {
    const prefix = /^[A-Z][A-Z0-9_-]*/.exec(error.message)?.[0] ?? "ERR";
    return { "error.type": prefix, "db.response.status_code": prefix };
  }
  return { "error.type": error instanceof Error ? error.name : "_OTHER" };
}

/** db.query.text: the command and its arguments, sanitized (a write's values are "?"). */
export function queryText(name: string, args: readonly unknown[]): string {
  return [name.toUpperCase(), ...sanitizeArgs(name, args)].join(" ");
}

function hostPort(node: string): { host: string; port: number | undefined } {
  const colon = node.lastIndexOf(":");
  if (colon < 0) return { host: node, port: undefined };
  const port = Number(node.slice(colon + 1));
  return { host: node.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number.isInteger(port) ? port : undefined };
}
