/**
 * Where a ShardedClient answers the matrix's cases (matrixCases.ts)
 * differently from ioredis, and why: "one" is the drop-in shim over one
 * shard, "three" a three-shard client (keys under one hash tag, no `keyless`
 * option). docs/ioredis-compatibility.md lists the same, with the counts.
 */
export type Variant = "one" | "three";

const SHARED = {
  "watch/unwatch on the client":
    "WATCH holds one connection's state between calls, and the client's connections are shared by every caller: UnsupportedCommandError; use withConnection(key, (conn) => conn.watch(...))",
  select: "SELECT would change the db of a connection every caller shares: UnsupportedCommandError; set redis.db (the `db` option) instead",
  monitor: "MONITOR takes over its connection: UnsupportedCommandError; run it with redis-cli or a plain ioredis client against a node",
};

export const DIFFERENCES: Record<Variant, Record<string, string>> = {
  one: { ...SHARED },
  three: {
    ...SHARED,
    "multi EXECABORT": "a command missing its key cannot be routed on a fleet: InvalidArgumentError before anything is sent, where ioredis's server answers EXECABORT (one shard, or the `keyless` option: as ioredis)",
    "flushdb/dbsize/keys/randomkey": "KEYS, FLUSHDB, RANDOMKEY have no key to route by on a fleet: KeylessCommandError (client.shard(name), or the `keyless` option)",
    "ping/echo": "ECHO has no key to route by on a fleet: KeylessCommandError (PING is broadcast and answers PONG)",
    "time/lastsave shapes": "TIME and LASTSAVE are one server's: KeylessCommandError on a fleet",
    "config get": "CONFIG is one server's: KeylessCommandError on a fleet",
    "command count is a number": "COMMAND is one server's: KeylessCommandError on a fleet",
    "unknown command": "a command missing from the command table has no known keys, so it has no shard on a fleet: UnknownCommandError (client.shard(name).call(...)); one shard sends it to the server",
  },
};
