/** redlock 4.2 ships no types: the part test/compat/redlock.test.ts uses. */
declare module "redlock" {
  export class Lock {
    readonly resource: string | string[];
    readonly value: string;
    readonly expiration: number;
    unlock(): Promise<void>;
    extend(ttl: number): Promise<Lock>;
  }
  export class LockError extends Error {
    readonly attempts: number;
  }
  export default class Redlock {
    static LockError: typeof LockError;
    constructor(clients: unknown[], options?: { driftFactor?: number; retryCount?: number; retryDelay?: number; retryJitter?: number });
    lock(resource: string | string[], ttl: number): Promise<Lock>;
    on(event: "clientError", listener: (error: Error) => void): this;
  }
}
