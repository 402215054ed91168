/**
 * The wall clock as of this event-loop turn: Date.now() read once per turn
 * rather than on every hit (it cost as much as reading the entry's header).
 * It lags the wall clock by at most the turn's own length, which freshness
 * decisions for ttls of seconds do not notice; the lock's timing uses the
 * Redis server's clock and is not affected.
 */
let turnNow = 0;

const nextTurn = (): void => {
  turnNow = 0;
};

export function turnClock(): number {
  if (turnNow === 0) {
    turnNow = Date.now();
    setImmediate(nextTurn);
  }
  return turnNow;
}
