/**
 * A socket that errors twice (a refused TLS handshake: the reset, then the
 * server's alert) must not leave an 'error' event without a listener:
 * ioredis 6 listens with once(). The connection is a real ioredis Redis
 * from shardis's factory; only its socket is a fake, handed to it in place
 * of the one its connector would open.
 */
import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { ioredisConnections, type Connection } from "../../lib/connection/connection.js";
import { eventually } from "../support/keys.js";

class FakeSocket extends EventEmitter {
  connecting = true;
  destroyed = false;
  writable = true;
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): this {
    return this;
  }
  destroy(): this {
    return this;
  }
}

interface Internals {
  connector: { connect(): Promise<unknown> };
  stream: unknown;
}

const opened: { connection: Connection; socket: FakeSocket }[] = [];

/** A factory connection connected to `socket`, its "error" events collected. */
async function connected(socket = new FakeSocket()): Promise<{ connection: Connection; socket: FakeSocket; errors: unknown[] }> {
  const connection = ioredisConnections({})({ host: "127.0.0.1", port: 1 });
  const errors: unknown[] = [];
  connection.on("error", (error) => errors.push(error));
  (connection as unknown as Internals).connector.connect = () => Promise.resolve(socket);
  connection.connect().catch(() => undefined);
  await eventually(async () => expect((connection as unknown as Internals).stream).toBe(socket));
  opened.push({ connection, socket });
  return { connection, socket, errors };
}

afterEach(() => {
  for (const { connection, socket } of opened.splice(0)) {
    connection.disconnect();
    socket.emit("close");
  }
});

describe("a connection's socket keeps an error listener for its whole life", () => {
  it("a second error on the same socket is listened to, and reaches the connection's error event once", async () => {
    const { socket, errors } = await connected();
    const first = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const second = Object.assign(new Error("SSL routines:ssl3_read_bytes:tlsv1 alert decode error"), { code: "ERR_SSL_TLSV1_ALERT_DECODE_ERROR" });
    socket.emit("error", first);
    expect(() => socket.emit("error", second)).not.toThrow();
    await eventually(async () => expect(errors).toEqual([first, second]));
  });

  it("errors keep being listened to however many come", async () => {
    const { socket, errors } = await connected();
    const all = Array.from({ length: 5 }, (_, i) => new Error(`error ${i}`));
    for (const error of all) expect(() => socket.emit("error", error)).not.toThrow();
    await eventually(async () => expect(errors).toEqual(all));
  });

  it("an error after the connection was closed on request is listened to and not reported", async () => {
    const { connection, socket, errors } = await connected();
    socket.emit("error", new Error("first"));
    await eventually(async () => expect(errors).toHaveLength(1));
    connection.disconnect();
    socket.emit("close");
    await eventually(async () => expect(connection.status).toBe("end"));
    expect(() => socket.emit("error", new Error("late"))).not.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
  });
});
