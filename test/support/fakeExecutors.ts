/**
 * Executors a unit test builds in fake time: closed after each test, their
 * close timers advanced (a close waits for in-flight commands, bounded by
 * timers), before real time returns. Push each executor built into the list.
 */
import { afterEach, vi } from "vitest";
import type { Executor } from "../../lib/exec/Executor.js";

export function closedAfterEach(): Executor[] {
  const executors: Executor[] = [];
  afterEach(async () => {
    const closing = Promise.all(executors.splice(0).map((e) => e.close(0)));
    await vi.advanceTimersByTimeAsync(3000);
    await closing;
    vi.useRealTimers();
  });
  return executors;
}
