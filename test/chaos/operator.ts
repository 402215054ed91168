/**
 * --grow: the operator's copyAll() runs, as docs/scaling.md advises for data
 * that is not only a cache: early in dual, and again near the end of warm's
 * copy window (that run stops there by itself). Keys written after the
 * second run reached them and not read in warm are the gap it leaves; the
 * checker excuses exactly that (checker.ts, GrowthFacts). A run failing
 * under a fault (MigrationCopyError) resumes from its cursors, up to twice,
 * each after a pause (the fault is held up to 3 s).
 */
import { MigrationCopyError, ShardedClient, type CopyAllResult, type ShardedClientOptions } from "../../lib/index.js";
import type { PhaseClock } from "../../lib/migration/clock.js";

const RATE = 5000;
const ATTEMPTS = 3;
const RESUME_AFTER_MS = 2000;

export class CopyRuns {
  private readonly client: ShardedClient;
  private readonly runs: Array<Promise<string>>;

  constructor(options: ShardedClientOptions, clock: PhaseClock, print: (line: string) => void) {
    this.client = new ShardedClient({ ...options, redis: { ...options.redis, connectionName: "chaos-operator" } });
    // copyAll() is refused before every process is surely in dual (startAt + S).
    const at = [clock.dualAt + clock.boundMs + 500, clock.copyUntil - 3000];
    this.runs = at.map((when, i) =>
      new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, when - Date.now()))).then(async () => {
        const line = `copyAll() run ${i + 1}: ${await this.run()}`;
        print(line);
        return line;
      }),
    );
  }

  private async run(cursors?: Readonly<Record<string, string>>, attempt = 1): Promise<string> {
    try {
      return show(await this.client.migration()!.copyAll({ rate: RATE, ...(cursors ? { cursors } : {}) }));
    } catch (error) {
      if (error instanceof MigrationCopyError && attempt < ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, RESUME_AFTER_MS));
        return `${show(error.result)} then failed (${error.message.split("\n")[0]}); resumed: ${await this.run(error.result.cursors, attempt + 1)}`;
      }
      return `failed: ${(error as Error).name}: ${(error as Error).message.split("\n")[0]}`;
    }
  }

  /** Each run's outcome, once both ran; then the operator's client quits. */
  async results(): Promise<string[]> {
    const lines = await Promise.all(this.runs);
    await this.client.quit();
    return lines;
  }
}

function show(r: CopyAllResult): string {
  return `${r.complete ? "complete" : "cut short"}, scanned ${r.scanned}, copied ${r.copied}, skipped ${r.skipped}, failed ${r.failed}`;
}
