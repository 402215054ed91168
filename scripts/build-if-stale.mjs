#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json) only when a file under lib/ is newer than the last build,
// so `npm test`, `npm run demo` and `npm run bench` run the current code without building three times.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const stamp = "dist/index.js";
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
    const path = join(dir, entry.name);
    return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
const inputs = Math.max(newest("lib"), statSync("tsconfig.build.json").mtimeMs, statSync("tsconfig.json").mtimeMs);
if (existsSync(stamp) && statSync(stamp).mtimeMs >= inputs) process.exit(0);
const result = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
process.exit(result.status ?? 1);
