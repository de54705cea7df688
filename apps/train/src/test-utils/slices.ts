/**
 * Tiny slice data sets in the BraTS slice layout, written by the tests themselves
 * (so that they need no data beside the repository): each slice folder has
 * the four modalities and a `seg` with a disc-shaped tumour.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MODALITIES } from '@tumorcast/dataset';
import { saveNifti } from '@tumorcast/nifti/node';

/** Options of {@link writeSlice}. */
export interface WriteSliceOptions {
  /** Side length in voxels. @defaultValue 240 */
  size?: number;
  /** Put a NaN voxel into this modality. @defaultValue none */
  nanIn?: (typeof MODALITIES)[number];
  /** Tumour radius in voxels (0: no tumour). @defaultValue size / 8 */
  radius?: number;
}

/** Writes `<root>/training/<pid>_<slice>/` with t1n, t1c, t2w, t2f and seg; returns the folder. */
export async function writeSlice(root: string, pid: string, slice: number, o: WriteSliceOptions = {}): Promise<string> {
  const size = o.size ?? 240;
  const radius = o.radius ?? size / 8;
  const dir = path.join(root, 'training', `${pid}_${slice}`);
  fs.mkdirSync(dir, { recursive: true });
  const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const c = size / 2;
  const cx = c + ((slice * 7) % 11) - 5;
  for (const [k, mod] of [...MODALITIES, 'seg' as const].entries()) {
    const data = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const brain = (x - c) ** 2 + (y - c) ** 2 < (0.4 * size) ** 2;
        const tumour = (x - cx) ** 2 + (y - c) ** 2 < radius ** 2;
        data[x + size * y] = mod === 'seg' ? (tumour ? 2 : 0) : brain ? 0.2 + 0.1 * k + (tumour ? 0.4 : 0) + 0.05 * Math.sin(x / 5 + y / 7) : 0;
      }
    }
    if (mod === o.nanIn) data[c + size * c] = Number.NaN;
    await saveNifti(path.join(dir, `tiny_train_${pid}_${mod}_${slice}_w.nii.gz`), { shape: [size, size, 1], data, affine });
  }
  return dir;
}

/** Writes `count` slices of one patient under `root`; returns `root`. */
export async function writeSlices(root: string, count: number, o: WriteSliceOptions = {}): Promise<string> {
  for (let i = 0; i < count; i++) await writeSlice(root, '00000001', 20 + i, o);
  return root;
}

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
