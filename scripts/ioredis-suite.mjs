#!/usr/bin/env node
/**
 * Runs ioredis's own functional tests against the real ioredis and against a
 * one-shard ShardedClient answering `new Redis(...)` (the drop-in measure of
 * issue 25), and says which tests pass on one and fail on the other.
 *
 * The suite is not in this repository (nor in ioredis's npm package): give a
 * checkout of https://github.com/redis/ioredis with --suite; the files (and
 * their commits) measured are in scripts/ioredis-suite.files.txt, the counts
 * in docs/ioredis-compatibility.md ("ioredis's own functional tests").
 * Nothing here fetches anything unless asked: --install puts mocha, chai,
 * sinon and tsx into the work folder through npm when it has none. It is
 * not part of npm test or .ci/run.
 *
 *   node scripts/ioredis-suite.mjs --suite ../ioredis [--files list.txt]
 *       [--target both|ioredis|shardis] [--work /tmp/ioredis-suite]
 *       [--ioredis node_modules/ioredis] [--shardis dist/index.js] [--out r.json]
 *       [--titles earlier-results.json] [--install] [--reuse-server] [--verbose]
 *
 * ioredis's tests talk to 127.0.0.1:6379 (they assert the default port), and
 * flush it: the script starts its own redis-server there when nothing listens,
 * and refuses to run against a server it did not start unless --reuse-server.
 * The suite's `../../lib/Redis` (and lib/redis, lib/Command, lib/errors) are
 * answered by harness modules written into the work folder; its own
 * test/helpers/global.ts is replaced by one that empties the server after each
 * test with the real ioredis, whatever the target.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs(process.argv.slice(2));
const suite = required(args.suite, "--suite <checkout of redis/ioredis>");
const work = resolve(args.work ?? "/tmp/ioredis-suite-work");
const ioredisDir = resolve(args.ioredis ?? join(root, "node_modules/ioredis"));
const shardisDist = resolve(args.shardis ?? join(root, "dist/index.js"));
const targets = args.target === undefined || args.target === "both" ? ["ioredis", "shardis"] : [args.target];
// Describes of ioredis's files that test its Cluster class or need its MockServer helper, not `new Redis()` on a real server.
const LEFT_OUT = "(lazy connect|\\*scanStream) Cluster|^connection (readOnly|sync connection)";

function parseArgs(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) {
    const name = list[i].replace(/^--/, "");
    if (name === "reuse-server" || name === "verbose" || name === "install") out[name] = true;
    else out[name] = list[++i];
  }
  return out;
}

function required(value, what) {
  if (!value) {
    console.error(`missing ${what}`);
    process.exit(2);
  }
  return resolve(value);
}

function listening(port) {
  return new Promise((done) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), done(true)));
    socket.once("error", () => done(false));
  });
}

/** The test files: those named in --files (paths under test/functional), else every one outside cluster/. */
function testFiles() {
  const base = join(suite, "test/functional");
  if (args.files) {
    return readFileSync(args.files, "utf8").split("\n").map((line) => line.replace(/#.*/, "").trim().split(/\s+/)[0]).filter(Boolean);
  }
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "cluster" ? [] : walk(path);
    return entry.name.endsWith(".ts") ? [relative(base, path)] : [];
  });
  return walk(base);
}

function prepare(files) {
  rmSync(join(work, "test"), { recursive: true, force: true });
  for (const file of files) cpSync(join(suite, "test/functional", file), join(work, "test/functional", file));
  for (const helper of ["util.ts", "respConfigs.ts", "re-config.ts"]) {
    if (existsSync(join(suite, "test/helpers", helper))) cpSync(join(suite, "test/helpers", helper), join(work, "test/helpers", helper));
  }
  const harness = {
    "package.json": JSON.stringify({ name: "ioredis-suite-work", private: true, type: "module" }, null, 2),
    ".mocharc.cjs": `module.exports = { exit: true, timeout: 8000, "node-option": ["import=tsx"] };\n`,
    "lib/target.ts": [
      `import IORedis from ${JSON.stringify(join(ioredisDir, "built/index.js"))};`,
      `const target = process.env.SUITE_TARGET ?? "ioredis";`,
      `const Redis: any = target === "shardis" ? (await import("../shim/shardisRedis")).ShimRedis : (IORedis as any);`,
      `export default Redis;`,
    ].join("\n"),
    "lib/Redis.ts": `export { default } from "./target";\n`,
    "lib/redis.ts": `export { default } from "./target";\n`,
    "lib/Command.ts": `import Command from ${JSON.stringify(join(ioredisDir, "built/Command.js"))};\nexport default (Command as any).default ?? Command;\n`,
    "lib/errors.ts": `import * as errors from ${JSON.stringify(join(ioredisDir, "built/errors/index.js"))};\nexport const MaxRetriesPerRequestError = (errors as any).MaxRetriesPerRequestError ?? (errors as any).default?.MaxRetriesPerRequestError;\n`,
    "shim/shardisRedis.ts": SHIM.replace("__SHARDIS__", JSON.stringify(shardisDist)),
    "test/helpers/global.ts": GLOBAL_HOOK.replace("__IOREDIS__", JSON.stringify(join(ioredisDir, "built/index.js"))),
  };
  for (const [path, text] of Object.entries(harness)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), text);
  }
  if (!existsSync(join(work, "node_modules/mocha"))) {
    if (!args.install) throw new Error(`no mocha in ${work}: pass --install (npm install of mocha@11 chai@4 sinon@13 tsx@4 there), or install them yourself`);
    const npm = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "mocha@11", "chai@4", "sinon@13", "tsx@4"], { cwd: work, stdio: "inherit" });
    if (npm.status !== 0) throw new Error("npm install of mocha/chai/sinon/tsx failed");
  }
}

