import { detached } from "./outside.js";

/** Something that writes its queued commands when flushed. */
export interface Flushable {
  flush(): void;
}

/**
 * Coalesces writes: a node with queued commands is flushed once, in the
 * check phase of the current event-loop turn, so every command issued for it
 * during the turn (from any callback or promise) leaves in one write,
 * outside the async context of the caller that happened to come first.
 */
export class FlushScheduler {
  private dirty: Flushable[] = [];
  private scheduled = false;

  mark(node: Flushable): void {
    this.dirty.push(node);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = detached((): void => {
    this.scheduled = false;
    const nodes = this.dirty;
    this.dirty = [];
    for (const node of nodes) node.flush();
  });
}
