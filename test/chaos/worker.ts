/**
 * One chaos client process: its own ShardedClient, `lanes` sequential loops
 * of the mixed workload until `runUntil` (or SIGTERM), every call recorded
 * to its history file. Then quit(), and it must exit on its own: it prints
 * {"done"} with what is still holding the event loop and does nothing more.
 *
 * Environment: CHAOS_WORKER, JSON of WorkerConfig.
 */
import { appendFileSync } from "node:fs";
import { ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { Random } from "../sim/random.js";
import { JsonLines, now, recordError, recordReply, type CallRecord } from "./history.js";
import { valueFor } from "./keys.js";
import { nextOperation, SCRIPT, SCRIPT_LUA, type Lane } from "./workload.js";

export interface WorkerConfig {
  readonly worker: number;
  readonly lanes: number;
  readonly seed: number;
  /** Wall-clock ms at which lanes stop starting calls. */
  readonly runUntil: number;
  /** Pause between one lane's calls, in ms: [min, max]. */
  readonly pauseMs: readonly [number, number];
  readonly historyPath: string;
  readonly client: ShardedClientOptions;
}

const config = JSON.parse(process.env.CHAOS_WORKER ?? "") as WorkerConfig;
const history = new JsonLines(config.historyPath);
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
let runUntil = config.runUntil;

// A crash must be on record even if the process dies before the stream flushes: written synchronously.
const crash = (what: string) => appendFileSync(config.historyPath, `${JSON.stringify({ type: "crash", w: config.worker, at: now(), what })}\n`);
process.on("unhandledRejection", (reason) => {
  crash(`unhandledRejection: ${(reason as Error)?.stack ?? String(reason)}`);
  process.exitCode = 1;
});
process.on("uncaughtException", (error) => {
  crash(`uncaughtException: ${error.stack ?? String(error)}`);
  process.exit(1);
});
const stop = () => (runUntil = 0);
process.on("SIGTERM", stop);

const client = new ShardedClient(config.client);
client.defineCommand(SCRIPT, { numberOfKeys: 1, lua: SCRIPT_LUA });
// A short TTL so values expire and are loaded again all through the soak.
const cache = client.cache<string>({ namespace: "chaos", ttlMs: 3000, staleMs: 1000, waitTimeoutMs: 1500, loadTimeoutMs: 1000 });
await client.ready(15_000).catch((error: unknown) => say({ notReady: (error as Error).message }));
say({ ready: true });

let seq = 0;
let calls = 0;
const random = new Random(config.seed);

async function runLane(index: number): Promise<void> {
  const lane: Lane = {
    client,
    cache,
    random: new Random(random.int(1, 2 ** 31)),
    worker: config.worker,
    lane: index,
    value: (key) => valueFor(key, config.worker, ++seq),
    loaded: (key, value) => history.write({ type: "load", w: config.worker, key, value, start: now() }),
  };
  while (now() < runUntil) {
    const operation = nextOperation(lane);
    const record = { type: "call", w: config.worker, l: index, seq: ++seq, op: operation.op, args: operation.args, start: now() };
    let settled: Partial<CallRecord>;
    try {
      settled = { reply: recordReply(await operation.run()) };
    } catch (error) {
      settled = { error: recordError(error) };
    }
    history.write({ ...record, end: now(), ...settled });
    calls++;
    await new Promise((resolve) => setTimeout(resolve, lane.random.int(config.pauseMs[0], config.pauseMs[1])));
  }
}

await Promise.all(Array.from({ length: config.lanes }, (_, i) => runLane(i)));
// --grow: the migration's phase and counters (fallback reads, copies, invalidations...), to show it ran.
const migration = client.migration();
const quitStarted = now();
await client.quit();
const quitMs = Math.round(now() - quitStarted);
await history.close();
process.off("SIGTERM", stop);
// What still holds the event loop after quit(): stdio pipes are expected, nothing of the client should be.
const resources = process.getActiveResourcesInfo();
say({ done: true, calls, quitMs, resources, ...(migration ? { migration } : {}) });
