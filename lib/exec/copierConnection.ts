/**
 * The copier's connection to an old owner (copyAll(), docs/scaling.md): a
 * pooled connection of its own, so CLIENT NO-TOUCH (Redis 7.2+: its SCANs
 * and DUMPs leave the keys' LRU/LFU as they were, and eviction keeps
 * choosing by the application's use) never applies to the shared
 * connection the application's commands use. A server without it (7.0
 * answers "unknown subcommand") is used as it is. The flag is turned off
 * before the connection goes back to the pool.
 */
import { buildCommand } from "../commands/command.js";
import type { Executor } from "./Executor.js";

export async function shardConnection<T>(executor: Executor, shard: number, fn: (send: (name: string, args: unknown[]) => Promise<unknown>) => Promise<T>): Promise<T> {
  const timeoutMs = executor.defaults.timeoutMs;
  return executor.withPooled(shard, async (node) => {
    const send = (name: string, args: unknown[]) => node.send(buildCommand(name, args, null), timeoutMs);
    const noTouch = await send("client", ["no-touch", "on"]).then(
      () => true,
      () => false,
    );
    try {
      return await fn(send);
    } finally {
      if (noTouch) await send("client", ["no-touch", "off"]).catch(() => undefined);
    }
  });
}
