/**
 * Test helpers of the app: a tiny diffusion config, and `tumorcast-train` as
 * a real child process with its output watched. The slice writers live with
 * @tumorcast/training's tests.
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { writeSlice, writeSlices } from '../../../../libs/training/src/test-utils/slices.js';
export type { WriteSliceOptions } from '../../../../libs/training/src/test-utils/slices.js';

/** A tiny diffusion config (32x32, no attention) that takes well under a second a step. */
export const TINY_DIFFUSION = [
  '--image-size', '32', '--num-channels', '32', '--num-res-blocks', '1', '--channel-mult', '1,2', '--attention-resolutions', '',
  '--batch-size', '2', '--lr', '1e-3', '--diffusion-steps', '50', '--backend', 'wasm',
];

const here = path.dirname(fileURLToPath(import.meta.url));

/** `tumorcast-train` as a real child process, run from the sources (no build needed; see tools/test-utils/run-ts.mjs). */
export function spawnTrainCli(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['--import', path.join(here, '../../../../tools/test-utils/run-ts.mjs'), path.join(here, '..', 'main.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TUMORCAST_DEBUG: '' },
  });
}

/** A spawned process's output so far, and a way to wait for a line of it. */
export interface Watched {
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves with the match once the output matches `re` (rejects if the process exits first). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Watches a child's output (for waiting on what it prints, never on time). */
export function watch(child: ChildProcess): Watched {
  let text = '';
  let closed: string | undefined;
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      const m = text.match(w.re);
      if (m) {
        waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  };
  const onData = (d: Buffer) => {
    text += d.toString('utf8');
    check();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      closed = String(code ?? signal);
      for (const w of waiters.splice(0)) w.reject(new Error(`the process exited (${code ?? signal}) before printing ${w.re}; its output:\n${text}`));
      resolve({ code, signal });
    });
  });
  return {
    output: () => text,
    waitFor: (re) => new Promise((resolve, reject) => {
      const m = text.match(re);
      if (m) resolve(m);
      else if (closed !== undefined) reject(new Error(`the process exited (${closed}) before printing ${re}; its output:\n${text}`));
      else waiters.push({ re, resolve, reject });
    }),
    exited,
  };
}
