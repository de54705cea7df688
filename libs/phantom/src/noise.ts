/**
 * Smooth seeded noise fields (internal): value noise on a random lattice,
 * interpolated with a C1 smoothstep, summed over octaves, and a periodic
 * 1-D harmonic series for star-shaped outlines.
 */
import type { Rng } from '@tumorcast/random';

// Global lookups are slow inside Jest's VM contexts; alias Math once per module.
const M = Math;

/**
 * A smooth 2-D noise field of `w` x `h` pixels, row-major (y slowest), values
 * roughly in [-1, 1], with features of about `cellPx` pixels; `octaves` halves
 * the cell size and the amplitude at each further octave.
 */
export function valueNoise(rng: Rng, w: number, h: number, cellPx: number, octaves = 1): Float32Array {
  const out = new Float32Array(w * h);
  let amp = 1;
  let total = 0;
  let cell = M.max(cellPx, 1);
  const uniform = fastUniforms(rng);
  for (let o = 0; o < octaves; o++) {
    const gw = M.ceil(w / cell) + 2;
    const gh = M.ceil(h / cell) + 2;
    const lattice = new Float32Array(gw * gh);
    for (let i = 0; i < lattice.length; i++) lattice[i] = 2 * uniform() - 1;
    // Random sub-cell offset so that octaves do not share lattice lines.
    const ox = uniform() * cell;
    const oy = uniform() * cell;
    for (let y = 0; y < h; y++) {
      const fy = (y + oy) / cell;
      const iy = M.floor(fy);
      let ty = fy - iy;
      ty = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < w; x++) {
        const fx = (x + ox) / cell;
        const ix = M.floor(fx);
        let tx = fx - ix;
        tx = tx * tx * (3 - 2 * tx);
        const a = lattice[iy * gw + ix]!;
        const b = lattice[iy * gw + ix + 1]!;
        const c = lattice[(iy + 1) * gw + ix]!;
        const d = lattice[(iy + 1) * gw + ix + 1]!;
        const top = a + (b - a) * tx;
        const bottom = c + (d - c) * tx;
        out[y * w + x] = out[y * w + x]! + amp * (top + (bottom - top) * ty);
      }
    }
    total += amp;
    amp *= 0.5;
    cell = M.max(cell / 2, 1);
  }
  if (total !== 1) for (let i = 0; i < out.length; i++) out[i] = out[i]! / total;
  return out;
}

/** A periodic function of the angle: `sum_k amp_k cos(k theta + phase_k)`. */
export interface Harmonics {
  /** Amplitudes, index 0 is harmonic `firstK`. */
  amps: number[];
  /** Phases (radians), same indexing. */
  phases: number[];
  /** The first harmonic number. */
  firstK: number;
}

/** Random harmonics k = firstK..lastK with amplitude `scale / k` times a normal deviate. */
export function randomHarmonics(rng: Rng, firstK: number, lastK: number, scale: number): Harmonics {
  const amps: number[] = [];
  const phases: number[] = [];
  for (let k = firstK; k <= lastK; k++) {
    amps.push((scale * rng.normal()) / k);
    phases.push(2 * M.PI * rng.uniform());
  }
  return { amps, phases, firstK };
}

/** Evaluates a harmonic series at `theta`. */
export function evalHarmonics(h: Harmonics, theta: number): number {
  let s = 0;
  for (let i = 0; i < h.amps.length; i++) s += h.amps[i]! * M.cos((h.firstK + i) * theta + h.phases[i]!);
  return s;
}

/** Separable Gaussian blur (in place) of a `w` x `h` image with std `sigma` pixels; edges clamp. */
export function gaussianBlur(img: Float32Array, w: number, h: number, sigma: number): void {
  if (!(sigma > 0)) return;
  const r = M.max(1, M.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = M.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  const tmp = new Float32Array(img.length);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        const xx = M.min(w - 1, M.max(0, x + i));
        s += k[i + r]! * img[row + xx]!;
      }
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        const yy = M.min(h - 1, M.max(0, y + i));
        s += k[i + r]! * tmp[yy * w + x]!;
      }
      img[y * w + x] = s;
    }
  }
}

/**
 * A fast stream of uniforms in (0, 1), seeded from `rng` (so it is
 * reproducible from the caller's seed): mulberry32. Used for per-pixel draws
 * instead of {@link Rng} itself, whose draws cost ~1 µs each under Jest's VM.
 */
export function fastUniforms(rng: Rng): () => number {
  let state = rng.nextUint32() >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = M.imul(t ^ (t >>> 15), t | 1);
    t ^= t + M.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** A fast stream of standard normals (Box-Muller on {@link fastUniforms}), seeded from `rng`. */
export function fastNormals(rng: Rng): () => number {
  const uniform = fastUniforms(rng);
  let spare = NaN;
  return () => {
    if (spare === spare) {
      const s = spare;
      spare = NaN;
      return s;
    }
    const r = M.sqrt(-2 * M.log(uniform()));
    const a = 2 * M.PI * uniform();
    spare = r * M.sin(a);
    return r * M.cos(a);
  };
}
