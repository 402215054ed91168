/**
 * npm run chaos -- [--minutes N] [--topology plain|sentinel|cluster] [--clients 2-4] [--lanes N] [--seed S] [--out DIR] [--keep]
 *
 * A chaos soak against real servers: starts the topology, 2-4 client
 * processes running the mixed workload, and the fault loop for N minutes;
 * then heals everything, lets the clients run on a quiet topology, stops
 * them, and checks their histories, the fault log and the final state.
 * Prints the report; exits 1 on any failed verdict. Ctrl-C stops the faults
 * and still checks what ran; a second Ctrl-C stops everything at once.
 * Histories are kept in the output directory when a check fails (or with --keep).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Random } from "../sim/random.js";
import { closeAdmins } from "./admin.js";
import { HistoryChecker } from "./check/checker.js";
import { LossWindows } from "./check/losses.js";
import { FaultLoop } from "./faultLoop.js";
import { readFinal, scopes } from "./final.js";
import { waitHealthy } from "./health.js";
import { JsonLines, now, readJsonLines, type HistoryRecord } from "./history.js";
import { report } from "./report.js";
import { startTopology, type ChaosTopology, type TopologyKind } from "./topology.js";
import { WorkerProcess, type WorkerOutcome } from "./workers.js";

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
if (!["plain", "sentinel", "cluster"].includes(kind) || !(minutes > 0) || !(clients >= 2 && clients <= 4) || !(lanes >= 1)) {
  console.error("usage: npm run chaos -- --minutes N --topology plain|sentinel|cluster [--clients 2-4] [--lanes N] [--seed S] [--out DIR] [--keep]");
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
  print(`chaos soak: ${kind}, ${clients} clients x ${lanes} lanes, ${minutes} min of faults, seed ${seed}, output ${outDir}`);
  topology = await startTopology(kind);
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
        client: topology.clientOptions(worker),
      }),
    );
  }
  await Promise.all(workers.map((w) => w.ready()));
  print(`clients ready (pids ${workers.map((w) => w.pid).join(", ")})`);

  const faultLog = new JsonLines(join(outDir, "faults.jsonl"));
  loop = new FaultLoop({ topology, random, workers: ids, until: now() + minutes * 60_000, log: faultLog, print });
  if (!interrupted) await loop.run();
  await faultLog.close();
  const unhealed = await waitHealthy(topology, 60_000);
  const healedAt = now();
  print(unhealed ? `NOT whole 60 s after the last fault: ${unhealed}` : `faults over, topology whole; ${QUIET_MS / 1000} s of quiet`);
  if (!interrupted) await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  for (const w of workers) w.terminate();
  const ends: WorkerOutcome[] = await Promise.all(workers.map((w) => w.outcome()));
  print(`clients stopped: ${ends.map((e) => `w${e.worker} ${e.hung ? "HUNG" : `exit ${e.signal ?? e.exitCode}`}${e.done ? ` ${e.exitMs} ms after quit() resolved (quit() took ${e.done.quitMs} ms)` : ""}`).join("; ")}`);

  const placement = scopes(topology, topology.clientOptions(0));
  const losses = new LossWindows(loop.records, placement.of);
  const checker = new HistoryChecker(losses, interrupted || unhealed ? Infinity : healedAt + GRACE_MS);
  const files = ids.map((w) => join(outDir, `history-w${w}.jsonl`));
  for (const file of files) for await (const { record } of readJsonLines<HistoryRecord>(file)) checker.learn(record);
  for (const file of files) for await (const { record, line } of readJsonLines<HistoryRecord>(file)) checker.check(record, line);
  const final = await readFinal(topology, checker.durableKeys(), placement.of);
  await placement.close();
  const verdicts = checker.finish(final, ends, unhealed);
  const passed = verdicts.every((v) => v.pass);
  const elapsed = ((now() - began) / 1000).toFixed(0);
  console.log(report({ title: `chaos soak ${kind}: ${minutes} min of faults, ${elapsed} s in all, seed ${seed}${interrupted ? " (interrupted)" : ""}`, faults: loop.records, checker, verdicts, outDir }));
  console.log(passed ? "chaos soak: PASS" : "chaos soak: FAIL");
  if (passed && !keep) rmSync(outDir, { recursive: true, force: true });
  return passed && !interrupted ? 0 : 1;
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
