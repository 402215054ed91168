/**
 * A TCP proxy between shardis and a real redis-server that injects network
 * faults on command, for existing and new connections alike:
 *   pass       forward both ways
 *   delay      forward, each chunk held back `delayMs` (with `onlyOpen`: on the connections open when set)
 *   drop       close connections (FIN) and close new ones on accept
 *   reset      reset connections (RST) and reset new ones on accept
 *   blackhole  accept, read and discard everything, answer nothing
 * Leaving blackhole resets the connections it swallowed data from, as a
 * healed partition leaves them dead: bytes were lost, so they cannot resume.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { freePort, HOST } from "./processes.js";

export type FaultMode = "pass" | "delay" | "drop" | "reset" | "blackhole";

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  swallowed: boolean;
  /** Passes delay mode by: opened after a delay set with `onlyOpen`. */
  undelayed: boolean;
}

export interface FaultProxy {
  readonly port: number;
  readonly address: string;
  readonly mode: FaultMode;
  /** Bytes received from clients so far (forwarded or not). */
  readonly bytesFromClients: number;
  /** `onlyOpen` (delay): only the connections open now are delayed; later ones pass. */
  set(mode: FaultMode, options?: { delayMs?: number; onlyOpen?: boolean }): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const port = await freePort();
  const pairs = new Set<Pair>();
  let mode: FaultMode = "pass";
  let delayMs = 0;
  let onlyOpen = false;
  let bytesFromClients = 0;

  const end = (pair: Pair, how: "fin" | "rst") => {
    pairs.delete(pair);
    if (how === "rst") pair.client.resetAndDestroy();
    else {
      pair.client.end();
      // Keep reading, or the peer's FIN is never seen and the socket lingers half-closed.
      pair.client.resume();
    }
    pair.upstream?.destroy();
  };

  /**
   * Moves a chunk along as the current mode says. Order is kept as TCP keeps
   * it: after a delay ends, new chunks still wait behind the delayed ones.
   * One queue drained by one timer: timers of different durations due at the
   * same instant may fire in any order, which would reorder the stream.
   */
  const forwarder = (pair: Pair, to: () => Socket | undefined) => {
    const held: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      timer = undefined;
      const now = Date.now();
      while (held.length && held[0]!.at <= now) to()?.write(held.shift()!.chunk);
      if (held.length) timer = setTimeout(release, held[0]!.at - now);
    };
    return (chunk: Buffer) => {
      if (mode === "blackhole") {
        pair.swallowed = true;
        return;
      }
      const now = Date.now();
      const at = Math.max(held.at(-1)?.at ?? 0, mode === "delay" && !pair.undelayed ? now + delayMs : now);
      if (held.length === 0 && at <= now) return void to()?.write(chunk);
      held.push({ at, chunk });
      timer ??= setTimeout(release, held[0]!.at - now);
    };
  };

  const server: Server = createServer((client) => {
    const pair: Pair = { client, upstream: undefined, swallowed: false, undelayed: mode === "delay" && onlyOpen };
    pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === "drop") return end(pair, "fin");
    if (mode === "reset") return end(pair, "rst");
    const upstream = createConnection({ host: target.host, port: target.port });
    pair.upstream = upstream;
    upstream.on("error", () => undefined);
    upstream.on("close", () => {
      if (pairs.has(pair)) end(pair, "fin");
    });
    const toUpstream = forwarder(pair, () => pair.upstream);
    client.on("data", (chunk: Buffer) => {
      bytesFromClients += chunk.length;
      toUpstream(chunk);
    });
    upstream.on("data", forwarder(pair, () => pair.client));
  });
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));

  return {
    port,
    address: `${HOST}:${port}`,
    get mode() {
      return mode;
    },
    get bytesFromClients() {
      return bytesFromClients;
    },
    set(next, options = {}) {
      const leaving = mode;
      mode = next;
      delayMs = options.delayMs ?? delayMs;
      onlyOpen = options.onlyOpen ?? false;
      for (const pair of pairs) pair.undelayed = false;
      if (next === "drop") for (const pair of [...pairs]) end(pair, "fin");
      if (next === "reset") for (const pair of [...pairs]) end(pair, "rst");
      if (leaving === "blackhole" && next !== "blackhole") {
        for (const pair of [...pairs]) if (pair.swallowed) end(pair, "rst");
      }
    },
    async close() {
      for (const pair of [...pairs]) end(pair, "rst");
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
