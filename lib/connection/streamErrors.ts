/**
 * Every socket ioredis opens keeps an 'error' listener for its whole life.
 * ioredis 6 listens to its socket with `once("error")` (Redis.js connect,
 * and the connector's firstError recorder): a socket's second error (a TLS
 * alert arriving after the reset or write error that ended a refused
 * handshake, say) found no listener, and Node made it an uncaught
 * exception. Hooked at the moment ioredis takes the socket (its `stream`
 * property), a lasting listener hands the connection's 'error' event any
 * error ioredis did not: shardis's typed path (NodeClient's node:error,
 * sanitized), under ioredis's own rules (silentEmit: nothing after "end"
 * or during a manual close). A late error of a socket the connection has
 * already replaced is dropped: the connection moved on.
 */
interface Hooked {
  stream?: unknown;
  on(event: "error", listener: (error: unknown) => void): unknown;
  emit(event: "error", error: unknown): boolean;
  /** ioredis's: emits only while listened to, and not once ended or closing on request. */
  silentEmit?(event: "error", error: unknown): unknown;
}

interface Socket {
  on(event: "error", listener: (error: unknown) => void): unknown;
}

export function lastingStreamErrors<R extends object>(redis: R): R {
  const target = redis as unknown as Hooked;
  // The errors ioredis reported itself: its listener runs in the same emit, so by the next tick it is known.
  const reported = new WeakSet<object>();
  target.on("error", (error) => void (isObject(error) && reported.add(error)));
  const hooked = new WeakSet<object>();
  const hook = (socket: unknown) => {
    if (!isSocket(socket) || hooked.has(socket)) return;
    hooked.add(socket);
    socket.on("error", (error) =>
      process.nextTick(() => {
        if ((isObject(error) && reported.has(error)) || current !== socket) return;
        if (target.silentEmit) target.silentEmit("error", error);
        else target.emit("error", error);
      }),
    );
  };
  let current = target.stream;
  hook(current);
  Object.defineProperty(target, "stream", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (socket: unknown) => {
      current = socket;
      hook(socket);
    },
  });
  return redis;
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

function isSocket(value: unknown): value is Socket & object {
  return isObject(value) && typeof (value as Partial<Socket>).on === "function";
}
