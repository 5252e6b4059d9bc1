// A progress line for training epochs (and predict's batches): step, loss, throughput and time left. On a terminal it redraws
// one line; elsewhere (CI, logs) it prints about ten lines an epoch.

export class Progress {
  readonly #started = performance.now();
  #lastPrinted = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly batchSize: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** `done` of `total` steps (of batchSize images each) done; the loss so far, where there is one. */
  update(done: number, loss?: number): void {
    const elapsed = (performance.now() - this.#started) / 1000;
    const imagesPerSecond = (done * this.batchSize) / Math.max(elapsed, 1e-9);
    const remaining = done === 0 ? 0 : (elapsed / done) * (this.total - done);
    const line =
      `${this.label} ${done}/${this.total}${loss === undefined ? '' : ` loss ${loss.toFixed(4)}`} ${imagesPerSecond.toFixed(0)} img/s ` +
      `eta ${formatDuration(remaining)}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K${done === this.total ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor((done * 10) / this.total);
    if (tenth !== this.#lastPrinted) {
      this.#lastPrinted = tenth;
      this.stream.write(`${line}\n`);
    }
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}
