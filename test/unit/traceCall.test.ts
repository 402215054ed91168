/** A call's trace on shardis:call follows tracingChannel's semantics (metrics/tracing.ts), without a server. */
import { AsyncLocalStorage } from "node:async_hooks";
import diagnostics_channel from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import { ClientTracing } from "../../lib/metrics/clientTracing.js";
import { CALL_CHANNEL, callsTraced, currentCall, type CallTrace } from "../../lib/metrics/tracing.js";

const channel = diagnostics_channel.tracingChannel<unknown, CallTrace>(CALL_CHANNEL);

describe("call traces", () => {
  const events: string[] = [];
  const store = new AsyncLocalStorage<string>();
  const handlers = {
    start: (t: CallTrace) => events.push(`start ${t.operation} ${store.getStore()}`),
    end: (t: CallTrace) => events.push(`end ${t.operation}`),
    asyncStart: (t: CallTrace) => events.push(`asyncStart ${t.operation} ${store.getStore()}`),
    asyncEnd: (t: CallTrace) => events.push(`asyncEnd ${t.operation} ${t.durationMs >= 0}`),
    error: (t: CallTrace) => events.push(`error ${t.operation} ${(t.error as Error).message}`),
  };
  const tracing = new ClientTracing({}, 0, false);
  afterEach(() => {
    channel.unsubscribe(handlers);
    channel.start.unbindStore(store);
    events.length = 0;
  });

  it("costs a property read while nobody listens", () => {
    expect(callsTraced()).toBe(false);
  });

  it("enters bound stores for the call and its settlement, publishes in tracePromise's order, and returns the call's own promise", async () => {
    channel.start.bindStore(store, (t) => `store of ${t.operation}`);
    channel.subscribe(handlers);
    const promise = Promise.resolve("reply");
    const returned = tracing.call("command", "get", ["k"], () => {
      events.push(`inside ${store.getStore()} ${currentCall()?.operation}`);
      return promise;
    });
    expect(returned).toBe(promise);
    expect(currentCall()).toBeUndefined();
    await returned;
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([
      "start get store of get",
      "inside store of get get",
      "end get",
      "asyncStart get store of get",
      "asyncEnd get true",
    ]);
  });

  it("publishes error for a rejection and for a synchronous throw, and knows the innermost call", async () => {
    channel.subscribe(handlers);
    const failed = tracing.call("pipeline", "pipeline", undefined, () =>
      tracing.call("command", "set", undefined, () => {
        expect(currentCall()?.operation).toBe("set");
        return Promise.reject(new Error("WRONGTYPE"));
      }),
    );
    await expect(failed).rejects.toThrow("WRONGTYPE");
    expect(() => tracing.call("command", "get", undefined, () => { throw new Error("sync"); })).toThrow("sync");
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.filter((e) => e.startsWith("error"))).toEqual(["error set WRONGTYPE", "error pipeline WRONGTYPE", "error get sync"]);
  });
});
