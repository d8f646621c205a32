/**
 * A sweep's live progress on a terminal: a status line (done of total — complete, pruned, failed —, running, best so
 * far, elapsed, ETA) and a line per running trial (its step of its total, its last logged loss, its latest
 * evaluation of the objective's metric), redrawn in place at most every 100 ms on
 * the stream the command's lines go to. Lines printed meanwhile (the trial table) go above it: the block is cleared,
 * the line printed, the block drawn again. Silent when that stream is not a terminal: the trial table's rows are
 * the plain lines then.
 */
import type { Direction, FrozenTrial } from '../search/frozen-trial.js';
import { formatSeconds, isTerminal } from './progress.js';

const CLEAR_LINE = '\x1b[2K';

interface RunningTrial {
  step: number;
  totalSteps: number | null;
  loss: number | null;
  metric: { name: string; value: number } | null;
}
const up = (lines: number) => (lines > 0 ? `\x1b[${lines}A` : '');

export class SweepProgress {
  private readonly started = performance.now();
  private readonly running = new Map<number, RunningTrial>(); // by trial number
  private readonly counts = { complete: 0, pruned: 0, failed: 0 };
  private best: number | null = null;
  private drawnLines = 0;
  private lastDraw = 0;

  readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly direction: Direction,
    /** Where the command's other lines go: the block is drawn there so that the two stay in order. */
    private readonly stream: NodeJS.WriteStream,
  ) {
    this.enabled = isTerminal(stream);
  }

  trialStarted(number: number): void {
    this.running.set(number, { step: 0, totalSteps: null, loss: null, metric: null });
    this.draw();
  }

  /** After each step of a trial (each slot of a fused group has its own trial and step). */
  stepEnded(number: number, step: number, totalSteps?: number): void {
    const trial = this.running.get(number);
    if (!trial) return;
    trial.step = step;
    if (totalSteps !== undefined) trial.totalSteps = totalSteps;
    this.draw();
  }

  /** A trial's logged training loss. */
  logged(number: number, loss: number): void {
    const trial = this.running.get(number);
    if (trial) trial.loss = loss;
  }

  /** A trial's latest evaluation: `name` (the objective's metric, or eval_loss) and its value. */
  evaluated(number: number, name: string, value: number): void {
    const trial = this.running.get(number);
    if (trial) trial.metric = { name, value };
  }

  trialEnded(trial: FrozenTrial): void {
    this.running.delete(trial.number);
    if (trial.state === 'COMPLETE') this.counts.complete++;
    else if (trial.state === 'PRUNED') this.counts.pruned++;
    else this.counts.failed++;
    const value = trial.values?.[0];
    if (trial.state === 'COMPLETE' && value !== undefined && (this.best === null || (this.direction === 'maximize' ? value > this.best : value < this.best))) {
      this.best = value;
    }
    this.draw(true);
  }

  /** Prints `write()`'s output above the progress block. */
  above(write: () => void): void {
    this.clear();
    write();
    this.draw(true);
  }

  /** Removes the block (at the end, before the summary). */
  finish(): void {
    this.clear();
  }

  /** The block's lines, as drawn. */
  lines(): string[] {
    const done = this.counts.complete + this.counts.pruned + this.counts.failed;
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = done > 0 ? ((this.total - done) * elapsed) / done : null;
    const status =
      `sweep: ${done}/${this.total} done (${this.counts.complete} complete, ${this.counts.pruned} pruned, ${this.counts.failed} failed), ` +
      `${this.running.size} running, best ${this.best === null ? '—' : this.best.toFixed(4)}, ` +
      `${formatSeconds(elapsed)} elapsed${eta === null ? '' : `, ETA ${formatSeconds(eta)}`}`;
    const trials = [...this.running].sort(([a], [b]) => a - b).map(([number, t]) => {
      const parts = [`step ${t.step}${t.totalSteps === null ? '' : `/${t.totalSteps}`}`];
      if (t.loss !== null) parts.push(`loss ${t.loss.toFixed(4)}`);
      if (t.metric !== null) parts.push(`${t.metric.name} ${t.metric.value.toFixed(4)}`);
      return `  trial ${number}: ${parts.join(', ')}`;
    });
    return [status, ...trials];
  }

  private draw(force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const lines = this.lines();
    // Back to the block's first line, rewrite each line, and clear what is left of a taller old block.
    let text = up(this.drawnLines) + lines.map((line) => `\r${CLEAR_LINE}${line}\n`).join('');
    const extra = this.drawnLines - lines.length;
    if (extra > 0) text += `${`${CLEAR_LINE}\n`.repeat(extra)}${up(extra)}`;
    this.stream.write(text);
    this.drawnLines = lines.length;
  }

  private clear(): void {
    if (!this.enabled || this.drawnLines === 0) return;
    this.stream.write(up(this.drawnLines) + `${CLEAR_LINE}\n`.repeat(this.drawnLines) + up(this.drawnLines));
    this.drawnLines = 0;
  }
}
