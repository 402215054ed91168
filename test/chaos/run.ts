/**
 * npm run chaos -- [--minutes N] [--topology plain|sentinel|cluster] [--grow] [--clients 2-4] [--lanes N] [--seed S] [--out DIR] [--keep]
 *
 * A chaos soak against real servers: starts the topology, 2-4 client
 * processes running the mixed workload, and the fault loop for N minutes;
 * then heals everything, lets the clients run on a quiet topology, stops
 * them, and checks their histories, the fault log and the final state.
 * Prints the report; exits 1 on any failed verdict. Ctrl-C stops the faults
 * and still checks what ran; a second Ctrl-C stops everything at once.
 * Histories are kept in the output directory when a check fails (or with --keep).
 * --grow (plain): a 4th shard added by a live migration while the faults run (growth.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Random } from "../sim/random.js";
import { closeAdmins } from "./admin.js";
import { HistoryChecker } from "./check/checker.js";
import { LossWindows } from "./check/losses.js";
import { FaultLoop } from "./faultLoop.js";
import { growth, phaseClock } from "./growth.js";
import { CopyRuns } from "./operator.js";
import { readFinal, scopes } from "./final.js";
import { waitHealthy } from "./health.js";
import { JsonLines, now, readJsonLines, type HistoryRecord } from "./history.js";
import { report } from "./report.js";
import { startTopology, type ChaosTopology, type TopologyKind } from "./topology.js";
import { WorkerProcess, type WorkerOutcome } from "./workers.js";

/** With --grow: when the faults are expected to start, from the topology being up (the clients' start-up). */
const READY_ESTIMATE_MS = 6000;
/** After the last fault healed: how long clients keep running, and from when on every call must succeed. */
const QUIET_MS = 12_000;
const GRACE_MS = 7_000;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const minutes = Number(option("minutes", "1"));
const kind = option("topology", "plain") as TopologyKind;
const clients = Number(option("clients", "3"));
const lanes = Number(option("lanes", "4"));
const seed = Number(option("seed", String(Math.floor(Math.random() * 1e9))));
const keep = process.argv.includes("--keep");
const grow = process.argv.includes("--grow");
if (!["plain", "sentinel", "cluster"].includes(kind) || !(minutes > 0) || !(clients >= 2 && clients <= 4) || !(lanes >= 1) || (grow && kind !== "plain")) {
  console.error("usage: npm run chaos -- --minutes N --topology plain|sentinel|cluster [--grow (plain only)] [--clients 2-4] [--lanes N] [--seed S] [--out DIR] [--keep]");
  process.exit(2);
}
const outDir = process.argv.includes("--out") ? option("out", "") : mkdtempSync(join(tmpdir(), `shardis-chaos-${kind}-`));
mkdirSync(outDir, { recursive: true });
const began = now();
const print = (line: string) => console.log(`[${((now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}`);

let topology: ChaosTopology | undefined;
let loop: FaultLoop | undefined;
const workers: WorkerProcess[] = [];
let interrupted = false;

async function stopEverything(): Promise<void> {
  for (const w of workers) w.kill();
  closeAdmins();
  await topology?.stop().catch(() => undefined);
}

process.on("SIGINT", () => {
  if (interrupted) {
    print("second interrupt: stopping everything");
    void stopEverything().finally(() => process.exit(130));
    return;
  }
  interrupted = true;
  print("interrupted: healing the current fault, stopping the clients, then checking");
  loop?.abort();
  for (const w of workers) w.terminate();
});

