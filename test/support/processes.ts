/**
 * Starting and stopping real server processes for tests: free loopback ports,
 * readiness by probing, and stopping exactly the pids we started (also when
 * the test process exits abruptly).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const HOST = "127.0.0.1";

const INSTALL_HINT =
  "install the servers with: sudo apt-get update && sudo apt-get install -y redis-server redis-sentinel redis-tools nutcracker openssl";

const started = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of started) child.kill("SIGKILL");
});

export function hasBinary(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export function requireBinary(name: string): void {
  if (!hasBinary(name)) throw new Error(`${name} was not found on PATH; ${INSTALL_HINT}`);
}

/**
 * Test servers listen on 10000-22767: below Linux's ephemeral range
 * (32768-60999), where the machine's own client sockets take their ports (a
 * restarted server could find its port taken by a client), and low enough
 * that a cluster node's bus port (port + 10000) stays below it too.
 */
const FIRST_PORT = 10_000;
const PORTS = 12_768;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A port (and its cluster bus port) that was free a moment ago; callers retry if they lose the race for it. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORTS);
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}-${FIRST_PORT + PORTS - 1} after 200 tries`);
}

export function tempDir(prefix: string, base = tmpdir()): { path: string; remove(): void } {
  const path = mkdtempSync(join(base, `shardis-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface ManagedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Output so far, for failure messages. */
  output(): string;
  /** Sends a signal; SIGSTOP/SIGCONT leave the process running. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

export function launch(command: string, args: string[], cwd?: string): ManagedProcess {
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      started.delete(child);
      resolve(code);
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid!,
    child,
    exited,
    output: () => output,
    signal: (signal) => {
      if (alive()) child.kill(signal);
    },
    stop: async (graceMs = 3000) => {
      if (!alive()) return;
      child.kill("SIGCONT"); // a stopped process cannot act on SIGTERM
      child.kill("SIGTERM");
      const timer = setTimeout(() => alive() && child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once a TCP probe gets the expected reply; rejects after timeoutMs or if the process exits. */
export async function waitForReply(
  port: number,
  probe: string,
  expect: RegExp,
  process: ManagedProcess,
  timeoutMs = 5000,
  /** Probe over TLS with these options (a server with `--port 0`). */
  tls?: ConnectionOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void process.exited.then(() => (exited = true));
  for (let attempt = 0; Date.now() < deadline && !exited; attempt++) {
    if (await probeOnce(port, probe, expect, tls)) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(10 + attempt * 10, 100)));
  }
  throw new Error(
    `process ${process.pid} did not answer on port ${port} ${exited ? "(it exited)" : `within ${timeoutMs} ms`}:\n${process.output()}`,
  );
}

function probeOnce(port: number, probe: string, expect: RegExp, tls: ConnectionOptions | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = tls ? tlsConnect({ host: HOST, port, ...tls }) : createConnection({ host: HOST, port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(probe));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (expect.test(reply)) done(true);
    });
  });
}
