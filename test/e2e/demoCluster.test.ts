/**
 * `npm run demo -- --cluster` end to end, as a new user runs it and as CI
 * runs the plain demo (`DEMO_SECONDS=3 npm run demo`, .ci/run): a local
 * cluster of 3 masters with replicas, 3 masters added one after another
 * (redis-cli refused three add-nodes at once: "Nodes don't agree about
 * configuration"), a rebalance under load, a master killed and its replica
 * promoted. Short load phases (DEMO_SECONDS=3); bounded: the run is killed,
 * with every process it started, after 4 minutes.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const LIMIT_MS = 240_000;

/** Runs the command in a process group of its own, so a run that overstays is killed with its servers. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ status: number | null; output: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let killed = false;
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      killed = true;
      process.kill(-child.pid!, "SIGKILL");
    }, LIMIT_MS);
    child.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, output, killed });
    });
  });
}

describe("npm run demo -- --cluster", () => {
  it("scales the cluster out under load, fails a master over, and exits 0", async () => {
    const { status, output, killed } = await run("npm", ["run", "demo", "--", "--cluster"], { DEMO_SECONDS: "3" });
    const tail = output.slice(-4000);
    expect(killed, `still running after ${LIMIT_MS} ms; its output:\n${tail}`).toBe(false);
    expect(status, `exit status; its output:\n${tail}`).toBe(0);
    expect(output).not.toContain("Nodes don't agree");
    expect(output).toMatch(/added 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+ \(no slots yet\)/);
    const rebalanced = /rebalanced: (\d+) slots migrated live in [\d.]+s, (\d+) failed commands/.exec(output);
    expect(rebalanced, tail).not.toBeNull();
    expect(Number(rebalanced![1])).toBeGreaterThan(0);
    // Commands failed while slots moved are counted, not required to be none: on a starved machine they time out.
    expect(output).toMatch(/failover: kill -> replica promoted \(in the client's map\) \d+ ms -> first write \d+ ms/);
    expect(output).toContain("stopped every process it started.");
  }, LIMIT_MS + 10_000);
});
