/**
 * A tracing-channel subscriber as APM tools write them: it binds a store of
 * its own to `start` (as Sentry's and OpenTelemetry's channel integrations
 * do) and records, for every context, the caller's AsyncLocalStorage store
 * at start and at asyncEnd, and whether its own bound store was the one for
 * that context at both.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import diagnostics_channel from "node:diagnostics_channel";

/** The application's store: one per request. */
export const requests = new AsyncLocalStorage<string>();

export interface Seen<C> {
  readonly ctx: C;
  /** The request's store when start was published. */
  readonly atStart: string | undefined;
  /** The subscriber's bound store was entered for this context when start was published. */
  readonly boundAtStart: boolean;
  atEnd?: string | undefined;
  boundAtEnd?: boolean;
  ended: boolean;
  failed: boolean;
}

export interface Watch<C> {
  readonly seen: Array<Seen<C>>;
  stop(): void;
}

export function watchChannel<C extends object>(name: string): Watch<C> {
  const channel = diagnostics_channel.tracingChannel<unknown, C>(name);
  const bound = new AsyncLocalStorage<{ ctx: C; request: string | undefined }>();
  const byCtx = new Map<C, Seen<C>>();
  const seen: Array<Seen<C>> = [];
  const handlers = {
    start: (ctx: C) => {
      const entry: Seen<C> = { ctx, atStart: requests.getStore(), boundAtStart: bound.getStore()?.ctx === ctx, ended: false, failed: false };
      byCtx.set(ctx, entry);
      seen.push(entry);
    },
    end: () => undefined,
    asyncStart: () => undefined,
    error: (ctx: C) => {
      const entry = byCtx.get(ctx);
      if (entry) entry.failed = true;
    },
    asyncEnd: (ctx: C) => {
      const entry = byCtx.get(ctx);
      if (!entry) return;
      entry.atEnd = requests.getStore();
      entry.boundAtEnd = bound.getStore()?.ctx === ctx;
      entry.ended = true;
    },
  };
  channel.start.bindStore(bound, (ctx) => ({ ctx, request: requests.getStore() }));
  channel.subscribe(handlers);
  return {
    seen,
    stop() {
      channel.unsubscribe(handlers);
      channel.start.unbindStore(bound);
    },
  };
}
