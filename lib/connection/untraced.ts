/**
 * ioredis 6 publishes every command handed to its sendCommand on its
 * `ioredis:command` tracing channel unless the command is marked as traced
 * already (`command.isTraced`). shardis hands it whole batches, handshakes,
 * ROLE checks and probes, outside any caller's context: published there they
 * would be spans of nobody's, or of whichever request started the turn. So
 * every command on shardis's own connections is marked; shardis publishes
 * its callers' commands on that channel itself, each from its caller's
 * context (metrics/ioredisChannels.ts).
 */
import type { Redis } from "ioredis";

export function untraced<R extends Redis>(redis: R): R {
  const send = redis.sendCommand;
  redis.sendCommand = function (this: R, command, stream) {
    (command as { isTraced?: boolean }).isTraced = true;
    return send.call(this, command, stream);
  } as R["sendCommand"];
  return redis;
}
