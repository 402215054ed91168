import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { keySlot } from "../../lib/index.js";
import { startRedis, type RedisServer } from "../support/redis.js";

/** Keys that stress the hash-tag rules, in string and binary form. */
function oddKeys(): Array<string | Buffer> {
  const shapes = [
    "", "{", "}", "{}", "}{", "{}{}", "{{}}", "{a}", "{a", "a}", "}a{", "{}a", "a{}", "{}{a}", "{a}{b}", "{{a}}",
    "a{b}c", "a{b{c}d}e", "{ }", "{\u00e9}", "x{\u65e5\u672c}y", "{\ud83d\ude00}", "\ud83d\ude00{x}", "{\0}", "\r\n{\t}",
    "user:{1000}:following", "{user:1000}", "foo{{bar}}zap", "foo{bar}{zap}", "{}{}{}{x}", "\u00ff{\u00fe}",
  ];
  const keys: Array<string | Buffer> = [...shapes, ...shapes.map((s) => Buffer.from(s))];
  const random = fc.sample(fc.string({ unit: "binary", maxLength: 24 }), { numRuns: 6000, seed: 42 });
  keys.push(...random);
  const braces = fc.sample(fc.string({ unit: fc.constantFrom("{", "}", "a", "b", "\u00e9"), maxLength: 10 }), { numRuns: 3000, seed: 7 });
  keys.push(...braces);
  for (let i = 0; i < 3000; i++) {
    const bytes = randomBytes(1 + (i % 20));
    if (i % 3 === 0) bytes[i % bytes.length] = 0x7b; // "{"
    if (i % 4 === 0) bytes[(i * 7) % bytes.length] = 0x7d; // "}"
    keys.push(bytes);
  }
  // Invalid UTF-16 (lone surrogates) is sent as U+FFFD by Buffer encoding, on both sides.
  keys.push("\ud800", "{\udc00}", "a\ud800b");
  return keys;
}

describe("keySlot against a real cluster-enabled redis-server", () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis({ cluster: true });
    redis = server.client({ protocol: 2 });
  });
  afterAll(async () => server?.stop());

  it("equals CLUSTER KEYSLOT for every key, strings and Buffers", async () => {
    const keys = oddKeys();
    expect(keys.length).toBeGreaterThan(12000);
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.cluster("KEYSLOT", key);
    const replies = (await pipeline.exec())!;
    const mismatches = keys.filter((key, i) => replies[i]![1] !== keySlot(key));
    expect(mismatches.map((k) => (Buffer.isBuffer(k) ? `0x${k.toString("hex")}` : JSON.stringify(k)))).toEqual([]);
  });
});
