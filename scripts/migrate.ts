/**
 * npm run migrate -- --config fleet.json [--rate 500] [--batch 100] [--cursors '{"s0":"123"}']
 *
 * copyAll() from the command line (docs/scaling.md): the config file is the
 * client's options as JSON (`shards`, `sharding`, `migration` with `from`,
 * `startAt`, `phaseMs`, ...), the same the application servers run with.
 * From dual + S to the end of warm's copy window it copies every moving key
 * to its new owner; from doneAt + S it deletes them from their old owners;
 * otherwise it says when to run it. Progress goes to stderr, the result (JSON)
 * to stdout. Ctrl-C stops between keys and prints the cursors to resume
 * from (pass them back with --cursors); so does a run some old shard of
 * which failed (MigrationCopyError: the other shards were finished).
 */
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { MigrationCopyError, ShardedClient, type CopyAllResult, type ShardedClientOptions } from "../lib/index.js";

export interface MigrateRun {
  readonly argv: readonly string[];
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export async function migrate({ argv, log = () => undefined, signal }: MigrateRun): Promise<CopyAllResult> {
  const { values } = parseArgs({
    args: [...argv],
    options: { config: { type: "string" }, rate: { type: "string", default: "500" }, batch: { type: "string", default: "100" }, cursors: { type: "string" } },
  });
  if (!values.config) throw new Error("--config <file.json> is required: the client's options (shards, sharding, migration with from)");
  const options = JSON.parse(await readFile(values.config, "utf8")) as ShardedClientOptions;
  if (!options.migration) throw new Error(`${values.config} has no "migration": copyAll copies the keys of a migration`);
  const client = new ShardedClient(options);
  try {
    await client.ready();
    const result = await client.migration()!.copyAll({
      rate: Number(values.rate),
      batch: Number(values.batch),
      signal,
      cursors: values.cursors ? (JSON.parse(values.cursors) as Record<string, string>) : undefined,
      onProgress: (p) => log(`${p.mode}: scanned ${p.scanned}, copied ${p.copied}, skipped ${p.skipped}, deleted ${p.deleted}, kept ${p.kept}, failed ${p.failed}`),
    });
    return result;
  } finally {
    await client.quit();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  migrate({ argv: process.argv.slice(2), log: (line) => process.stderr.write(`${line}\n`), signal: stop.signal }).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      if (!result.complete) process.stderr.write(`stopped: resume with --cursors '${JSON.stringify(result.cursors)}'\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`);
      // Some old shards failed, the others finished: where to resume from.
      if (error instanceof MigrationCopyError) process.stderr.write(`resume with --cursors '${JSON.stringify(error.result.cursors)}'\n`);
      process.exitCode = 1;
    },
  );
}
