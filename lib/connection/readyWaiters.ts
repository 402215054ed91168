/**
 * Callers waiting for a connection to become ready (pool creation,
 * client.ready()), each with its own timeout; settled all at once when the
 * connection is ready or refused for good.
 */
interface Waiter {
  ready(): void;
  failed(error: Error): void;
}

export class ReadyWaiters {
  private waiters: Waiter[] = [];
  /** Set by close(): the connection will not become ready by itself, so a new waiter fails at once, not after its timeout. */
  private closed: Error | undefined;

  /** Resolves on ready(); rejects on fail() or close(), or with timeoutError() after timeoutMs. */
  wait(timeoutMs: number, timeoutError: () => Error): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ready: () => {
          clearTimeout(timer);
          resolve();
        },
        failed: (error) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.failed(timeoutError()), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  ready(): void {
    this.closed = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.ready();
  }

  fail(error: Error): void {
    for (const waiter of [...this.waiters]) waiter.failed(error);
  }

  /** The connection is closed (by the client) or ended (no reconnection): waiters now and later fail with `error`, until ready(). */
  close(error: Error): void {
    this.closed = error;
    this.fail(error);
  }
}
