/**
 * Event sinks for an Executor built in a unit test (fake connections, fake
 * time): the tests look at replies and written commands, not at events.
 */
export const noEvents = { ready: () => undefined, down: () => undefined, error: () => undefined, breaker: () => undefined };

export const noFleetEvents = {
  nearCacheError: () => undefined,
  aclRefused: () => undefined,
  topology: () => undefined,
  failover: () => undefined,
  refused: () => undefined,
  sentinelError: () => undefined,
  clusterError: () => undefined,
  mastersChanged: () => undefined,
};
