import { describe, expect, it } from "vitest";
import { connectionOptions, tlsFor } from "../../lib/connection/connectionOptions.js";

describe("TLS options per node", () => {
  it("verify (and send as SNI) the announced name, else the configured servername, else the hostname dialled", () => {
    const tls = { ca: "CA" };
    expect(tlsFor({ host: "127.0.0.1", port: 1, servername: "a.cache.example" }, tls)).toEqual({ ca: "CA", servername: "a.cache.example" });
    expect(tlsFor({ host: "a.cache.example", port: 1 }, tls)).toEqual({ ca: "CA", servername: "a.cache.example" });
    expect(tlsFor({ host: "10.0.0.1", port: 1 }, tls)).toEqual({ ca: "CA" });
    expect(tlsFor({ host: "10.0.0.1", port: 1 }, { ...tls, servername: "tunnel.example" })).toEqual({ ca: "CA", servername: "tunnel.example" });
    // A configured servername wins over the host dialled (an SSH tunnel to localhost), not over a name a cluster announced.
    expect(tlsFor({ host: "localhost", port: 1 }, { ...tls, servername: "real.example" }).servername).toBe("real.example");
    expect(tlsFor({ host: "127.0.0.1", port: 1, servername: "n1.example" }, { ...tls, servername: "real.example" }).servername).toBe("n1.example");
  });

  it("leave the caller's tls options untouched, and add none without TLS", () => {
    const tls = Object.freeze({ ca: "CA" });
    const options = connectionOptions({ host: "a.example", port: 1 }, { tls });
    expect(options.tls).toEqual({ ca: "CA", servername: "a.example" });
    expect(tls).toEqual({ ca: "CA" });
    expect(connectionOptions({ host: "a.example", port: 1 }, {}).tls).toBeUndefined();
  });
});
