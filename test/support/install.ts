/**
 * Makes sure the Redis binaries the demo, bench and tests need are present.
 * On Debian as root they are installed with apt-get (what .ci/run does);
 * elsewhere the error says how to install them.
 */
import { spawnSync } from "node:child_process";
import { hasBinary } from "./processes.js";

const BINARIES = ["redis-server", "redis-sentinel", "redis-cli", "nutcracker"];
const PACKAGES = ["redis-server", "redis-sentinel", "redis-tools", "nutcracker"];

export function ensureServers(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  const missing = BINARIES.filter((b) => !hasBinary(b));
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && hasBinary("apt-get");
  const command = `apt-get update && apt-get install -y ${PACKAGES.join(" ")}`;
  if (!canInstall) throw new Error(`missing ${missing.join(", ")}; install with: sudo ${command}`);
  log(`missing ${missing.join(", ")}; installing: ${command}`);
  const result = spawnSync("sh", ["-c", `${command} >/dev/null`], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.status !== 0) throw new Error(`apt-get failed (exit ${result.status}); run: sudo ${command}`);
  // Debian starts the packaged services; the demo and tests use their own processes only.
  spawnSync("sh", ["-c", "service redis-server stop; service redis-sentinel stop; service nutcracker stop"], { stdio: "ignore" });
}
