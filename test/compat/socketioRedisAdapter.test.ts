/**
 * @socket.io/redis-adapter 8.3, unchanged: three socket.io 4.8 servers in
 * this process, each with a sharded client as its pub client and a
 * duplicate() as its sub client, over three shards; socket.io-client
 * sockets on each. Broadcasts cross servers through pub/sub, and the
 * request/response calls (serverCount, fetchSockets, allRooms,
 * serverSideEmitWithAck) go through send_command and PUBSUB NUMSUB.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { createAdapter } from "@socket.io/redis-adapter";
import type { ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

describe("@socket.io/redis-adapter over shards", () => {
  let fleet: Fleet;
  const servers: Server[] = [];
  const https: HttpServer[] = [];
  const sockets: ClientSocket[] = [];
  const clients: ShardedClient[] = [];

  beforeAll(async () => {
    fleet = await startFleet(3);
    for (let i = 0; i < 3; i++) {
      const pub = fleet.client();
      const sub = pub.duplicate();
      clients.push(pub, sub);
      const http = createServer();
      const server = new Server(http, { adapter: createAdapter(pub, sub, { requestsTimeout: 5000 }) });
      server.on("connection", (socket) => {
        void socket.join(`room-${i}`);
        socket.on("ping-server", (ack: (reply: string) => void) => ack(`pong from ${i}`));
      });
      server.on("hello", (from: number, ack: (reply: string) => void) => ack(`server ${i} heard ${from}`));
      await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
      servers.push(server);
      https.push(http);
      const socket = connectClient(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ["websocket"], reconnection: false });
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("connect_error", reject));
      sockets.push(socket);
    }
    // Every adapter has subscribed its request channel: serverCount() counts them with PUBSUB NUMSUB.
    await eventually(async () => expect(await servers[0]!.of("/").adapter.serverCount()).toBe(3));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    await fleet?.stop();
  });

  it("counts the servers, fetches every server's sockets and rooms through Redis", async () => {
    const nsp = servers[0]!.of("/");
    expect(await nsp.adapter.serverCount()).toBe(3);
    const fetched = await servers[0]!.fetchSockets();
    expect(fetched.map((s) => s.id).sort()).toEqual(sockets.map((s) => s.id).sort());
    const rooms = await (nsp.adapter as unknown as { allRooms(): Promise<Set<string>> }).allRooms();
    expect([...rooms].filter((r) => r.startsWith("room-")).sort()).toEqual(["room-0", "room-1", "room-2"]);
    // The adapter's channels live on the shards their names hash to: the requests really went through Redis.
    const channels = (await Promise.all([0, 1, 2].map((i) => fleet.raw(i).pubsub("CHANNELS")))).flat() as string[];
    expect(channels).toContain("socket.io-request#/#");
  });

  it("asks every other server and collects their acknowledgements", async () => {
    const replies = await servers[1]!.serverSideEmitWithAck("hello", 1);
    expect((replies as string[]).sort()).toEqual(["server 0 heard 1", "server 2 heard 1"]);
  });

  it("broadcasts to a room whose socket is on another server", async () => {
    const heard = new Promise<string>((resolve) => sockets[2]!.once("news", resolve));
    servers[0]!.to("room-2").emit("news", "from server 0");
    expect(await heard).toBe("from server 0");
    const remote = await servers[0]!.in("room-1").fetchSockets();
    expect(remote).toHaveLength(1);
    remote[0]!.emit("news", "direct");
    expect(await new Promise<string>((resolve) => sockets[1]!.once("news", resolve))).toBe("direct");
  });
});
