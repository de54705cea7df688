/**
 * Progress reporting for long work: a one-line bar with step, rate and ETA
 * on a terminal, plain log lines otherwise (CI logs, files, pipes).
 */

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /**
   * Label shown before the bar.
   * @defaultValue ''
   */
  label?: string;
  /**
   * Where to write.
   * @defaultValue process.stderr
   */
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /**
   * Redraw the bar at most this often (ms) on a TTY.
   * @defaultValue 100
   */
  intervalMs?: number;
  /**
   * In non-TTY mode, print a line every this many steps (and at the end).
   * @defaultValue max(1, round(total / 10))
   */
  logEvery?: number;
  /**
   * Force TTY (bar) or plain mode.
   * @defaultValue the stream's isTTY
   */
  tty?: boolean;
  /** Clock in ms, for tests. @defaultValue performance.now */
  now?: () => number;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

/** Formats metric values compactly for a progress line. */
function fmtMetrics(m: Record<string, number | string>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4)) : v}`)
    .join('  ');
}

/**
 * A progress bar / logger for `total` steps.
 *
 * @example
 * ```ts
 * const p = new Progress(1000, { label: 'train' });
 * for (let i = 0; i < 1000; i++) p.tick({ loss: 0.1 });
 * p.done();
 * ```
 */
export class Progress {
  private readonly start: number;
  private lastDraw = -Infinity;
  private current = 0;
  private readonly opts: Required<Omit<ProgressOptions, 'stream' | 'tty' | 'now'>> & { tty: boolean; now: () => number };
  private readonly stream: NonNullable<ProgressOptions['stream']>;

  /**
   * @param total - number of steps (positive integer).
   * @param options - see {@link ProgressOptions}.
   * @param initial - steps already done (e.g. when resuming).
   * @defaultValue initial 0
   */
  constructor(readonly total: number, options: ProgressOptions = {}, initial = 0) {
    if (!Number.isInteger(total) || total < 0) throw new RangeError(`'total' passed to 'Progress' must be a non-negative integer, got ${total}`);
    this.stream = options.stream ?? process.stderr;
    this.opts = {
      label: options.label ?? '',
      intervalMs: options.intervalMs ?? 100,
      logEvery: options.logEvery ?? Math.max(1, Math.round(total / 10)),
      tty: options.tty ?? !!(this.stream as { isTTY?: boolean }).isTTY,
      now: options.now ?? (() => performance.now()),
    };
    this.start = this.opts.now();
    this.current = initial;
    this.startStep = initial;
  }

  private readonly startStep: number;

  /** Steps done so far. */
  get position(): number {
    return this.current;
  }

  /** Advances by `n` steps, with metrics to show (e.g. `{ loss }`). */
  tick(metrics: Record<string, number | string> = {}, n = 1): void {
    this.current = Math.min(this.total, this.current + n);
    this.draw(metrics, n);
  }

  /**
   * Moves to step `position` (clamped to [current, total]: a bar never goes
   * back), e.g. when the work reports "k of n done" rather than single steps.
   * Like {@link Progress.tick}, it redraws (TTY) or logs a line when one is due.
   */
  update(position: number, metrics: Record<string, number | string> = {}): void {
    if (!Number.isFinite(position)) throw new RangeError(`'position' passed to 'Progress.update' must be a finite number, got ${position}`);
    const before = this.current;
    this.current = Math.max(before, Math.min(this.total, Math.floor(position)));
    if (this.current > before) this.draw(metrics, this.current - before);
  }

  private draw(metrics: Record<string, number | string>, advanced: number): void {
    const now = this.opts.now();
    const final = this.current >= this.total;
    if (this.opts.tty) {
      if (final || now - this.lastDraw >= this.opts.intervalMs) {
        this.lastDraw = now;
        // Fit the terminal's width (a wrapped line would not be redrawn in place):
        // a shorter bar first, so that the ETA stays in view, then cut the metrics.
        const cols = (this.stream as { columns?: number }).columns;
        const width = cols ? Math.max(6, Math.min(24, cols - 1 - this.line({}, now, true, 0).length)) : 24;
        const text = this.line(metrics, now, true, width);
        this.stream.write(`\r${cols && cols > 1 && text.length >= cols ? text.slice(0, cols - 1) : text}\x1b[K`);
      }
    } else if (final || Math.floor(this.current / this.opts.logEvery) > Math.floor((this.current - advanced) / this.opts.logEvery)) {
      this.stream.write(`${this.line(metrics, now, false)}\n`);
    }
  }

  /**
   * The text of a progress line.
   * @defaultValue barWidth 24
   */
  line(metrics: Record<string, number | string>, now = this.opts.now(), withBar = false, barWidth = 24): string {
    const elapsed = (now - this.start) / 1000;
    const doneHere = this.current - this.startStep;
    const rate = elapsed > 0 ? doneHere / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.current) / rate : Infinity;
    const pct = this.total > 0 ? this.current / this.total : 1;
    const width = barWidth;
    const bar = withBar ? `[${'#'.repeat(Math.round(pct * width)).padEnd(width, '.')}] ` : '';
    const label = this.opts.label ? `${this.opts.label} ` : '';
    const m = fmtMetrics(metrics);
    const rateStr = rate >= 1 || rate === 0 ? `${rate.toFixed(2)} it/s` : `${(1 / rate).toFixed(2)} s/it`;
    return `${label}${bar}${this.current}/${this.total} ${(pct * 100).toFixed(0)}%  ${rateStr}  elapsed ${fmtDuration(elapsed)}  ETA ${fmtDuration(eta)}${m ? `  ${m}` : ''}`;
  }

  /** Finishes the bar (newline on a TTY). */
  done(): void {
    if (this.opts.tty) this.stream.write('\n');
  }
}
