/**
 * express-rate-limit with rate-limit-redis, unchanged: its sendCommand goes
 * to client.call(), SCRIPT LOAD (keyless) is broadcast to every shard, and
 * EVALSHA runs on the shard of each client key, also after a shard forgot
 * the script.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import express from "express";
import { rateLimit } from "express-rate-limit";
import { RedisStore, type RedisReply } from "rate-limit-redis";
import type { ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";

describe("express-rate-limit with rate-limit-redis over shards", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    await client.ready();
    const app = express();
    app.set("trust proxy", true);
    app.use(
      rateLimit({
        windowMs: 60_000,
        limit: 3,
        standardHeaders: "draft-7",
        legacyHeaders: false,
        keyGenerator: (req) => String(req.headers["x-user"]),
        store: new RedisStore({ prefix: "erl:", sendCommand: (...args: string[]) => client.call(...(args as [string, ...string[]])) as Promise<RedisReply> }),
      }),
    );
    app.get("/", (_req, res) => void res.send("ok"));
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await fleet?.stop();
  });

  const hit = (user: string) => fetch(url, { headers: { "x-user": user } }).then((r) => r.status);

  it("counts every user on the shard of its key and answers 429 past the limit", async () => {
    const users = ["u1", "u2", "u3", "u4", "u5"];
    expect(new Set(users.map((u) => client.shardOf(`erl:${u}`))).size).toBe(3);
    for (const user of users) expect([await hit(user), await hit(user), await hit(user), await hit(user)]).toEqual([200, 200, 200, 429]);
    const owner = Number(client.shardOf("erl:u1").slice(1));
    expect(await fleet.raw(owner).get("erl:u1")).toBe("4");
  });

  it("keeps working after a shard loses its scripts (NOSCRIPT, then SCRIPT LOAD again)", async () => {
    await Promise.all([0, 1, 2].map((i) => fleet.raw(i).script("FLUSH")));
    expect([await hit("after-flush"), await hit("after-flush")]).toEqual([200, 200]);
  });
});
