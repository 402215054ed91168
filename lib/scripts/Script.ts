/**
 * A Lua script registered with defineCommand(). Calls run EVALSHA; a node
 * that does not have the script cached (first use on a connection, after
 * SCRIPT FLUSH, a restart or a failover) gets EVAL instead, which caches it.
 */
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";

export interface ScriptDefinition {
  /** The Lua source. */
  lua: string;
  /** How many leading arguments are keys. Omit to pass the count as the first argument of each call. */
  numberOfKeys?: number;
  /** The script only reads: it may run on replicas (later) and as EVAL_RO. @default false */
  readOnly?: boolean;
}

const NAME_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export class Script {
  readonly sha: string;
  readonly numberOfKeys: number | undefined;

  constructor(
    readonly name: string,
    readonly lua: string,
    numberOfKeys: number | undefined,
    readonly readOnly: boolean,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
    this.numberOfKeys = numberOfKeys;
  }

  static define(name: unknown, definition: unknown, taken: (name: string) => boolean): Script {
    if (typeof name !== "string" || !NAME_RE.test(name)) {
      throw new InvalidArgumentError(`defineCommand: the name must be a JavaScript identifier (got ${JSON.stringify(name)})`);
    }
    if (taken(name)) throw new InvalidArgumentError(`defineCommand: "${name}" is already a method; pick another name`);
    const def = (definition ?? {}) as Partial<ScriptDefinition>;
    if (typeof def.lua !== "string" || def.lua.trim() === "") {
      throw new InvalidArgumentError(`defineCommand("${name}"): lua must be a non-empty string`);
    }
    const keys = def.numberOfKeys;
    if (keys !== undefined && (!Number.isInteger(keys) || keys < 0)) {
      throw new InvalidArgumentError(`defineCommand("${name}"): numberOfKeys must be an integer >= 0 (got ${String(keys)})`);
    }
    return new Script(name, def.lua, keys, def.readOnly === true);
  }

  /** The arguments after the script: [numkeys, ...keys, ...args]. */
  evalArgs(callArgs: unknown[]): unknown[] {
    const flat = callArgs.flat();
    return this.numberOfKeys === undefined ? flat : [this.numberOfKeys, ...flat];
  }
}
