/** Progress of a run: a bar with the rate and the time left on a terminal, a plain line every few seconds otherwise. */
export class Progress {
  private readonly started = Date.now();
  private lastLine = 0;
  done = 0;
  failed = 0;

  constructor(
    readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    /** Items already finished before this run (not counted in the rate). */
    private readonly skipped = 0,
  ) {}

  tick(failed: boolean, note = ''): void {
    this.done++;
    if (failed) this.failed++;
    const now = Date.now();
    const last = this.skipped + this.done === this.total;
    if (!this.out.isTTY && now - this.lastLine < 5000 && !last) return;
    this.lastLine = now;
    const seconds = (now - this.started) / 1000;
    const rate = this.done / Math.max(seconds, 1e-3);
    const left = this.total - this.skipped - this.done;
    const eta = rate > 0 ? left / rate : Infinity;
    const finished = this.skipped + this.done;
    const text = `${finished}/${this.total} items, ${this.failed} failed, ${rate.toFixed(2)} items/s, ${Number.isFinite(eta) ? `${formatSeconds(eta)} left` : '—'}${note ? `, ${note}` : ''}`;
    if (this.out.isTTY) {
      const width = 24;
      const filled = Math.round((width * finished) / Math.max(this.total, 1));
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K${last ? '\n' : ''}`);
    } else this.out.write(`${text}\n`);
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
