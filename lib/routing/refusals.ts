/**
 * Commands that would change the state of a connection every caller shares
 * (the selected db, the credentials, subscriber or transaction mode). Sent
 * on it, they would break unrelated commands, so they are refused up front,
 * each with what to use instead.
 */
const TRANSACTION = "transactions need a dedicated connection; see docs/cross-shard.md";
const PUBSUB = "subscriptions need a dedicated connection; see docs/cross-shard.md";

const REFUSED: Record<string, string> = {
  auth: "credentials are set once, in options.redis",
  hello: "the protocol and credentials are set once, in options.redis (HELLO without arguments, which changes nothing, is answered)",
  select: "every connection uses options.redis.db",
  quit: "use client.quit()",
  reset: "it would reset a shared connection",
  monitor: "it takes over the connection",
  subscribe: PUBSUB,
  psubscribe: PUBSUB,
  ssubscribe: PUBSUB,
  unsubscribe: PUBSUB,
  punsubscribe: PUBSUB,
  sunsubscribe: PUBSUB,
  multi: TRANSACTION,
  exec: TRANSACTION,
  discard: TRANSACTION,
  watch: TRANSACTION,
  unwatch: TRANSACTION,
  readonly: "it changes the connection's mode",
  readwrite: "it changes the connection's mode",
  sync: "it turns the connection into a replication stream",
  psync: "it turns the connection into a replication stream",
  replconf: "it is part of the replication protocol",
};

/** Why a command may not run on a shared connection, or undefined when it may. */
export function refusal(name: string, args: ReadonlyArray<unknown>): string | undefined {
  if (name === "client" && String(args[0]).toLowerCase() === "reply") return "CLIENT REPLY would desynchronise replies";
  // HELLO alone only reports the connection (server, version, protocol, id): it changes nothing shared.
  if (name === "hello" && args.length === 0) return undefined;
  return REFUSED[name];
}
