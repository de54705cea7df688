/**
 * Timestep respacing (guided-diffusion `respace.py`).
 */

/** Python 3's `round()`: round half to even. */
function pythonRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The original timesteps kept by a respacing, as guided-diffusion's
 * `space_timesteps`: `"ddimN"` keeps `range(0, T, stride)` for the stride that
 * gives exactly N steps; `"N"` or `"N1,N2,..."` splits [0, T) into equal
 * sections and takes N_i evenly spaced steps (Python rounding, half to even)
 * from section i. A number array is the same as its comma-joined string.
 *
 * @param numTimesteps - the original number of steps T.
 * @param sectionCounts - `"ddim50"`, `"250"`, `"10,10,10"` or `[10, 10, 10]`.
 * @returns the kept timesteps, sorted ascending.
 */
export function spaceTimesteps(numTimesteps: number, sectionCounts: string | readonly number[]): number[] {
  const fn = 'spaceTimesteps';
  if (!Number.isInteger(numTimesteps) || numTimesteps < 1) {
    throw new RangeError(`'numTimesteps' passed to '${fn}' must be a positive integer, got ${numTimesteps}`);
  }
  let counts: number[];
  if (typeof sectionCounts === 'string') {
    const s = sectionCounts.trim();
    if (s.startsWith('ddim')) {
      const desired = Number(s.slice(4));
      if (!Number.isInteger(desired) || desired < 1) {
        throw new RangeError(`'sectionCounts' passed to '${fn}' has an invalid ddim count: '${sectionCounts}'`);
      }
      for (let i = 1; i < numTimesteps; i++) {
        if (Math.ceil(numTimesteps / i) === desired) {
          const out: number[] = [];
          for (let t = 0; t < numTimesteps; t += i) out.push(t);
          return out;
        }
      }
      throw new RangeError(`'sectionCounts' passed to '${fn}': cannot create exactly ${desired} steps with an integer stride from ${numTimesteps}`);
    }
    counts = s.split(',').map((p) => Number(p.trim()));
  } else {
    counts = [...sectionCounts];
  }
  if (counts.length === 0 || counts.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new RangeError(`'sectionCounts' passed to '${fn}' must be 'ddimN' or comma-separated non-negative integers, got '${String(sectionCounts)}'`);
  }
  const sizePer = Math.floor(numTimesteps / counts.length);
  const extra = numTimesteps % counts.length;
  let startIdx = 0;
  const all = new Set<number>();
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) {
      throw new RangeError(`'sectionCounts' passed to '${fn}': cannot divide a section of ${size} steps into ${count}`);
    }
    const fracStride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0;
    for (let k = 0; k < count; k++) {
      all.add(startIdx + pythonRound(cur));
      cur += fracStride;
    }
    startIdx += size;
  });
  return [...all].sort((a, b) => a - b);
}
