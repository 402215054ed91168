/**
 * quit() and disconnect() leave nothing behind, in every mode and whatever
 * is in flight: a child process (test/fixtures/quit-in-flight.ts) builds a
 * client over plain nodes, Sentinel or a Redis Cluster, puts commands, a
 * BLPOP that blocks forever, a subscription, a pipeline, a transaction, a
 * WATCH on a dedicated connection and a slow cache load in flight (over the
 * cluster, also a map re-read: a master stopped, or a MOVED, just before),
 * and closes the client. Then every server's CLIENT LIST (and the
 * sentinel's) must show none of its connections, and the process must exit
 * on its own: a socket or timer left behind would keep it alive.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { keySlot } from "../../lib/index.js";
import { migrateSlot, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import type { RedisServer } from "../support/redis.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/quit-in-flight.ts", import.meta.url));
/** How long a step of the child may take before the test gives up on it (it then fails, and the child is killed). */
const STEP_MS = 20_000;

type Close = "quit" | "disconnect";

interface Child {
  /** Resolves with the first line of output matching `pattern` (lines seen before count). */
  line(pattern: RegExp): Promise<string>;
  send(line: string): void;
  /** The exit code, or "killed" when it did not exit within timeoutMs. */
  exit(timeoutMs: number): Promise<number | null | "killed">;
  output(): string;
}

function startChild(options: Record<string, unknown>, close: Close): Child {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    env: { ...process.env, OPTIONS: JSON.stringify(options), CLOSE: close },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const watchers = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => (watchers.delete(check), reject(new Error(`no ${pattern} from the child within ${STEP_MS} ms:\n${output}`))), STEP_MS);
        const check = () => {
          const found = output.split("\n").find((l) => pattern.test(l));
          if (found === undefined) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve(found);
        };
        watchers.add(check);
        check();
      }),
    send: (line) => void child.stdin.write(`${line}\n`),
    async exit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<"killed">((resolve) => (timer = setTimeout(() => (child.kill("SIGKILL"), resolve("killed")), timeoutMs)));
      const code = await Promise.race([exited, killed]);
      clearTimeout(timer);
      return code;
    },
    output: () => output,
  };
}

/** The CLIENT LIST lines of connections named `name`. */
async function named(admin: Redis, name: string): Promise<string[]> {
  return String(await admin.call("CLIENT", "LIST"))
    .split("\n")
    .filter((line) => line.includes(` name=${name} `));
}

/** Client ids in a server's CLIENT LIST. */
async function clientIds(admin: Redis): Promise<Set<string>> {
  const ids = String(await admin.call("CLIENT", "LIST")).match(/(?<=^id=)\d+/gm) ?? [];
  return new Set(ids);
}

interface Case {
  readonly options: Record<string, unknown>;
  /** Admin connections to every server still running (checked by connection name). */
  readonly servers: () => Redis[];
  /** Admin connections to sentinels (checked against the ids there before the child started: they do not carry the name). */
  readonly sentinels?: Redis[];
  /** Made after the child's READY; what it returns is sent to the child. */
  readonly fault?: () => Promise<{ down?: string; moved?: string }>;
}

let runs = 0;

/** Runs the child through one close, asserting no connection is left on any server and that it exits on its own. */
async function closesCleanly(close: Close, c: Case): Promise<void> {
  const name = `quit-${process.pid}-${++runs}`;
  const before = await Promise.all((c.sentinels ?? []).map(clientIds));
  const child = startChild({ ...c.options, redis: { connectionName: name } }, close);
  try {
    await child.line(/^READY$/);
    // The check below means something: the child's connections are there, by name, and on the sentinel.
    const open = (await Promise.all(c.servers().map((admin) => named(admin, name)))).flat();
    expect(open.length).toBeGreaterThan(0);
    const fault = c.fault ? await c.fault() : {};
    child.send(JSON.stringify(fault));
    await child.line(/^CLOSED$/);
    await eventually(async () => {
      for (const admin of c.servers()) expect(await named(admin, name)).toEqual([]);
      for (const [i, admin] of (c.sentinels ?? []).entries()) {
        const now = await clientIds(admin);
        expect([...now].filter((id) => !before[i]!.has(id))).toEqual([]);
      }
    }, 3000);
    child.send("CHECKED");
    expect(await child.exit(10_000)).toBe(0);
    expect(child.output()).toMatch(/^SETTLED \d+ 0$/m);
  } catch (error) {
    await child.exit(0);
    throw Object.assign(error as Error, { message: `${(error as Error).message}\nchild output:\n${child.output()}` });
  }
}

