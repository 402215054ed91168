/** Span names and attributes by the database conventions for Redis, from trace contexts alone (shardis/otel's attributes.ts). */
import { describe, expect, it } from "vitest";
import { ReplyError } from "ioredis";
import { CircuitOpenError, TimeoutError } from "../../lib/errors.js";
import type { CallTrace, CommandTrace } from "../../lib/metrics/tracing.js";
import { sanitizeArgs } from "../../lib/metrics/sanitize.js";
import { callAttributes, callEndAttributes, callSpanName, commandAttributes, errorAttributes, nodeAttributes, queryText } from "../../lib/otel/attributes.js";

const call = (fields: Partial<CallTrace>): CallTrace => ({
  client: {},
  kind: "command",
  operation: "get",
  db: 0,
  shards: 0,
  batchSize: 0,
  nearCache: false,
  durationMs: 0,
  ...fields,
});

const command = (fields: Partial<CommandTrace>): CommandTrace => ({
  client: {},
  shard: "s0",
  node: "10.0.0.1:6379",
  role: "master",
  command: "get",
  db: 3,
  blockSize: 0,
  batchSize: 1,
  queuedMs: 0,
  durationMs: 0,
  events: [],
  ...fields,
});

describe("span names", () => {
  it("are the command (no db.namespace), a script's name after EVALSHA, PIPELINE, MULTI, and the cache's with its namespace", () => {
    expect(callSpanName(call({ operation: "hset" }))).toBe("HSET");
    expect(callSpanName(call({ kind: "script", operation: "evalsha_ro", script: "bump" }))).toBe("EVALSHA_RO bump");
    expect(callSpanName(call({ kind: "pipeline", operation: "pipeline" }))).toBe("PIPELINE");
    expect(callSpanName(call({ kind: "multi", operation: "multi" }))).toBe("MULTI");
    expect(callSpanName(call({ kind: "cache", operation: "getOrSet", namespace: "users" }))).toBe("cache.getOrSet users");
    expect(callSpanName(call({ kind: "load", operation: "load", namespace: "users" }))).toBe("cache.load users");
  });
});

describe("attributes", () => {
  it("name the system, the operation and the database index; batches their size; scripts their name", () => {
    expect(callAttributes(call({ db: 2 }), false)).toEqual({ "db.system.name": "redis", "db.operation.name": "GET", "db.namespace": "2" });
    expect(callAttributes(call({ kind: "pipeline", operation: "pipeline", batchSize: 7 }), false)).toMatchObject({ "db.operation.batch.size": 7 });
    expect(callAttributes(call({ kind: "script", operation: "evalsha", script: "bump" }), false)).toMatchObject({ "db.stored_procedure.name": "bump" });
    expect(callAttributes(call({ kind: "cache", operation: "getOrSet", namespace: "u" }), false)).toEqual({ "shardis.cache.namespace": "u" });
  });

  it("name the node actually used, IPv6 included", () => {
    expect(nodeAttributes(command({}))).toEqual({
      "shardis.shard": "s0",
      "server.address": "10.0.0.1",
      "server.port": 6379,
      "network.peer.address": "10.0.0.1",
      "network.peer.port": 6379,
    });
    expect(nodeAttributes(command({ node: "[::1]:7000" }))).toMatchObject({ "server.address": "::1", "server.port": 7000 });
    expect(commandAttributes(command({ command: "exec", blockSize: 3 }), false)).toMatchObject({ "db.operation.name": "EXEC", "db.namespace": "3", "db.operation.batch.size": 3 });
  });

  it("say what a call learned: shards, a near-cache hit, the cache's outcome", () => {
    expect(callEndAttributes(call({}))).toEqual({});
    expect(callEndAttributes(call({ shards: 3, nearCache: true, outcome: "took_over" }))).toEqual({
      "shardis.shards": 3,
      "shardis.near_cache.hit": true,
      "shardis.cache.outcome": "took_over",
    });
  });

  it("class failures: a reply by its prefix (also db.response.status_code), shardis's by its code", () => {
    expect(errorAttributes(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"))).toEqual({
      "error.type": "WRONGTYPE",
      "db.response.status_code": "WRONGTYPE",
    });
    expect(errorAttributes(new TimeoutError("s0", "10.0.0.1:6379", 50, "written"))).toEqual({ "error.type": "timeout" });
    expect(errorAttributes(new CircuitOpenError("s0", "10.0.0.1:6379", "5 failures", 100))).toEqual({ "error.type": "circuit_open" });
    expect(errorAttributes(new TypeError("x"))).toEqual({ "error.type": "TypeError" });
    expect(errorAttributes("x")).toEqual({ "error.type": "_OTHER" });
  });
});

describe("arguments", () => {
  it("show every argument of a read, only the keys of a write", () => {
    expect(sanitizeArgs("hget", ["h", "f"])).toEqual(["h", "f"]);
    expect(sanitizeArgs("set", ["k", "secret", "PX", 10])).toEqual(["k", "?", "?", "?"]);
    expect(sanitizeArgs("mset", ["a", "1", "b", "2"])).toEqual(["a", "?", "b", "?"]);
    expect(sanitizeArgs("publish", ["news", "body"])).toEqual(["news", "?"]);
    expect(sanitizeArgs("nosuchcommand", ["x"])).toEqual(["?"]);
    expect(queryText("hset", ["h", "f", "v"])).toBe("HSET h ? ?");
  });
});
