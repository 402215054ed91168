/**
 * Keeps ioredis's per-command queue entries from holding commands in the
 * old generation.
 *
 * ioredis queues every written command as an object literal
 * (`{ command, stream, select }`) until its reply. V8 pretenures an object
 * literal's allocation site for good once one scavenge finds nearly all of
 * its recent objects alive (a burst of thousands of commands in flight is
 * enough: a preload, a cache warm-up). From then on every entry is born in
 * the old generation, and after its reply, dead but uncollected until the
 * next mark-compact, it keeps its command alive: the arguments, the promise
 * and its reactions, the reply, the caller's continuation. Scavenges then
 * promote about 1 KB per command and the process runs at half speed, in one
 * process out of two (docs/benchmarks.md, "The garbage-collector mode").
 *
 * Here each entry is copied, as it is queued, into an instance of a class
 * (V8 never pretenures `new`: only literals carry allocation sites), and the
 * literal lets go of its command at once. The literal's site then sees its
 * objects die young and is not pretenured; if it was (another ioredis client
 * in the process, under a burst), its objects hold nothing.
 */
import type { Redis } from "ioredis";

/** An entry of ioredis's command queue, as ioredis reads it (command, and the stream and db it was written for). */
interface QueueEntry {
  command: unknown;
  stream?: unknown;
  select?: number;
}

class Queued implements QueueEntry {
  constructor(
    public command: unknown,
    public stream: unknown,
    public select: number | undefined,
  ) {}
}

interface CommandQueue {
  push(entry: QueueEntry): number;
}

/** ioredis's internals this relies on (Redis.js: resetCommandQueue() makes each new queue; sendCommand() pushes to it). */
interface QueueOwner {
  commandQueue: CommandQueue;
  resetCommandQueue(): void;
}

function entriesDieYoung(queue: CommandQueue): void {
  const push = queue.push;
  queue.push = function (this: CommandQueue, entry: QueueEntry): number {
    const own = new Queued(entry.command, entry.stream, entry.select);
    entry.command = undefined;
    return push.call(this, own);
  };
}

export function youngCommandQueue<R extends Redis>(redis: R): R {
  const owner = redis as unknown as QueueOwner;
  // Absent on a connection that is not ioredis's Redis (nothing to do there).
  if (typeof owner.resetCommandQueue !== "function" || typeof owner.commandQueue?.push !== "function") return redis;
  const reset = owner.resetCommandQueue;
  owner.resetCommandQueue = function (this: QueueOwner): void {
    reset.call(this);
    entriesDieYoung(this.commandQueue);
  };
  entriesDieYoung(owner.commandQueue);
  return redis;
}