describe("quit() and disconnect() leave nothing behind", () => {
  describe("plain nodes", () => {
    let fleet: Fleet;
    beforeAll(async () => {
      fleet = await startFleet(2);
    });
    afterAll(async () => fleet?.stop());

    for (const close of ["quit", "disconnect"] as const) {
      it(`${close}()`, async () => {
        await closesCleanly(close, { options: { shards: fleet.shards }, servers: () => fleet.servers.map((_, i) => fleet.raw(i)) });
      });
    }
  });

  describe("Sentinel", () => {
    let ha: HaTopology;
    let admins: Redis[];
    let sentinels: Redis[];
    beforeAll(async () => {
      // One sentinel: nothing but the child connects to it during a run (no peers), so new ids there are the child's.
      ha = await startHaTopology({ shards: 1, replicasPerShard: 1, sentinels: 1 });
      admins = [ha.shards[0]!.master, ...ha.shards[0]!.replicas].map((s) => s.client());
      sentinels = ha.sentinels.map((s) => s.client());
    });
    afterAll(async () => ha?.stop());

    for (const close of ["quit", "disconnect"] as const) {
      it(`${close}()`, async () => {
        await closesCleanly(close, {
          options: {
            sentinels: ha.sentinels.map((s) => s.address),
            shards: [{ name: "s0", masterName: ha.shards[0]!.masterName }],
            readFrom: "replicaPreferred",
          },
          servers: () => admins,
          sentinels,
        });
      });
    }
  });

  describe("Redis Cluster", () => {
    let cluster: RedisClusterHandle;
    const admins = new Map<RedisServer, Redis>();
    const stopped = new Set<RedisServer>();
    const servers = () => cluster.servers.filter((s) => !stopped.has(s)).map((s) => admins.get(s) ?? admins.set(s, s.client()).get(s)!);
    const options = () => ({ cluster: { seeds: cluster.seeds }, readFrom: "replicaPreferred" });

    beforeAll(async () => {
      cluster = await startRedisCluster(3, { replicas: 1 });
    });
    afterAll(async () => cluster?.stop());

    for (const close of ["quit", "disconnect"] as const) {
      it(`${close}()`, async () => {
        await closesCleanly(close, { options: options(), servers });
      });
    }

    for (const close of ["quit", "disconnect"] as const) {
      it(`${close}() right after a MOVED, while the map is re-read`, async () => {
        let key = "";
        await closesCleanly(close, {
          options: options(),
          servers,
          fault: async () => {
            // A slot moved behind the client's back: its next command there is answered MOVED.
            for (let i = 0; !key; i++) if ((await cluster.ownerOf(keySlot(`moved-${close}-${i}`))) === cluster.masters[0]!.address) key = `moved-${close}-${i}`;
            const migration = await migrateSlot(cluster, keySlot(key), cluster.masters[0]!, cluster.masters[1]!);
            await migration.begin();
            await migration.finish();
            return { moved: key };
          },
        });
      });
    }

    for (const [i, close] of (["quit", "disconnect"] as const).entries()) {
      it(`${close}() right after a master stopped, while the map is re-read every 100 ms`, async () => {
        const victim = cluster.masters[i + 1]!;
        await closesCleanly(close, {
          options: options(),
          servers,
          fault: async () => {
            stopped.add(victim);
            await victim.halt();
            return { down: victim.address };
          },
        });
      });
    }
  });
});
