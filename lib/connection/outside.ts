/**
 * Where shardis's own work on its connections runs: outside every caller's
 * async context. One write carries many callers' commands and a connect or
 * handshake carries none; run in whichever request happened to start the
 * turn, tools that watch the transport (an APM wrapping ioredis's
 * sendCommand, ioredis's connect channel, net's) would file that work under
 * that request. The scope is the one this module was loaded in.
 */
import { AsyncResource } from "node:async_hooks";

const TRANSPORT = new AsyncResource("shardis.transport");

/** Runs fn outside the caller's async context. */
export function outsideCallers(fn: () => void): void {
  TRANSPORT.runInAsyncScope(fn);
}

/** fn, always run outside the async context of whoever calls or schedules it. */
export function detached(fn: () => void): () => void {
  return TRANSPORT.bind(fn);
}