/**
 * One mocha process per top-level file, and one for commands/: a callback
 * that throws after its test ended is blamed on the next hook, and a failing
 * root hook makes mocha skip every file after it (ioredis's connectTimeout
 * test does it where 192.0.0.0 answers). Results are merged.
 */
/** Every test title seen on any target, with its file: what a later target must run too. */
const titles = new Map();

function mochaRun(target, output, mochaArgs) {
  const mocha = join(work, "node_modules/mocha/bin/mocha.js");
  return new Promise((done) => {
    const child = spawn(process.execPath, [mocha, "--reporter", "json", "--reporter-option", `output=${output}`, ...mochaArgs], {
      cwd: work,
      env: { ...process.env, SUITE_TARGET: target, NODE_NO_WARNINGS: "1" },
      stdio: ["ignore", "ignore", args.verbose ? "inherit" : "ignore"],
    });
    child.on("exit", done);
  });
}

async function run(target, files) {
  const groups = [files.filter((f) => f.startsWith("commands/")), ...files.filter((f) => !f.startsWith("commands/")).map((f) => [f])].filter((g) => g.length);
  const merged = { passes: [], failures: [], pending: [] };
  for (const [index, group] of groups.entries()) {
    const output = join(work, `results-${target}-${index}.json`);
    rmSync(output, { force: true });
    const spec = ["test/helpers/global.ts", ...group.map((f) => join("test/functional", f))];
    await mochaRun(target, output, ["--grep", LEFT_OUT, "--invert", ...spec]);
    if (!existsSync(output)) {
      merged.failures.push({ fullTitle: `${group.join(" ")} (mocha wrote no report)`, err: { message: "no report" } });
      continue;
    }
    const report = JSON.parse(readFileSync(output, "utf8"));
    for (const key of Object.keys(merged)) merged[key].push(...report[key]);
  }
  // A test left unrun because an earlier one broke its file (a throw after the
  // test ended fails the root hook, and mocha skips the rest): run it alone.
  const seen = new Set([...merged.passes, ...merged.failures, ...merged.pending].map((t) => t.fullTitle));
  for (const { fullTitle, file } of titles.values()) {
    if (seen.has(fullTitle) || !file) continue;
    const output = join(work, `results-${target}-alone.json`);
    rmSync(output, { force: true });
    const grep = `^${fullTitle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
    await mochaRun(target, output, ["--grep", grep, "test/helpers/global.ts", file]);
    const report = existsSync(output) ? JSON.parse(readFileSync(output, "utf8")) : { passes: [], failures: [{ fullTitle, err: { message: "no report" } }], pending: [] };
    for (const key of Object.keys(merged)) merged[key].push(...report[key].filter((t) => t.fullTitle === fullTitle));
    if (![...report.passes, ...report.failures, ...report.pending].some((t) => t.fullTitle === fullTitle)) merged.failures.push({ fullTitle, err: { message: "not run, even alone" } });
  }
  for (const t of [...merged.passes, ...merged.failures]) if (t.file && !titles.has(t.fullTitle)) titles.set(t.fullTitle, { fullTitle: t.fullTitle, file: relative(work, t.file) });
  writeFileSync(join(work, `results-${target}.json`), JSON.stringify(merged));
  return merged;
}

const outcome = (report) => new Map([...report.passes.map((t) => [t.fullTitle, "pass"]), ...report.failures.map((t) => [t.fullTitle, t.err?.message?.split("\n")[0] ?? "failed"])]);

async function main() {
  const files = testFiles();
  mkdirSync(work, { recursive: true });
  prepare(files);
  let server;
  if (await listening(6379)) {
    if (!args["reuse-server"]) throw new Error("something already listens on 6379: the suite flushes it; stop it or pass --reuse-server");
  } else {
    server = spawn("redis-server", ["--port", "6379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; i < 100 && !(await listening(6379)); i++) await new Promise((r) => setTimeout(r, 50));
  }
  const results = {};
  // --titles r.json: a merged report of an earlier run (say on ioredis), whose tests this run must cover too.
  if (args.titles) {
    const earlier = JSON.parse(readFileSync(args.titles, "utf8"));
    for (const t of [...earlier.passes, ...earlier.failures]) if (t.file) titles.set(t.fullTitle, { fullTitle: t.fullTitle, file: relative(work, t.file) });
  }
  try {
    for (const target of targets) results[target] = outcome(await run(target, files));
  } finally {
    server?.kill();
  }
  const summary = { files: files.length };
  for (const [target, tests] of Object.entries(results)) {
    const passed = [...tests.values()].filter((v) => v === "pass").length;
    summary[target] = { tests: tests.size, passed };
    console.log(`${target}: ${passed} of ${tests.size} passed (${files.length} files)`);
  }
  if (results.ioredis && results.shardis) {
    const differences = [...results.ioredis].filter(([title, v]) => v === "pass" && results.shardis.get(title) !== "pass").map(([title]) => ({ title, shardis: results.shardis.get(title) ?? "not run" }));
    const onlyShardis = [...results.shardis].filter(([title, v]) => v === "pass" && results.ioredis.get(title) !== "pass").map(([title]) => title);
    summary.passOnIoredisOnly = differences;
    summary.passOnShardisOnly = onlyShardis;
    console.log(`pass on ioredis, not on shardis: ${differences.length}`);
    for (const d of differences) console.log(`  ${d.title}\n      ${d.shardis}`);
  }
  if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2));
}

const SHIM = `// \`new Redis(port?, host?, options?)\` in ioredis's argument forms answered
// by a ShardedClient of one shard at that address: connection options under
// \`redis\`, lazyConnect and ioredis's Sentinel shape at the top, commandTimeout
// as commandTimeoutMs; other options dropped. A subclass, so stubs on
// Redis.prototype reach it.
const { ShardedClient } = await import(__SHARDIS__);
const CONNECTION = new Set([
  "username", "password", "credentials", "reauthenticateEveryMs", "tls", "db", "connectTimeout", "keepAlive", "noDelay",
  "connectionName", "protocol", "enableReadyCheck", "disableClientInfo", "family", "stringNumbers", "keyPrefix", "replyMapping",
  "enableAutoPipelining", "enableOfflineQueue", "maxRetriesPerRequest", "retryStrategy", "reconnectOnError",
  "autoResendUnfulfilledCommands", "autoResubscribe", "socketTimeout", "blockingTimeout", "showFriendlyErrorStack",
]);
const SENTINEL = new Set(["sentinels", "name", "role", "sentinelUsername", "sentinelPassword", "sentinelRetryStrategy", "natMap",
  "preferredSlaves", "enableTLSForSentinelMode", "sentinelTLS", "sentinelCommandTimeout", "updateSentinels", "sentinelMaxConnections",
  "failoverDetector", "sentinelReconnectStrategy"]);
const isInt = (v: unknown) => (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^\\d+$/.test(v));

function toShardis(args: unknown[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const arg of args) {
    if (arg === null || arg === undefined) continue;
    if (typeof arg === "object") Object.assign(options, { ...(arg as object), ...options });
    else if (isInt(arg)) options.port ??= Number(arg);
    else if (typeof arg === "string" && arg.startsWith("/")) options.path ??= arg;
    else if (typeof arg === "string" && arg.includes("://")) options.url ??= arg;
    else if (typeof arg === "string") options.host ??= arg;
  }
  const redis: Record<string, unknown> = {};
  const top: Record<string, unknown> = {};
  let sentinel = false;
  for (const [field, value] of Object.entries(options)) {
    if (["host", "port", "path", "url"].includes(field)) continue;
    if (field === "lazyConnect") top.lazyConnect = value;
    else if (field === "commandTimeout") top.commandTimeoutMs = value;
    else if (CONNECTION.has(field)) redis[field] = value;
    else if (SENTINEL.has(field)) { top[field] = value; sentinel = true; }
  }
  if (sentinel) return { ...top, ...redis };
  const master = options.url ? String(options.url) : options.path ? String(options.path) : \`\${options.host ?? "127.0.0.1"}:\${options.port ?? 6379}\`;
  return { shards: [{ name: "s0", master }], redis, ...top };
}

export class ShimRedis extends (ShardedClient as any) {
  constructor(...args: unknown[]) {
    super(toShardis(args));
  }
}
`;

const GLOBAL_HOOK = `import * as sinon from "sinon";
import IORedis from __IOREDIS__;

afterEach(async function () {
  sinon.restore();
  const redis = new (IORedis as any)();
  await redis.pipeline().flushall().script("FLUSH").function("FLUSH").exec();
  redis.disconnect();
});
`;

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
