import { describe, expect, it } from '@jest/globals';
import { Progress } from './index.js';

function recorder(): { out: string[]; stream: { write: (s: string) => boolean } } {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => (out.push(s), true) } };
}

describe('Progress.update', () => {
  it('moves to a position with the ETA from the rate so far, and never goes back', () => {
    const { out, stream } = recorder();
    let t = 0;
    const p = new Progress(100, { label: 'sampling', stream, tty: false, logEvery: 10, now: () => t });
    t = 10_000;
    p.update(25, { phase: 'map 1/8' });
    // 25 steps in 10 s: 2.5 it/s, 75 steps left: 30 s.
    expect(out).toEqual(['sampling 25/100 25%  2.50 it/s  elapsed 00:10  ETA 00:30  phase map 1/8\n']);
    p.update(20);
    expect(p.position).toBe(25);
    p.update(1000);
    expect(p.position).toBe(100);
    expect(out).toHaveLength(2);
    expect(out[1]).toMatch(/^sampling 100\/100 100%.*ETA 00:00\n$/);
    expect(() => p.update(Number.NaN)).toThrow(/'position' passed to 'Progress.update' must be a finite number/);
  });

  it('logs when a jump crosses a logEvery boundary (not only on exact multiples)', () => {
    const { out, stream } = recorder();
    const p = new Progress(100, { stream, tty: false, logEvery: 10, now: () => 0 });
    p.update(7); // no boundary crossed
    p.update(13); // crosses 10
    p.update(19); // same interval
    p.tick({}, 8); // 27: crosses 20
    expect(out.map((l) => l.split(' ')[0])).toEqual(['13/100', '27/100']);
  });

  it('redraws on a TTY at most every intervalMs, and always at the end', () => {
    const { out, stream } = recorder();
    let t = 0;
    const p = new Progress(10, { stream, tty: true, intervalMs: 1000, now: () => t });
    p.update(1); // first draw
    t = 500;
    p.update(2); // too soon
    t = 1500;
    p.update(3);
    p.update(10); // final
    expect(out).toHaveLength(3);
    expect(out.every((s) => s.startsWith('\r[') && s.endsWith('\x1b[K'))).toBe(true);
    expect(out[2]).toContain('10/10 100%');
  });

  it('fits the terminal width, so that it redraws in place: a shorter bar first, then the metrics cut', () => {
    const write = (cols: number) => {
      const out: string[] = [];
      let t = 0;
      const p = new Progress(10, { stream: { write: (s: string) => (out.push(s), true), columns: cols }, tty: true, intervalMs: 0, now: () => t });
      t = 5000;
      p.update(5, { phase: 'a long phase description that would wrap' });
      return out[0]!;
    };
    // Wide: the full 24-character bar and every metric.
    expect(write(200)).toBe('\r[############............] 5/10 50%  1.00 it/s  elapsed 00:05  ETA 00:05  phase a long phase description that would wrap\x1b[K');
    // 70 columns: the core ('[] 5/10 50%  1.00 it/s  elapsed 00:05  ETA 00:05', 48 characters) leaves a 21-character bar (11 of it done), ending at the ETA.
    expect(write(70)).toBe('\r[###########..........] 5/10 50%  1.00 it/s  elapsed 00:05  ETA 00:05\x1b[K');
    // Too narrow even for the core: a 6-character bar, cut at the width.
    expect(write(40)).toBe(`\r${'[###...] 5/10 50%  1.00 it/s  elapsed 00:05  ETA 00:05'.slice(0, 39)}\x1b[K`);
  });
});
