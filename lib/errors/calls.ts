/** Errors of a call itself: its options, arguments, routing, and what a client or pipeline allows. */
import { ShardisError } from "./base.js";

/** The options given to the constructor are invalid; `problems` lists each one. */
export class ConfigError extends ShardisError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super("ERR_SHARDIS_CONFIG", `invalid shardis options (${count}):\n  - ${problems.join("\n  - ")}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** A call was made with an argument shardis cannot use (wrong type, out of range). */
export class InvalidArgumentError extends ShardisError {
  constructor(message: string) {
    super("ERR_SHARDIS_INVALID_ARGUMENT", message);
  }
}

/** A multi-key command whose keys live on more than one shard and cannot be split. */
export class CrossShardError extends ShardisError {
  readonly command: string;
  readonly shards: readonly string[];

  constructor(command: string, shards: readonly string[], hint: string) {
    super(
      "ERR_SHARDIS_CROSS_SHARD",
      `${command.toUpperCase()} keys span shards ${shards.join(", ")}; ${hint}`,
    );
    this.command = command;
    this.shards = Object.freeze([...shards]);
  }
}

/** A command with no key (KEYS, FLUSHDB, CLIENT, ...), or a script called without keys, has no shard to go to. */
export class KeylessCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string, what: "command" | "script" = "command") {
    super(
      "ERR_SHARDIS_KEYLESS_COMMAND",
      what === "script"
        ? `script ${JSON.stringify(command)} was called without keys, so it has no shard; ` +
            `define it with { shard: name }, or call client.shard(name)[${JSON.stringify(command)}](...)`
        : `${command.toUpperCase()} has no key to route by; send it to one shard with ` +
            `client.shard(name).${command.toLowerCase()}(...)`,
    );
    this.command = command;
  }
}

/** A command name the bundled command table does not know, so its keys cannot be found. */
export class UnknownCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string) {
    super(
      "ERR_SHARDIS_UNKNOWN_COMMAND",
      `unknown command ${JSON.stringify(command)}: shardis cannot tell which arguments are keys; ` +
        `send it to one shard with client.shard(name).call(...)`,
    );
    this.command = command;
  }
}

/** A command that would break the shared connection (SELECT, SUBSCRIBE, QUIT, ...). */
export class UnsupportedCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string, reason: string) {
    super("ERR_SHARDIS_UNSUPPORTED_COMMAND", `${command.toUpperCase()} is not supported here: ${reason}`);
    this.command = command;
  }
}

export class UnknownShardError extends ShardisError {
  readonly shard: string;

  constructor(shard: string, known: readonly string[]) {
    super("ERR_SHARDIS_UNKNOWN_SHARD", `no shard named ${JSON.stringify(shard)} (shards: ${known.join(", ")})`);
    this.shard = shard;
  }
}

/**
 * The client was closed with quit() or disconnect(); it accepts no more
 * commands. The message is ioredis's own, which libraries (BullMQ, ...) match.
 */
export class ClientClosedError extends ShardisError {
  constructor() {
    super("ERR_SHARDIS_CLIENT_CLOSED", "Connection is closed.");
  }
}

/** The fallback given in the options threw or rejected; `cause` is what it threw. */
export class FallbackError extends ShardisError {
  readonly command: string;

  constructor(command: string, cause: unknown) {
    super("ERR_SHARDIS_FALLBACK_FAILED", `the fallback for ${command.toUpperCase()} failed: ${String((cause as Error)?.message ?? cause)}`, { cause });
    this.command = command;
  }
}

/**
 * A command sent to several shards (a split MGET/MSET/DEL, or a pipeline)
 * failed on some of them; on the others it ran. `results` holds what a
 * pipeline got, entry by entry.
 */
export class PartialFailureError extends ShardisError {
  readonly command: string;
  readonly failures: ReadonlyArray<{ shard: string; error: Error }>;
  readonly succeeded: readonly string[];
  readonly results: ReadonlyArray<[Error | null, unknown?]> | undefined;

  constructor(
    command: string,
    failures: Array<{ shard: string; error: Error }>,
    succeeded: string[],
    results?: Array<[Error | null, unknown?]>,
  ) {
    const failed = failures.map((f) => `${f.shard}: ${f.error.message}`).join("; ");
    const ran = succeeded.length ? `; it ran on ${succeeded.join(", ")}` : "";
    super(
      "ERR_SHARDIS_PARTIAL_FAILURE",
      `${command.toUpperCase()} failed on ${failures.length} shard(s) (${failed})${ran}`,
      { cause: failures[0]?.error },
    );
    this.command = command;
    this.failures = Object.freeze([...failures]);
    this.succeeded = Object.freeze([...succeeded]);
    this.results = results && Object.freeze([...results]);
  }
}

/** exec() was called a second time on the same pipeline or transaction. */
export class AlreadyExecutedError extends ShardisError {
  constructor(what: "pipeline" | "transaction") {
    super("ERR_SHARDIS_ALREADY_EXECUTED", `this ${what} was already executed; build a new one`);
  }
}

/** A connection lent by withConnection() was used after its callback finished. */
export class ConnectionReleasedError extends ShardisError {
  constructor() {
    super("ERR_SHARDIS_CONNECTION_RELEASED", "this dedicated connection went back to the pool when the withConnection() callback finished");
  }
}

/** connect() on a client that is connecting or connected already; the message is ioredis's own. */
export class AlreadyConnectedError extends ShardisError {
  constructor() {
    super("ERR_SHARDIS_ALREADY_CONNECTED", "Redis is already connecting/connected");
  }
}
