/**
 * ioredis attaches the failing command to errors (`err.command.args`); for a
 * rejected AUTH or HELLO that is the password. Errors from connection events
 * are copied field by field so no secret can ride along into logs.
 */
const SAFE_FIELDS = ["code", "errno", "syscall", "address", "port"] as const;

export function sanitizeError(error: unknown): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  const safe = new Error(source.message);
  safe.name = source.name;
  for (const field of SAFE_FIELDS) {
    const value = (source as unknown as Record<string, unknown>)[field];
    if (value !== undefined) (safe as unknown as Record<string, unknown>)[field] = value;
  }
  return safe;
}

const AUTH_FAILURE = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR (invalid (username-)?password|AUTH\b|Client sent AUTH)/;

/** Whether an error from a node's handshake means the credentials were refused. */
export function isAuthFailure(error: Error): boolean {
  return AUTH_FAILURE.test(error.message);
}
