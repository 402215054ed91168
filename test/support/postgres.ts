/**
 * A throwaway PostgreSQL server for tests and the cache example: initdb in
 * a temporary directory, `postgres` on a free loopback port, stopped by pid.
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres`
 * user (runuser). `postgresBinaries()` says why it cannot start, if it cannot.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, readdirSync } from "node:fs";
import { freePort, HOST, launch, tempDir, type ManagedProcess } from "./processes.js";

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  stop(): Promise<void>;
}

/** The directory of initdb and postgres, or why there is none to use. */
export function postgresBinaries(): { ok: true; dir: string } | { ok: false; why: string } {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(`${root}/${v}/bin/postgres`)) : [];
  if (versions.length === 0) return { ok: false, why: "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" };
  if (process.getuid?.() === 0) {
    try {
      execFileSync("id", ["postgres"], { stdio: "ignore" });
    } catch {
      return { ok: false, why: "running as root and there is no postgres user to run the server as" };
    }
  }
  return { ok: true, dir: `${root}/${versions.sort().at(-1)}/bin` };
}

export async function startPostgres(): Promise<PostgresServer> {
  const binaries = postgresBinaries();
  if (!binaries.ok) throw new Error(`cannot start PostgreSQL: ${binaries.why}`);
  const asRoot = process.getuid?.() === 0;
  // As root, the server's files must belong to the user it runs as.
  const as = (command: string, args: string[]): [string, string[]] => (asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args]);
  const dir = tempDir("postgres");
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir.path, uid, gid);
  }
  const [initdb, initArgs] = as(`${binaries.dir}/initdb`, ["-D", `${dir.path}/data`, "-A", "trust", "-U", "postgres", "--no-sync"]);
  execFileSync(initdb, initArgs, { stdio: "ignore" });
  const port = await freePort();
  const [postgres, args] = as(`${binaries.dir}/postgres`, [
    "-D", `${dir.path}/data`, "-p", String(port), "-k", dir.path, "-c", `listen_addresses=${HOST}`, "-c", "fsync=off",
  ]);
  const proc: ManagedProcess = launch(postgres, args);
  const url = `postgres://postgres@${HOST}:${port}/postgres`;
  const { default: pg } = await import("pg");
  for (const deadline = Date.now() + 15_000; ; ) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await proc.stop();
        dir.remove();
        throw new Error(`PostgreSQL did not accept connections within 15 s: ${(error as Error).message}\n${proc.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
