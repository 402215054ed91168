/**
 * @fastify/rate-limit 11.2 on fastify 5, unchanged, its `redis` option given
 * the sharded client: it defines its Lua scripts with defineCommand
 * (`rateLimit`, `rateLimitRead`) once, and calls them with a node-style
 * callback; each counter lives on the shard that owns its key. Requests go
 * through app.inject(); the counters are read back on the owning shard with
 * a plain client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Fastify, { type FastifyInstance } from "fastify";
import rateLimit from "@fastify/rate-limit";
import { fleetWithClient, watchUnhandled } from "../support/fleet.js";

describe("@fastify/rate-limit 11.2 over shards", () => {
  const ctx = fleetWithClient(3);
  const unhandled = watchUnhandled();
  let app: FastifyInstance;
  const nameSpace = "frl:";

  beforeAll(async () => {
    app = Fastify();
    await app.register(rateLimit, { redis: ctx.client, nameSpace, max: 3, timeWindow: 60_000, keyGenerator: (req) => String(req.headers["x-user"]) });
    app.get("/", async () => "ok");
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    unhandled.stop();
    expect(unhandled.errors).toEqual([]);
  });

  const hit = async (user: string) => (await app.inject({ method: "GET", url: "/", headers: { "x-user": user } })).statusCode;
  const owner = (key: string) => ctx.fleet.raw(Number(ctx.client.shardOf(key).slice(1)));

  it("counts each user on the shard of its key and answers 429 past the limit", async () => {
    const users = ["u1", "u2", "u3", "u4", "u5", "u6"];
    // A global limit: the namespace, then what keyGenerator returned.
    const keyOf = (user: string) => `${nameSpace}${user}`;
    expect(new Set(users.map((u) => ctx.client.shardOf(keyOf(u)))).size).toBe(3);
    for (const user of users) expect([await hit(user), await hit(user), await hit(user), await hit(user)]).toEqual([200, 200, 200, 429]);
    for (const user of users) {
      expect(await owner(keyOf(user)).get(keyOf(user))).toBe("4");
      const ttl = await owner(keyOf(user)).pttl(keyOf(user));
      expect(ttl > 0 && ttl <= 60_000, String(ttl)).toBe(true);
    }
    const reply = await app.inject({ method: "GET", url: "/", headers: { "x-user": "u1" } });
    expect(reply.statusCode).toBe(429);
    expect(reply.headers["x-ratelimit-limit"]).toBe("3");
    expect(reply.headers["x-ratelimit-remaining"]).toBe("0");
  });
});
