/**
 * Credentials that change (`redis.credentials`, `sentinelOptions.credentials`):
 * the provider is asked before every connect of an ioredis connection, the
 * first and each reconnect, so a connection always opens with the
 * credentials valid now (IAM and Entra ID tokens live minutes). ioredis
 * reads username and password from its options when it connects; its
 * `connect` is wrapped on the instance (ioredis's own reconnects call it
 * too) to fill them in first. A provider that fails is reported on the
 * connection's "error" event and asked again after the reconnect backoff.
 */
import type { Redis } from "ioredis";
import type { Credentials, CredentialsProvider } from "../config/types.js";

/** Asks the provider; a reply without a string password is an error that never shows what it held. */
export async function fetchCredentials(provider: CredentialsProvider): Promise<Credentials> {
  let given: unknown;
  try {
    given = await provider();
  } catch (error) {
    throw new Error(`the credentials provider failed: ${error instanceof Error ? error.message : "it threw a non-error"}`);
  }
  const { username, password } = (given ?? {}) as Partial<Credentials>;
  if (typeof password !== "string" || (username !== undefined && typeof username !== "string")) {
    throw new Error("the credentials provider must return { username?: string, password: string }");
  }
  return username === undefined ? { password } : { username, password };
}

/** AUTH's arguments for the credentials. */
export function authArguments(credentials: Credentials): string[] {
  return credentials.username === undefined ? [credentials.password] : [credentials.username, credentials.password];
}

interface Reconnecting {
  options: { username?: string; password?: string; retryStrategy?: (attempt: number) => number | null | void };
  status: string;
  emit(event: "error", error: Error): boolean;
  emit(event: "end"): boolean;
}

/** Makes every connect of `redis` ask `provider` first. */
export function credentialsOnConnect(redis: Redis, provider: CredentialsProvider): void {
  const instance = redis as unknown as Reconnecting & Pick<Redis, "connect" | "disconnect">;
  const connect = redis.connect.bind(redis);
  const disconnect = redis.disconnect.bind(redis);
  let fetching: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let closed = false;
  let lastError: Error | undefined;

  instance.disconnect = (reconnect = false) => {
    if (!reconnect) {
      closed = true;
      clearTimeout(retry);
    }
    disconnect(reconnect);
  };
  instance.connect = ((callback?: (error?: Error | null) => void) => {
    // One provider call at a time; while a retry is pending, callers learn why instead of calling again.
    const pending = fetching ?? (retry ? Promise.reject(lastError) : (fetching = begin()));
    if (callback) pending.then(() => callback(), callback);
    return pending;
  }) as Redis["connect"];

  async function begin(): Promise<void> {
    try {
      const credentials = await fetchCredentials(provider);
      if (closed) throw new Error("Connection is closed.");
      instance.options.username = credentials.username;
      instance.options.password = credentials.password;
      failures = 0;
    } catch (error) {
      fetching = undefined;
      if (closed) throw error;
      lastError = error as Error;
      instance.emit("error", lastError);
      // ioredis's reconnect loop only runs after a connection closes: none opened, so the next attempt is scheduled here.
      const delay = instance.options.retryStrategy?.(++failures);
      if (typeof delay === "number") {
        retry = setTimeout(() => {
          retry = undefined;
          if (!closed) instance.connect().catch(() => undefined);
        }, delay);
        retry.unref();
      } else if (instance.status === "reconnecting") {
        // The retry strategy gave up: end the connection as ioredis would have, so its owner replaces it.
        instance.disconnect();
        instance.emit("end");
      }
      throw error;
    }
    fetching = undefined;
    return connect();
  }
}
