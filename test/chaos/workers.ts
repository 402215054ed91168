/**
 * The client processes (worker.ts under tsx): started, waited for, and
 * judged on how they ended: exited 0 on their own after quit(), within
 * bounds (a hang is recorded, then the process is killed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { MigrationStatus } from "../../lib/index.js";
import type { WorkerConfig } from "./worker.js";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
/** From runUntil to {"done"}: the calls in flight settle (deadlines ~1 s), then quit(). */
const DONE_WITHIN_MS = 30_000;
/** From {"done"} to the process's exit, with nothing left to do. */
const EXIT_WITHIN_MS = 10_000;

export interface WorkerOutcome {
  readonly worker: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly done?: { calls: number; quitMs: number; resources: string[]; migration?: MigrationStatus };
  /** From {"done"} (quit() resolved, history closed) to the process's exit, in ms. */
  readonly exitMs?: number;
  /** Why it was killed: no {"done"} in time, or no exit after it. */
  readonly hung?: string;
  readonly stderr: string;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly lines: Array<Record<string, unknown>> = [];
  private stderr = "";
  private readonly exited: Promise<void>;
  private listeners = new Set<() => void>();
  private exitedAt = 0;

  constructor(readonly config: WorkerConfig) {
    this.child = spawn(process.execPath, ["--import", "tsx", WORKER], {
      env: { ...process.env, CHAOS_WORKER: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk.toString();
      for (let nl = partial.indexOf("\n"); nl !== -1; nl = partial.indexOf("\n")) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.stderr = `${this.stderr}${line}\n`.slice(-4000);
        }
        this.listeners.forEach((wake) => wake());
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.exited = new Promise((resolve) =>
      this.child.once("exit", () => {
        this.exitedAt = Date.now();
        resolve();
      }),
    );
    void this.exited.then(() => this.listeners.forEach((wake) => wake()));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line with this field, or undefined after timeoutMs or once the process exited without it. */
  private line(field: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.lines.find((l) => field in l);
        if (found || !this.running) finish(found);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (found: Record<string, unknown> | undefined) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(found);
      };
      this.listeners.add(check);
      check();
    });
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    if (!(await this.line("ready", timeoutMs))) throw new Error(`client w${this.config.worker} did not start:\n${this.stderr}`);
  }

  /** Waits for the process to finish on its own, killing it (and saying why) past the bounds. */
  async outcome(): Promise<WorkerOutcome> {
    const done = await this.line("done", Math.max(0, this.config.runUntil - Date.now()) + DONE_WITHIN_MS);
    const doneAt = Date.now();
    let hung: string | undefined;
    if (!done && this.running) hung = `no "done" within ${DONE_WITHIN_MS} ms of the end of its run (calls or quit() hanging)`;
    else if (done && !(await Promise.race([this.exited.then(() => true), sleep(EXIT_WITHIN_MS).then(() => false)]))) {
      hung = `did not exit within ${EXIT_WITHIN_MS} ms after quit() (still holding: ${(done.resources as string[]).join(", ")})`;
    }
    if (hung) this.kill();
    await this.exited;
    return {
      worker: this.config.worker,
      exitCode: this.child.exitCode,
      signal: this.child.signalCode,
      ...(done ? { done: done as unknown as WorkerOutcome["done"], exitMs: this.exitedAt - doneAt } : {}),
      ...(hung ? { hung } : {}),
      stderr: this.stderr,
    };
  }

  /** Asks it to stop starting calls now (it still quits and exits on its own). */
  terminate(): void {
    if (this.running) this.child.kill("SIGTERM");
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
