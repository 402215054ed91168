/**
 * Pub/sub of a client with ioredis's `keyPrefix`. ioredis prefixes what its
 * command table names as keys, and for pub/sub that is the sharded channels
 * alone: SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH carry the prefix, SUBSCRIBE,
 * PSUBSCRIBE and PUBLISH do not. SPUBLISH gets it with every other command
 * (exec/PrefixingExecutor); here the subscriber side gets it too, so the two
 * meet on the prefixed channel, on the shard that channel hashes to. As in
 * ioredis, "smessage" then names the channel as the server sends it, with
 * the prefix.
 */
import { prefixKeys } from "../commands/keyPrefix.js";
import { PubSub, type MessageHandler, type PubSubEvents, type PubSubHost } from "./PubSub.js";

export class PrefixingPubSub extends PubSub {
  constructor(
    host: PubSubHost,
    events: PubSubEvents,
    private readonly keyPrefix: string,
  ) {
    super(host, events);
  }

  override ssubscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    return super.ssubscribe(this.prefixed("ssubscribe", channels), handler);
  }

  override sunsubscribe(channels: ReadonlyArray<string | Buffer>, handler?: MessageHandler): Promise<number> {
    return super.sunsubscribe(this.prefixed("sunsubscribe", channels), handler);
  }

  /** As ioredis writes them (a Buffer channel stays a Buffer); none named (every channel) stays none. */
  private prefixed(command: string, channels: ReadonlyArray<string | Buffer>): Array<string | Buffer> {
    return prefixKeys(command, [...channels], this.keyPrefix) as Array<string | Buffer>;
  }
}
