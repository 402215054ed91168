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

  /** Resolves on ready(); rejects on fail() or with timeoutError() after timeoutMs. */
  wait(timeoutMs: number, timeoutError: () => Error): Promise<void> {
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
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.ready();
  }

  fail(error: Error): void {
    for (const waiter of [...this.waiters]) waiter.failed(error);
  }
}
