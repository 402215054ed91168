/**
 * Runs one part per shard in parallel and collects what each gave: the
 * replies in part order (a failed part's place filled by `onError`, when
 * given), the failures by shard and the shards that ran. Split commands and
 * broadcasts both go through here.
 */
import { PartialFailureError } from "../errors.js";

export interface FanOutPart {
  readonly shard: string;
  run(): Promise<unknown>;
}

export interface FanOutResult {
  readonly replies: unknown[];
  readonly failures: Array<{ shard: string; error: Error }>;
  readonly succeeded: string[];
}

export async function fanOut(parts: readonly FanOutPart[], onError?: (error: Error, index: number) => unknown): Promise<FanOutResult> {
  const settled = await Promise.allSettled(parts.map((part) => part.run()));
  const result: FanOutResult = { replies: [], failures: [], succeeded: [] };
  settled.forEach((outcome, i) => {
    const shard = parts[i]!.shard;
    if (outcome.status === "fulfilled") {
      result.replies.push(outcome.value);
      result.succeeded.push(shard);
      return;
    }
    const error = outcome.reason as Error;
    result.failures.push({ shard, error });
    result.replies.push(onError?.(error, i));
  });
  return result;
}

/** The error for a fan-out where some parts failed: which shards, why, and where it ran. */
fanOut.failed = (command: string, failures: FanOutResult["failures"], succeeded: string[]): PartialFailureError =>
  new PartialFailureError(command, failures, succeeded);
