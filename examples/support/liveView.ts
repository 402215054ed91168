/**
 * A block of lines that refreshes in place on a terminal. Without a TTY (CI,
 * pipes, log files) it prints plain, timestamped blocks at a slower cadence
 * instead, so logs stay readable and free of escape codes.
 */
export class LiveView {
  private drawn = 0;
  private lastPlain = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly plainEveryMs = 5000,
  ) {}

  get interactive(): boolean {
    return Boolean(this.out.isTTY) && process.env.TERM !== "dumb";
  }

  show(lines: string[], force = false): void {
    if (this.interactive) {
      // Move up over the previous frame and clear each line as it is rewritten.
      const up = this.drawn ? `\x1b[${this.drawn}A` : "";
      this.out.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
      this.drawn = lines.length;
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPlain < this.plainEveryMs) return;
    this.lastPlain = now;
    const stamp = new Date(now).toISOString().slice(11, 19);
    this.out.write(lines.map((l) => `[${stamp}] ${l}\n`).join(""));
  }

  /** Plain line below the view (events, summaries). */
  log(line: string): void {
    this.out.write(`${line}\n`);
    this.drawn = 0;
  }
}
