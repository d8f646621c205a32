/**
 * A one-line progress bar on a TTY (step, epoch, loss, samples/s, ETA), redrawn at most every 100 ms; silent when
 * its stream is not a terminal, so logs and --json output stay clean.
 */
export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly enabled: boolean;
  loss = NaN;

  constructor(
    private readonly total: number,
    private readonly samplesPerStep: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = isTerminal(stream);
  }

  private last: { step: number; epoch: number } | null = null;

  update(step: number, epoch: number, force = false): void {
    if (!this.enabled) return;
    this.last = { step, epoch };
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsed = (now - this.started) / 1000;
    const rate = step / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - step) / rate : 0;
    const width = 24;
    const filled = Math.round((width * step) / this.total);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const loss = Number.isFinite(this.loss) ? this.loss.toFixed(4) : '—';
    this.stream.write(
      `\r${bar} ${step}/${this.total} epoch ${epoch.toFixed(2)} loss ${loss} ${(rate * this.samplesPerStep).toFixed(1)} samples/s ETA ${formatSeconds(eta)}  `,
    );
  }

  /** Draws the last state (an update may have been skipped by the 100 ms limit) and ends the line. */
  finish(): void {
    if (!this.enabled) return;
    if (this.last) this.update(this.last.step, this.last.epoch, true);
    this.last = null;
    this.stream.write('\n');
  }
}

/**
 * Whether `stream` reaches a terminal. Under the command's supervisor stderr is a pipe to one (supervisor.ts
 * STDERR_TTY_ENV). Progress is drawn on the stream the command's other lines go to (stdout, or stderr with
 * --json): stderr reaches the terminal through the supervisor, so lines on the two streams could arrive out of order.
 */
export function isTerminal(stream: NodeJS.WriteStream): boolean {
  if (stream === process.stderr) return Boolean(stream.isTTY) || process.env.WEBTRAINER_STDERR_TTY === '1';
  return Boolean(stream.isTTY);
}

export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A plain two-column table. */
export function formatTable(rows: [string, string | number][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${typeof v === 'number' ? formatNumber(v) : v}`).join('\n') + '\n';
}

export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4);
}
