/**
 * A Lua script registered with defineCommand(). Calls run EVALSHA; a node
 * that does not have the script cached (first use on a connection, after
 * SCRIPT FLUSH, a restart or a failover) gets EVAL instead, which caches it.
 * A read-only script runs as EVALSHA_RO/EVAL_RO, so it may run on replicas.
 */
import { createHash } from "node:crypto";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { popCallback, type Callback, type Encoding } from "./install.js";

export interface ScriptDefinition {
  /** The Lua source. */
  lua: string;
  /** How many leading arguments are keys. Omit to pass the count as the first argument of each call. */
  numberOfKeys?: number;
  /**
   * The script only reads: it runs as EVALSHA_RO/EVAL_RO (Redis 7), routed
   * like a read, so the client's (or the call's) readFrom may send it to a
   * replica. Redis refuses a write inside it. @default false
   */
  readOnly?: boolean;
  /**
   * Where a call without keys runs (a script with numberOfKeys 0, or a call
   * passing 0 keys). Without it such calls are refused with
   * KeylessCommandError: a script without keys has no shard.
   */
  shard?: string;
}

/** Any name ioredis accepts as a command name: BullMQ's "addStandardJob:6.7.0" included. */
const NAME_RE = /^[^\s]{1,200}$/;

export class Script {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
    readonly numberOfKeys: number | undefined,
    readonly readOnly: boolean,
    /** Shard index for calls without keys; undefined refuses them. */
    readonly shard: number | undefined,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  /** Validates a definition; `shardIndex` resolves a shard name (-1 when unknown). A name `taken` is a ConfigError. */
  static define(name: unknown, definition: unknown, taken: (name: string) => boolean, shardIndex: (name: string) => number): Script {
    if (typeof name !== "string" || !NAME_RE.test(name)) {
      throw new InvalidArgumentError(`defineCommand: the name must be a non-empty string without spaces (got ${JSON.stringify(name)})`);
    }
    if (taken(name)) {
      throw new ConfigError([`defineCommand: "${name}" is already used by the client or an object it hands out (a method, a property, or a name await and JSON give meaning to); pick another name`]);
    }
    const def = (definition ?? {}) as Partial<ScriptDefinition>;
    if (typeof def.lua !== "string" || def.lua.trim() === "") {
      throw new InvalidArgumentError(`defineCommand("${name}"): lua must be a non-empty string`);
    }
    const keys = def.numberOfKeys;
    if (keys !== undefined && (!Number.isInteger(keys) || keys < 0)) {
      throw new InvalidArgumentError(`defineCommand("${name}"): numberOfKeys must be an integer >= 0 (got ${String(keys)})`);
    }
    if (def.readOnly !== undefined && typeof def.readOnly !== "boolean") {
      throw new InvalidArgumentError(`defineCommand("${name}"): readOnly must be true or false`);
    }
    let shard: number | undefined;
    if (def.shard !== undefined) {
      shard = typeof def.shard === "string" ? shardIndex(def.shard) : -1;
      if (shard === -1) throw new InvalidArgumentError(`defineCommand("${name}"): shard ${JSON.stringify(def.shard)} is not a shard name`);
    }
    return new Script(name, def.lua, keys, def.readOnly === true, shard);
  }

  /** The arguments after the script: [numkeys, ...keys, ...args]. */
  evalArgs(callArgs: unknown[]): unknown[] {
    const flat = callArgs.flat();
    return this.numberOfKeys === undefined ? flat : [this.numberOfKeys, ...flat];
  }

  /** EVALSHA or EVALSHA_RO; EVAL or EVAL_RO. */
  get evalshaCommand(): string {
    return this.readOnly ? "evalsha_ro" : "evalsha";
  }

  get evalCommand(): string {
    return this.readOnly ? "eval_ro" : "eval";
  }
}

/**
 * How a facade runs a defined script: the client, a scope or a shard handle
 * run it now (a promise); a pipeline or transaction queues it (and returns
 * itself). Script methods are installed once per facade kind, all calling this.
 */
export const RUN_SCRIPT = Symbol("shardis.runScript");

export interface ScriptRunner {
  [RUN_SCRIPT](script: Script, args: unknown[], encoding: Encoding, callback: Callback | undefined): unknown;
}

/** Defines `name` and `nameBuffer` on target (a prototype or an instance), each calling its RUN_SCRIPT. */
export function installScript(target: object, script: Script): void {
  for (const [method, encoding] of [[script.name, "utf8"], [`${script.name}Buffer`, null]] as const) {
    Object.defineProperty(target, method, {
      configurable: true,
      writable: true,
      value(this: ScriptRunner, ...args: unknown[]) {
        const callback = popCallback(args);
        return this[RUN_SCRIPT](script, args, encoding, callback);
      },
    });
  }
}