async function main(): Promise<number> {
  const random = new Random(seed);
  print(`chaos soak: ${kind}${grow ? " growing 3 -> 4 shards" : ""}, ${clients} clients x ${lanes} lanes, ${minutes} min of faults, seed ${seed}, output ${outDir}`);
  topology = await startTopology(kind, grow);
  // The migration's instants are fixed before the clients start (every one gets the same config).
  const migration = grow ? growth(Date.now() + READY_ESTIMATE_MS, minutes * 60_000) : undefined;
  const clock = migration && phaseClock(migration);
  print(`topology up: ${topology.nodes.map((n) => n.server.address).join(" ")}${topology.sentinels.length ? `; sentinels ${topology.sentinels.map((s) => s.address).join(" ")}` : ""}`);
  const ids = Array.from({ length: clients }, (_, i) => i + 1);
  for (const worker of ids) {
    workers.push(
      new WorkerProcess({
        worker,
        lanes,
        seed: random.int(1, 2 ** 31),
        // Stopped with SIGTERM once the topology is quiet; this is only a backstop.
        runUntil: Date.now() + minutes * 60_000 + 10 * 60_000,
        pauseMs: [10, 40],
        historyPath: join(outDir, `history-w${worker}.jsonl`),
        client: topology.clientOptions(worker, migration),
      }),
    );
  }
  await Promise.all(workers.map((w) => w.ready()));
  print(`clients ready (pids ${workers.map((w) => w.pid).join(", ")})`);
  if (clock) {
    const at = (ms: number) => `${((ms - began) / 1000).toFixed(1)}s`;
    print(`migration s0-s2 -> s0-s3: dual at ${at(clock.dualAt)}, warm ${at(clock.warmAt)} (copies until ${at(clock.copyUntil)}), switch ${at(clock.switchAt)}, done ${at(clock.doneAt)}`);
  }
  const copyRuns = clock && new CopyRuns(topology.clientOptions(0, migration), clock, print);

  const faultLog = new JsonLines(join(outDir, "faults.jsonl"));
  // Grown: faults run until the migration is done on every client (S past doneAt) at least.
  const faultsUntil = Math.max(now() + minutes * 60_000, clock ? clock.retireAt : 0);
  loop = new FaultLoop({ topology, random, workers: ids, until: faultsUntil, log: faultLog, print });
  if (!interrupted) await loop.run();
  await faultLog.close();
  const unhealed = await waitHealthy(topology, 60_000);
  const healedAt = now();
  print(unhealed ? `NOT whole 60 s after the last fault: ${unhealed}` : `faults over, topology whole; ${QUIET_MS / 1000} s of quiet`);
  if (!interrupted) await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  for (const w of workers) w.terminate();
  const ends: WorkerOutcome[] = await Promise.all(workers.map((w) => w.outcome()));
  print(`clients stopped: ${ends.map((e) => `w${e.worker} ${e.hung ? "HUNG" : `exit ${e.signal ?? e.exitCode}`}${e.done ? ` ${e.exitMs} ms after quit() resolved (quit() took ${e.done.quitMs} ms)` : ""}`).join("; ")}`);

  const migrated = [...migrationLines(ends), ...((await copyRuns?.results()) ?? [])];
  for (const line of migrated) print(line);
  const placement = scopes(topology, topology.clientOptions(0), clock);
  const losses = new LossWindows(loop.records, placement.of);
  const checker = new HistoryChecker(losses, interrupted || unhealed ? Infinity : healedAt + GRACE_MS, clock && { switchAt: clock.switchAt });
  const files = ids.map((w) => join(outDir, `history-w${w}.jsonl`));
  for (const file of files) for await (const { record } of readJsonLines<HistoryRecord>(file)) checker.learn(record);
  for (const file of files) for await (const { record, line } of readJsonLines<HistoryRecord>(file)) checker.check(record, line);
  const final = await readFinal(topology, checker.durableKeys(), placement.of);
  // Grown: where a moving key missing on its new owner may still be (its old owner's final master).
  const missing = checker.durableKeys().filter((k) => final.get(k) === null && placement.of(k).owners);
  const oldOwners = await readFinal(topology, missing, (k) => ({ shard: placement.of(k).owners![0]!.shard }));
  await placement.close();
  const verdicts = checker.finish(final, ends, unhealed, oldOwners);
  const passed = verdicts.every((v) => v.pass);
  const elapsed = ((now() - began) / 1000).toFixed(0);
  console.log(report({ title: `chaos soak ${kind}: ${minutes} min of faults, ${elapsed} s in all, seed ${seed}${interrupted ? " (interrupted)" : ""}`, faults: loop.records, checker, verdicts, outDir, migrated }));
  console.log(passed ? "chaos soak: PASS" : "chaos soak: FAIL");
  if (passed && !keep) rmSync(outDir, { recursive: true, force: true });
  return passed && !interrupted ? 0 : 1;
}

/** Each client's migration counters at its end (--grow): they show the migration ran, and how. */
function migrationLines(ends: readonly WorkerOutcome[]): string[] {
  return ends.flatMap((e) => {
    const m = e.done?.migration;
    if (!m) return [];
    return [
      `migration w${e.worker}: ${m.phase}; fallbackReads ${m.fallbackReads}, copies ${m.copies}, copiesSkipped ${m.copiesSkipped}, copyFailures ${m.copyFailures}, ` +
        `writeCopies ${m.writeCopies}, writeCopyFailures ${m.writeCopyFailures}, invalidations ${m.invalidations}, invalidationFailures ${m.invalidationFailures}`,
    ];
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`chaos soak failed to run: ${(error as Error).stack ?? String(error)}`);
} finally {
  await stopEverything();
}
process.exit(code);
