/**
 * Starts cacheWorker.ts child processes and talks to them: waits for their
 * JSON lines (bounded), says "go" to all at once, collects their results,
 * and kills them if a test ends early.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const WORKER = fileURLToPath(new URL("./cacheWorker.ts", import.meta.url));

export interface WorkerResult {
  readonly results: Array<{ value?: string; error?: string; ms: number }>;
  readonly stats: { lockWaits: number; loads: Record<string, number>; refusedWrites: number } | undefined;
  readonly gets: number;
}

export class CacheWorker {
  readonly lines: Array<Record<string, unknown>> = [];
  private output = "";
  private readonly listeners = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    let partial = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk.toString();
      let nl: number;
      while ((nl = partial.indexOf("\n")) !== -1) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.output += `${line}\n`;
        }
        for (const wake of [...this.listeners]) wake();
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)));
    child.once("exit", () => [...this.listeners].forEach((wake) => wake()));
  }

  /** Resolves with the first line that has `field`; rejects after timeoutMs or if the process exits first. */
  waitFor(field: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => field in l);
        if (line) return done(() => resolve(line));
        if (this.child.exitCode !== null || this.child.signalCode !== null) done(() => reject(new Error(`worker exited before "${field}":\n${this.output}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${field}" from the worker within ${timeoutMs} ms:\n${this.output}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  go(): void {
    this.child.stdin!.write("go\n");
  }

  async result(timeoutMs = 20_000): Promise<WorkerResult> {
    return (await this.waitFor("done", timeoutMs)) as unknown as WorkerResult;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

export function startCacheWorker(env: Record<string, string | number>): CacheWorker {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new CacheWorker(child);
}
