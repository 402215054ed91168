/**
 * MGET through the near cache: keys it holds (as GET entries) are answered
 * from memory, the rest go to Redis as one MGET, and a failure of that MGET
 * reaches the caller as the whole MGET's would have: the near cache changes
 * no error contract.
 */
import type { CallOptions } from "../config/callOptions.js";
import type { Encoding } from "../commands/install.js";
import { PartialFailureError } from "../errors.js";
import { commandSpec } from "../routing/commandSpec.js";
import type { Args, SplitPlan } from "../routing/plan.js";
import { UNASSIGNED } from "../topology/Topology.js";
import type { Executor } from "./Executor.js";
import { fanOut } from "./fanOut.js";
import type { NearCacheLink } from "./NearCacheLink.js";

/** Sends a command past the near cache (the executor's dispatch). */
type Dispatch = (name: string, args: unknown[], encoding: Encoding, call: CallOptions) => Promise<unknown>;

export class NearMgets {
  constructor(
    private readonly executor: Executor,
    private readonly dispatch: Dispatch,
  ) {}

  /** Its keys (given one by one or in arrays, as the command builder flattens them) served from GET entries where cached. */
  run(near: NearCacheLink, args: unknown[], encoding: Encoding, call: CallOptions): Promise<unknown> | undefined {
    const keys = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args.some(Array.isArray) ? args.flat() : args;
    const get = commandSpec("get");
    return near.mget(
      keys,
      encoding,
      (key) => {
        // A moving key is read on one owner or the other from dual to switch: not kept (as a GET of it is not).
        if (this.executor.moves.moving(key)) return -1;
        const route = this.executor.router.route(get, [key]);
        return typeof route === "number" && route !== UNASSIGNED ? route : -1;
      },
      (missing) => this.dispatch("mget", missing, encoding, call).catch((error: unknown) => this.failed(keys, missing, error, call)),
    );
  }

  /**
   * The MGET of the keys the near cache did not answer failed. An MGET over
   * several shards fails with a PartialFailureError naming them all (those
   * answered from memory among the succeeded), or with `partial` reads each
   * failed key as its shard's error, even when the keys left for Redis all
   * live on the failed shard. An MGET of one shard fails with that shard's
   * error, as it is.
   */
  private failed(keys: readonly unknown[], missing: string[], error: unknown, call: CallOptions): unknown {
    const mget = commandSpec("mget");
    const router = this.executor.router;
    let whole: number | SplitPlan;
    try {
      whole = router.route(mget, keys as Args);
    } catch {
      throw error;
    }
    if (typeof whole === "number") throw error;
    let failures: Array<{ shard: string; error: Error }>;
    if (error instanceof PartialFailureError) failures = [...error.failures];
    else {
      // Not split, so sent to one shard: its failure.
      const sent = router.route(mget, missing);
      if (typeof sent !== "number" || sent === UNASSIGNED) throw error;
      if (call.partial) return missing.map(() => error);
      failures = [{ shard: this.executor.shardName(sent), error: error as Error }];
    }
    const failed = new Set(failures.map((f) => f.shard));
    const succeeded = [...new Set(whole.parts.map((part) => this.executor.shardName(part.shard)))].filter((name) => !failed.has(name));
    throw fanOut.failed(mget.name, failures, succeeded);
  }
}
