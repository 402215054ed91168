import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import { ConfigError, ShardisError } from "../../lib/errors.js";

function problemsOf(options: unknown): string[] {
  try {
    resolveOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(ShardisError);
    expect((error as ConfigError).code).toBe("ERR_SHARDIS_CONFIG");
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

const two = [
  { name: "s0", master: "127.0.0.1:7000" },
  { name: "s1", master: { host: "127.0.0.1", port: 7001 } },
];

describe("resolveOptions", () => {
  it("applies defaults and freezes the result", () => {
    const resolved = resolveOptions({ shards: two });
    expect(resolved.commandTimeoutMs).toBe(1000);
    expect(resolved.lazyConnect).toBe(false);
    expect(resolved.redis.connectTimeout).toBe(1000);
    expect(resolved.sharding).toEqual({ strategy: "slots", ranges: [[[0, 8191]], [[8192, 16383]]] });
    expect(resolved.shards.map((s) => [s.name, s.master?.host, s.master?.port, s.weight])).toEqual([
      ["s0", "127.0.0.1", 7000, 1],
      ["s1", "127.0.0.1", 7001, 1],
    ]);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.shards[0])).toBe(true);
    expect(resolved.breaker).toEqual({ enabled: true, errorThresholdPercentage: 50, volumeThreshold: 20, windowMs: 1000, resetTimeoutMs: 1000, stallMs: 500 });
    expect(resolved.retry).toEqual({ attempts: 2, baseDelayMs: 10, maxDelayMs: 100, idempotentCommands: [] });
    expect(resolved.pool).toEqual({ max: 16, minIdle: 0, acquireTimeoutMs: 1000, idleTimeoutMs: 30000 });
    expect(resolved.maxQueueLength).toBe(10000);
    expect(resolved.maxWriteDelayMs).toBe(Infinity); // one write per turn, unless a near cache is on
    expect(resolveOptions({ shards: [{ name: "a", master: "h:1" }], nearCache: {} }).maxWriteDelayMs).toBe(1);
    expect(resolveOptions({ shards: [{ name: "a", master: "h:1" }], maxWriteDelayMs: false }).maxWriteDelayMs).toBe(Infinity);
    expect(resolveOptions({ shards: [{ name: "a", master: "h:1" }], maxWriteDelayMs: 0.5 }).maxWriteDelayMs).toBe(0.5);
  });

  it("resolves Sentinel-managed and static shards with replicas", () => {
    const resolved = resolveOptions({
      sentinels: ["127.0.0.1:26379", { host: "127.0.0.1", port: 26380 }],
      sentinelOptions: { password: "s" },
      shards: [
        { name: "s0", masterName: "cache-0" },
        { name: "s1", master: "10.0.0.5:6379", replicas: ["10.0.0.6:6379"] },
      ],
      readFrom: "replicaPreferred",
      allowedAddresses: ["10.0.0.5:*", "10.0.0.6:6379"],
      natMap: { "10.0.0.7:6379": "127.0.0.1:7007" },
      writeConcern: { replicas: 1, timeoutMs: 50 },
    });
    expect(resolved.shards[0]).toMatchObject({ name: "s0", masterName: "cache-0", master: undefined, replicas: [] });
    expect(resolved.shards[1]!.replicas).toEqual([{ host: "10.0.0.6", port: 6379 }]);
    expect(resolved.sentinels).toEqual([{ host: "127.0.0.1", port: 26379 }, { host: "127.0.0.1", port: 26380 }]);
    expect(resolved.sentinelOptions).toEqual({ connectTimeout: 1000, password: "s" });
    expect(resolved.readFrom).toBe("replicaPreferred");
    expect(resolved.maxReplicaLagMs).toBe(1000);
    expect(resolved.healthCheckIntervalMs).toBe(250);
    expect(resolved.topologyRefreshMs).toBe(10000);
    expect(resolved.allowedAddresses).toEqual(["10.0.0.5:*", "10.0.0.6:6379"]);
    // docs/cluster.md's example, and the other forms the docs show.
    const patterns = ["10.0.0.*", "*.Cache.Example:6379", "[::1]:7000", "redis-1:*"];
    expect(resolveOptions({ cluster: { seeds: ["h:1"] }, allowedAddresses: patterns }).allowedAddresses).toEqual(["10.0.0.*:*", "*.cache.example:6379", "[::1]:7000", "redis-1:*"]);
    expect(resolved.natMap).toEqual({ "10.0.0.7:6379": "127.0.0.1:7007" });
    expect(resolved.writeConcern).toEqual({ replicas: 1, timeoutMs: 50 });
  });

  it("turns the breaker and retries off with false, and keeps the caller's fallback as is", () => {
    const fallback = () => "x";
    const resolved = resolveOptions({ shards: two, breaker: false, retry: false, fallback });
    expect(resolved.breaker.enabled).toBe(false);
    expect(resolved.retry.attempts).toBe(0);
    expect(resolved.fallback).toBe(fallback);
    expect(Object.isFrozen(fallback)).toBe(false);
  });

  it("never mutates the caller's options", () => {
    const tls = { rejectUnauthorized: false };
    const options = { shards: structuredClone(two), redis: { tls } };
    const before = JSON.stringify(options);
    resolveOptions(options);
    expect(JSON.stringify(options)).toBe(before);
    expect(Object.isFrozen(tls)).toBe(false);
  });

  it("parses IPv6 addresses in brackets", () => {
    const resolved = resolveOptions({ shards: [{ name: "a", master: "[::1]:7000" }] });
    expect(resolved.shards[0]!.master).toEqual({ host: "::1", port: 7000 });
  });

  it.each([
    [{ shards: [] }, "shards must be a non-empty array (got an array)"],
    [{}, "shards must be a non-empty array (got undefined)"],
    [{ shards: Array.from({ length: 4097 }, (_, i) => ({ name: `s${i}`, master: `h:${i + 1}` })) }, "shards has 4097 entries; at most 4096 are supported"],
    [{ shards: [{ name: "s0", master: "127.0.0.1:7000" }, { name: "s0", master: "127.0.0.1:7001" }] }, "shards[1].name 's0' duplicates shards[0].name"],
    [{ shards: [{ name: "a", master: "127.0.0.1:7000" }, { name: "b", master: { host: "127.0.0.1", port: 7000 } }] }, "shards[1].master 127.0.0.1:7000 duplicates shards[0].master"],
    [{ shards: [{ name: "a", master: "127.0.0.1:abc" }] }, 'shards[0].master port must be an integer from 1 to 65535 (got "abc")'],
    [{ shards: [{ name: "a", master: "127.0.0.1:70000" }] }, "shards[0].master port must be an integer from 1 to 65535 (got 70000)"],
    [{ shards: [{ name: "a", master: "localhost" }] }, 'shards[0].master "localhost" has no port (expected "host:port")'],
    [{ shards: [{ name: "a", master: ":7000" }] }, 'shards[0].master host must be a non-empty string without spaces (got "")'],
    [{ shards: [{ name: "a", master: { host: "h", port: 1, tls: true } }] }, "shards[0].master unknown field(s) 'tls'"],
    [{ shards: [{ name: "a", master: 7000 }] }, 'shards[0].master must be "host:port" or { host, port } (got 7000)'],
    [{ shards: [{ name: "a b", master: "h:1" }] }, `shards[0].name must be 1-64 letters, digits, '_', '.' or '-' (got "a b")`],
    [{ shards: [{ name: "a", master: "h:1", weight: 0 }] }, "shards[0].weight must be a number greater than 0 (got 0)"],
    [{ shards: [{ name: "a", master: "h:1", weight: -2 }] }, "shards[0].weight must be a number greater than 0 (got -2)"],
    [{ shards: [{ name: "a", master: "h:1", weight: "2" }] }, 'shards[0].weight must be a number greater than 0 (got "2")'],
    [{ shards: [{ name: "a", master: "h:1", weight: Number.NaN }] }, "shards[0].weight must be a number greater than 0 (got NaN)"],
    [{ shards: [{ name: "a", master: "h:1", role: "x" }] }, "unknown field in shards[0] 'role'"],
    [{ shards: two, sharding: { strategy: "modula" } }, 'sharding.strategy must be "slots" or "ketama" (got "modula")'],
    [{ shards: two, sharding: { strategy: "ketama", slots: {} } }, "unknown field in sharding (strategy ketama) 'slots'"],
    [{ shards: two, sharding: { strategy: "ketama", hashTag: "{" } }, 'sharding.hashTag must be false or two printable ASCII characters such as "{}" (got "{")'],
    [{ shards: two, sharding: { slots: { s0: [[0, 100]], s1: [[50, 16383]] } } }, "slots 50-100 are assigned to both s0 and s1"],
    [{ shards: two, sharding: { slots: { s0: [[0, 100]], s1: [[200, 16383]] } } }, "slots 101-199 are not assigned to any shard"],
    [{ shards: two, sharding: { slots: { s0: [[0, 8191]], s1: [[8192, 16384]] } } }, "sharding.slots.s1[0] must be [start, end] with integers from 0 to 16383"],
    [{ shards: two, commandTimeoutMs: 0 }, "commandTimeoutMs must be a number of milliseconds from 1 to 2147483647 (got 0)"],
    [{ shards: two, commandTimeoutMs: -5 }, "commandTimeoutMs must be a number of milliseconds from 1 to 2147483647 (got -5)"],
    [{ shards: two, lazyConnect: "yes" }, 'lazyConnect must be true or false (got "yes")'],
    [{ shards: two, retries: 3 }, "unknown option 'retries'"],
    [{ shards: two, redis: { pasword: "x" } }, "unknown option 'redis.pasword'"],
    [{ shards: two, redis: { db: -1 } }, "redis.db must be an integer from 0 to 1000000 (got -1)"],
    [{ shards: two, redis: { db: 1.5 } }, "redis.db must be an integer from 0 to 1000000 (got 1.5)"],
    [{ cluster: { seeds: ["h:1"] }, redis: { db: 2 } }, "redis.db must be 0 over a cluster: a Redis Cluster has database 0 only"],
    [{ shards: two, redis: { protocol: 4 } }, "redis.protocol must be one of 2, 3 (got 4)"],
    [{ shards: two, redis: { host: "h" } }, "redis.host is managed by shardis: give addresses in shards[].master"],
    [{ shards: two, redis: { keyPrefix: 5 } }, "redis.keyPrefix must be a string"],
    [{ shards: two, redis: { replyMapping: "maps" } }, 'redis.replyMapping must be one of legacy, resp3 (got "maps")'],
    [{ shards: two, redis: { replyMapping: "resp3", protocol: 2 } }, 'redis.replyMapping "resp3" is only supported with protocol 3 (redis.protocol is 2)'],
    [{ shards: two, pool: { max: 0 } }, "pool.max must be an integer from 1 to 10000 (got 0)"],
    [{ shards: two, pool: { max: 2, minIdle: 3 } }, "pool.minIdle (3) must not exceed pool.max (2)"],
    [{ shards: two, pool: { size: 3 } }, "unknown option 'pool.size'"],
    [{ shards: two, breaker: { errorThresholdPercentage: 0 } }, "breaker.errorThresholdPercentage must be an integer from 1 to 100 (got 0)"],
    [{ shards: two, breaker: { resetTimeoutMs: -1 } }, "breaker.resetTimeoutMs must be an integer from 1 to 2147483647 (got -1)"],
    [{ shards: two, breaker: { timeout: 5 } }, "unknown option 'breaker.timeout'"],
    [{ shards: two, breaker: true }, "breaker must be an object (got true)"],
    [{ shards: two, retry: { attempts: -1 } }, "retry.attempts must be an integer from 0 to 100 (got -1)"],
    [{ shards: two, retry: { idempotentCommands: ["set", "nosuch"] } }, "retry.idempotentCommands names unknown command 'nosuch'"],
    [{ shards: two, retry: { idempotentCommands: "set" } }, "retry.idempotentCommands must be an array of command names"],
    [{ shards: two, maxQueueLength: 0 }, "maxQueueLength must be an integer from 1 to 10000000 (got 0)"],
    [{ shards: two, maxWriteDelayMs: -1 }, "maxWriteDelayMs must be false or a number of ms from 0 to 1000 (got -1)"],
    [{ shards: two, maxWriteDelayMs: true }, "maxWriteDelayMs must be false or a number of ms from 0 to 1000 (got true)"],
    [{ shards: two, fallback: "cache" }, 'fallback must be a function (command, args, error) => value (got "cache")'],
    [{ shards: [{ name: "a" }] }, 'shards[0] needs master ("host:port") or masterName (discovered through sentinels)'],
    [{ shards: [{ name: "a", master: "h:1", masterName: "m" }], sentinels: ["h:2"] }, "shards[0] gives both master and masterName; give one"],
    [{ shards: [{ name: "a", masterName: "m" }] }, "sentinels must list at least one sentinel when a shard has a masterName"],
    [{ shards: [{ name: "a", masterName: "m" }, { name: "b", masterName: "m" }], sentinels: ["h:2"] }, "shards[1].masterName 'm' duplicates shards[0].masterName"],
    [{ shards: [{ name: "a", masterName: "m", replicas: ["h:3"] }], sentinels: ["h:2"] }, "shards[0].replicas: replicas of a Sentinel-managed shard are discovered; remove them"],
    [{ shards: [{ name: "a", master: "h:1", replicas: ["h:1"] }] }, "shards[0].replicas[0] h:1 duplicates shards[0].master"],
    [{ shards: [{ name: "a", master: "h:1", replicas: "h:2" }] }, "shards[0].replicas must be an array of addresses"],
    [{ shards: two, sentinels: ["h:26379"] }, "sentinels are given but no shard has a masterName"],
    [{ shards: [{ name: "a", masterName: "m" }], sentinels: [] }, "sentinels must be a non-empty array of addresses (got an array)"],
    [{ shards: [{ name: "a", masterName: "m" }], sentinels: ["h:1", "h:1"] }, "sentinels[1] h:1 is listed twice"],
    [{ shards: [{ name: "a", masterName: "m" }], sentinels: ["h:1"], sentinelOptions: { pasword: "x" } }, "unknown option 'sentinelOptions.pasword'"],
    [{ shards: two, readFrom: "closest" }, "readFrom must be one of master, replicaPreferred, replica, nearest, any (got \"closest\")"],
    [{ shards: two, maxReplicaLagMs: 0 }, "maxReplicaLagMs must be an integer from 1 to 2147483647 (got 0)"],
    [{ shards: two, natMap: { "h:1": "nope" } }, 'natMap["h:1"] "nope" has no port (expected "host:port")'],
    [{ shards: [{ name: "a", master: "redis://u:pw@h:1?tls=1" }] }, "shards[0].master: URL parameter 'tls' is not a connection option shardis can honour in a query (give it in redis, or in the URL's own parts)"],
    [{ shards: [{ name: "a", master: "redis://h:1/1" }, { name: "b", master: "redis://h:2/2" }] }, "shards[1].master: the URL's db 2 differs from shards[0].master's: connection options apply to every node of a client, so URLs must agree with each other and with redis"],
    [{ shards: [{ name: "a", master: "redis://u:pw@h:1" }], redis: { password: "other" } }, "shards[0].master: the URL's password differs from redis's: connection options apply to every node of a client, so URLs must agree with each other and with redis"],
    [{ shards: two, natMap: { "pw@h:1": "h:2" } }, 'natMap key "***@h:1": "***@h:1" is a URL: write "host:port", and give credentials in redis.username and redis.password (or redis.credentials), TLS in redis.tls'],
    [{ shards: two, redis: { credentials: "token" } }, 'redis.credentials must be a function () => ({ username?, password }) (got "token")'],
    [{ shards: two, redis: { credentials: () => ({ password: "p" }), password: "p" } }, "redis.credentials replaces redis.username and redis.password: give one or the other"],
    [{ shards: two, redis: { password: "p", reauthenticateEveryMs: 60_000 } }, "redis.reauthenticateEveryMs needs redis.credentials (a provider of fresh credentials)"],
    [{ shards: two, redis: { credentials: () => ({ password: "p" }), reauthenticateEveryMs: 10 } }, "redis.reauthenticateEveryMs must be an integer from 1000 to 2147483647 (got 10)"],
    [{ shards: [{ name: "a", masterName: "m" }], sentinels: ["h:1"], sentinelOptions: { username: "u", credentials: () => ({ password: "p" }) } }, "sentinelOptions.credentials replaces sentinelOptions.username and sentinelOptions.password: give one or the other"],
    [{ shards: two, allowedAddresses: ["*"] }, 'allowedAddresses[0] "*" would match any host: leave allowedAddresses unset to allow every address'],
    [{ shards: two, allowedAddresses: ["10.0.*.1:x"] }, 'allowedAddresses[0] "10.0.*.1:x": the port must be 1-65535 or * (got "x")'],
    [{ shards: two, allowedAddresses: ["10.0.0.1*"] }, 'allowedAddresses[0] "10.0.0.1*": the host must be a name or address, with * for whole labels only ("10.0.0.*", "*.cache.example")'],
    [{ shards: two, writeConcern: { replicas: 1, timeoutMs: 0 } }, "writeConcern.timeoutMs must be an integer from 1 to 2147483647 (got 0) (0 would wait forever)"],
    [{ shards: two, writeConcern: { replicas: 0, timeoutMs: 50 } }, "writeConcern.replicas must be an integer from 1 to 1000 (got 0)"],
  ])("rejects %j", (options, problem) => {
    expect(problemsOf(options)).toContain(problem);
  });

  it("accepts ioredis options shardis does its own way, leaves them out and warns once per option", () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => warning.code === "SHARDIS_IGNORED_OPTION" && warnings.push(warning.message);
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string, options: { code?: string }) => onWarning(Object.assign(new Error(warning), options))) as typeof process.emitWarning;
    try {
      const ignored = { enableAutoPipelining: true, reconnectOnError: () => false, autoResubscribe: false };
      const resolved = resolveOptions({ shards: two, redis: { ...ignored, connectionName: "app" } });
      expect(resolved.redis).toEqual({ connectTimeout: 1000, connectionName: "app" });
      resolveOptions({ shards: two, redis: ignored });
      expect(warnings.map((w) => w.split(" is ignored")[0]).sort()).toEqual(["redis.autoResubscribe", "redis.enableAutoPipelining", "redis.reconnectOnError"]);
      expect(warnings.find((w) => w.startsWith("redis.reconnectOnError"))).toMatch(/follows failovers/);
    } finally {
      process.emitWarning = emit;
    }
  });

  it("takes the ioredis options it maps (retryStrategy, maxRetriesPerRequest, enableOfflineQueue, socketTimeout, blockingTimeout) as they are, without a warning", () => {
    const warnings: string[] = [];
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string) => void warnings.push(warning)) as typeof process.emitWarning;
    try {
      const retryStrategy = () => 50;
      const mapped = { retryStrategy, maxRetriesPerRequest: 3, enableOfflineQueue: false, socketTimeout: 5000, blockingTimeout: 200, blockingTimeoutGrace: 50 };
      expect(resolveOptions({ shards: two, redis: mapped }).redis).toEqual({ connectTimeout: 1000, ...mapped });
      expect(resolveOptions({ shards: two, redis: { maxRetriesPerRequest: null } }).redis).toEqual({ connectTimeout: 1000, maxRetriesPerRequest: null });
      // ioredis's "never reconnect".
      expect(resolveOptions({ shards: two, redis: { retryStrategy: null } }).redis).toEqual({ connectTimeout: 1000, retryStrategy: null });
      expect(warnings).toEqual([]);
    } finally {
      process.emitWarning = emit;
    }
    expect(problemsOf({ shards: two, redis: { retryStrategy: 50, maxRetriesPerRequest: -1, enableOfflineQueue: "no", socketTimeout: 0 } })).toEqual([
      "redis.retryStrategy must be a function (times) => delay in ms, or null (got 50)",
      "redis.maxRetriesPerRequest must be an integer from 0 to 1000000 (got -1)",
      'redis.enableOfflineQueue must be true or false (got "no")',
      "redis.socketTimeout must be an integer from 1 to 2147483647 (got 0)",
    ]);
  });

  it("takes ioredis's commandTimeout and lazyConnect under redis as the top-level commandTimeoutMs and lazyConnect", () => {
    const resolved = resolveOptions({ shards: two, redis: { commandTimeout: 250, lazyConnect: true, db: 1 } });
    expect([resolved.commandTimeoutMs, resolved.lazyConnect, resolved.redis]).toEqual([250, true, { connectTimeout: 1000, db: 1 }]);
    expect(resolveOptions({ shards: two, commandTimeoutMs: 250, redis: { commandTimeout: 250 } }).commandTimeoutMs).toBe(250);
    expect(problemsOf({ shards: two, commandTimeoutMs: 100, redis: { commandTimeout: 250 } })).toEqual(["redis.commandTimeout (250) and commandTimeoutMs (100) differ: give one"]);
    expect(problemsOf({ shards: two, redis: { commandTimeout: 0 } })).toEqual([expect.stringMatching(/^commandTimeoutMs must be a number of milliseconds/)]);
  });

  it("takes ioredis's keyPrefix under redis, out of what the connections get", () => {
    const resolved = resolveOptions({ shards: two, redis: { keyPrefix: "app:", db: 1 } });
    expect(resolved.keyPrefix).toBe("app:");
    expect(resolved.redis).toEqual({ connectTimeout: 1000, db: 1 });
    expect(resolveOptions({ shards: two }).keyPrefix).toBe("");
  });

  it("reads ioredis's Sentinel shape as one Sentinel shard, connection options under redis", () => {
    const resolved = resolveOptions({
      sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2" }, { port: 26380 }],
      name: "mymaster",
      role: "slave",
      sentinelUsername: "s-user",
      sentinelPassword: "s-secret",
      enableTLSForSentinelMode: true,
      sentinelTLS: { servername: "sentinel.local" },
      password: "d-secret",
      db: 3,
      keyPrefix: "app:",
      commandTimeoutMs: 500,
    });
    expect(resolved.shards).toEqual([{ name: "mymaster", index: 0, weight: 1, master: undefined, replicas: [], masterName: "mymaster" }]);
    expect(resolved.sentinels).toEqual([{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }, { host: "localhost", port: 26380 }]);
    expect(resolved.sentinelOptions).toMatchObject({ username: "s-user", password: "s-secret", tls: { servername: "sentinel.local" } });
    expect(resolved.redis).toMatchObject({ password: "d-secret", db: 3 });
    expect([resolved.readFrom, resolved.keyPrefix, resolved.commandTimeoutMs]).toEqual(["replica", "app:", 500]);
    // A master name that is not a shard name gives the shard "s0".
    expect(resolveOptions({ sentinels: ["h:26379"], name: "my:master/1" }).shards[0]).toMatchObject({ name: "s0" });
    expect(problemsOf({ sentinels: ["h:26379"], name: "m", shards: two })).toContain(
      "name is ioredis's Sentinel master name, for a client of one master: give it with sentinels and without shards or cluster (or give shards[].masterName)",
    );
    expect(problemsOf({ sentinels: ["h:26379"], name: "m", role: "replica" })).toContain('role must be "master" or "slave" (got "replica")');
  });

  it("reads redis:// URL addresses as ioredis does: host and port, their credentials, db, TLS and query options under redis", () => {
    const resolved = resolveOptions({ shards: [{ name: "a", master: "rediss://u:p%40ss@h:7000/3?protocol=2&family=4&enableReadyCheck=false" }], cluster: undefined });
    expect(resolved.shards[0]!.master).toEqual({ host: "h", port: 7000 });
    expect(resolved.redis).toMatchObject({ username: "u", password: "p@ss", db: 3, tls: {}, protocol: 2, family: 4, enableReadyCheck: false });
    expect(resolveOptions({ cluster: { seeds: ["redis://[::1]"] } }).cluster!.seeds).toEqual([{ host: "::1", port: 6379 }]);
  });

  it("lists every problem in one error", () => {
    const problems = problemsOf({
      shards: [{ name: "s0", master: "h:0" }, { name: "s0", master: "h:1", weight: 0 }],
      sharding: { strategy: "nope" },
      commandTimeoutMs: "fast",
      bogus: 1,
    });
    expect(problems.length).toBeGreaterThanOrEqual(5);
    try {
      resolveOptions({ shards: [{ name: "s0", master: "h:0" }], bogus: 1 });
    } catch (error) {
      expect((error as Error).message).toMatch(/invalid shardis options \(2 problems\):\n {2}- unknown option 'bogus'\n {2}- shards\[0\]\.master port/);
    }
  });

  it("rejects options that are not an object", () => {
    expect(problemsOf(null)).toEqual(["options must be an object (got null)"]);
    expect(problemsOf("s0:7000")).toEqual(['options must be an object (got "s0:7000")']);
  });

  it("never echoes a password, even a malformed one", () => {
    const secret = "hunter2-very-secret";
    expect(() => resolveOptions({ shards: two, redis: { password: 12345, username: secret } })).toThrow(ConfigError);
    const message = (() => {
      try {
        resolveOptions({ shards: two, redis: { password: [secret] } });
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();
    expect(message).toContain("redis.password must be a string");
    expect(message).not.toContain(secret);
  });
});
