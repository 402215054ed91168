/**
 * The loads of one cache in this process, at most one per key. Every path
 * that calls a loader starts its load here (Rebuilds: a miss, a direct load
 * while the key's node is down, a background or early refresh,
 * getOrSetMany's batch), so two loads of one key at once in one process
 * cannot happen, whatever the path or the node's state.
 *
 * A flight lasts until its load settles (loadTimeoutMs bounds that, in
 * Rebuilds), not until its callers stop waiting: a caller that gave up after
 * waitTimeoutMs does not let the next one start a second load beside the
 * first; the next one joins it. Each caller waits on its own view of the
 * load, bounded by waitTimeoutMs from when it joined.
 *
 * Every promise kept here is handled: a load nobody waits for (a refresh,
 * callers gone) never becomes an unhandled rejection; callers see a failure
 * through their own view.
 */
import type { EntryKey } from "./keys.js";
import type { Found } from "./types.js";

const ignore = (): void => undefined;

interface Flight<T> {
  readonly load: Promise<Found<T>>;
  /** Settles (never rejects) once the load has and the flight is gone from the map. */
  readonly done: Promise<void>;
  /** A refresh: its callers were served the current value and do not wait for it. */
  readonly background: boolean;
}

export class Flights<T> {
  private readonly flights = new Map<string, Flight<T>>();
  /** Loads callers wait for (not refreshes): the hit path looks a key up only while one runs. */
  private awaitedCount = 0;

  constructor(
    private readonly waitTimeoutMs: number,
    /** What a caller gets after waitTimeoutMs (the load goes on). */
    private readonly timedOut: (entry: EntryKey) => Error,
  ) {}

  /** How many loads callers wait for run now (refreshes not counted): while 0, the hit path looks nothing up. */
  get awaitedLoads(): number {
    return this.awaitedCount;
  }

  /**
   * The running load of the key as a caller waits for it, unless there is
   * none or it is a refresh (whose callers read the value it refreshes).
   */
  awaited(entry: EntryKey): Promise<Found<T>> | undefined {
    const flight = this.flights.get(entry.id);
    return flight && !flight.background ? this.bounded(entry, flight.load) : undefined;
  }

  /**
   * The key's load as a caller waits for it: the one running, or `start`'s.
   * After a refresh in progress, `start` runs (and finds what the refresh
   * wrote, if it wrote anything: its lock's acquire returns it).
   */
  run(entry: EntryKey, start: () => Promise<Found<T>>): Promise<Found<T>> {
    const running = this.flights.get(entry.id);
    if (!running) return this.bounded(entry, this.begin(entry, start(), false));
    if (!running.background) return this.bounded(entry, running.load);
    return this.bounded(
      entry,
      running.done.then(() => this.run(entry, start)),
    );
  }

  /** Starts a refresh nobody waits for, unless the key has a load running already (which makes it pointless). */
  background(entry: EntryKey, start: () => Promise<Found<T>>): void {
    if (!this.flights.has(entry.id)) this.begin(entry, start(), true);
  }

  /**
   * Many keys as callers wait for them: those with a load running are
   * joined (run, with startOne), the others loaded by one call of startMany,
   * which gives a promise per key; each key is a flight of its own.
   */
  runMany(
    entries: readonly EntryKey[],
    startMany: (free: readonly EntryKey[]) => ReadonlyMap<string, Promise<Found<T>>>,
    startOne: (entry: EntryKey) => Promise<Found<T>>,
  ): Map<string, Promise<Found<T>>> {
    const out = new Map<string, Promise<Found<T>>>();
    const free = entries.filter((entry) => !this.flights.has(entry.id));
    const loads = free.length ? startMany(free) : new Map<string, Promise<Found<T>>>();
    for (const entry of entries) {
      const load = loads.get(entry.id);
      out.set(entry.id, load ? this.bounded(entry, this.begin(entry, load, false)) : this.run(entry, () => startOne(entry)));
    }
    return out;
  }

  /** Registers a load as the key's flight until it settles; returns the load. */
  private begin(entry: EntryKey, load: Promise<Found<T>>, background: boolean): Promise<Found<T>> {
    const end = () => {
      if (this.flights.get(entry.id) === flight) this.flights.delete(entry.id);
      if (!background) this.awaitedCount--;
    };
    if (!background) this.awaitedCount++;
    const flight: Flight<T> = { load, done: load.then(end, end), background };
    this.flights.set(entry.id, flight);
    return load;
  }

  /** `load` as one caller waits for it: rejected with timedOut once waitTimeoutMs has passed. Handled. */
  private bounded(entry: EntryKey, load: Promise<Found<T>>): Promise<Found<T>> {
    const view = new Promise<Found<T>>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.timedOut(entry)), this.waitTimeoutMs);
      load.then(
        (found) => {
          clearTimeout(timer);
          resolve(found);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
    view.catch(ignore);
    return view;
  }
}
