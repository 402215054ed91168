/** A real twemproxy (nutcracker) pool in front of real redis-servers, for ketama compatibility tests. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, HOST, launch, requireBinary, tempDir, waitForReply } from "./processes.js";

export interface NutcrackerServer {
  name: string;
  address: string;
  weight: number;
}

export interface Nutcracker {
  readonly port: number;
  readonly address: string;
  stop(): Promise<void>;
}

export const RESP_PING = "*1\r\n$4\r\nPING\r\n";

export async function startNutcracker(
  servers: NutcrackerServer[],
  options: { hashTag?: string } = {},
): Promise<Nutcracker> {
  requireBinary("nutcracker");
  const dir = tempDir("nutcracker");
  const port = await freePort();
  const statsPort = await freePort();
  const conf = [
    "shardis:",
    `  listen: ${HOST}:${port}`,
    "  hash: md5",
    "  distribution: ketama",
    "  redis: true",
    "  auto_eject_hosts: false",
    ...(options.hashTag ? [`  hash_tag: "${options.hashTag}"`] : []),
    "  servers:",
    ...servers.map((s) => `   - ${s.address}:${s.weight} ${s.name}`),
    "",
  ].join("\n");
  const confPath = join(dir.path, "nutcracker.yml");
  writeFileSync(confPath, conf);
  const proc = launch("nutcracker", [
    "-c", confPath, "-s", String(statsPort), "-a", HOST,
    "-o", join(dir.path, "nutcracker.log"), "-p", join(dir.path, "nutcracker.pid"),
  ]);
  try {
    // nutcracker only speaks multi-bulk requests, and answers PING itself.
    await waitForReply(port, RESP_PING, /\+PONG/, proc);
  } catch (error) {
    await proc.stop(100);
    dir.remove();
    throw error;
  }
  return {
    port,
    address: `${HOST}:${port}`,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
