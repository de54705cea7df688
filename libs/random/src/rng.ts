/**
 * A small, fast, seedable pseudo-random number generator (PCG32, O'Neill 2014:
 * 64-bit LCG state, XSH-RR output) with the distributions tumorcast needs.
 *
 * Every place where randomness enters tumorcast (diffusion noise, data
 * shuffling, bootstrap noise, phantom generation) takes a {@link Rng} or a
 * seed, so that a run with the same seed reproduces bit for bit.
 */

const MASK64 = (1n << 64n) - 1n;
// Module-level aliases: global lookups of Math.* are slow inside Jest's VM sandbox.
const imul = Math.imul;
const floor = Math.floor;
const sqrt = Math.sqrt;
const log = Math.log;
// PCG's multiplier 6364136223846793005 = 0x5851F42D_4C957F2D in 32- and 16-bit pieces.
const MULT_HI = 0x5851f42d;
const MULT_LO = 0x4c957f2d;
const MULT_LO0 = MULT_LO & 0xffff;
const MULT_LO1 = MULT_LO >>> 16;

/** A seed: a non-negative safe integer, a bigint, or a string (hashed). */
export type Seed = number | bigint | string;

/** Hashes a string to a 64-bit seed (FNV-1a 64). */
function hashString(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & MASK64;
  }
  return h;
}

function seedToBigInt(seed: Seed, name: string): bigint {
  if (typeof seed === 'string') return hashString(seed);
  if (typeof seed === 'bigint') {
    if (seed < 0n) throw new RangeError(`'${name}' must be non-negative, got ${seed}`);
    return seed & MASK64;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`'${name}' must be a non-negative safe integer, a bigint or a string, got ${seed}`);
  }
  return BigInt(seed);
}

/**
 * Seeded PCG32 generator. Not cryptographically secure.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform();          // in [0, 1)
 * rng.normal(0, 1);       // standard normal
 * rng.shuffle([1, 2, 3]); // in place, returns the array
 * ```
 */
export class Rng {
  // 64-bit state and increment as unsigned 32-bit halves: BigInt arithmetic
  // per draw is ~20x slower, and diffusion noise draws millions of numbers.
  private hi = 0;
  private lo = 0;
  private readonly incHi: number;
  private readonly incLo: number;
  private spareNormal: number | undefined;

  /**
   * @param seed - the seed; the same seed and stream give the same sequence.
   * @param stream - selects one of 2^63 independent sequences for a seed.
   * @defaultValue stream 0
   */
  constructor(seed: Seed, stream: Seed = 0) {
    const inc = ((seedToBigInt(stream, 'stream') << 1n) | 1n) & MASK64;
    this.incHi = Number(inc >> 32n);
    this.incLo = Number(inc & 0xffffffffn);
    this.nextUint32();
    const s = ((BigInt(this.hi) << 32n) + BigInt(this.lo) + seedToBigInt(seed, 'seed')) & MASK64;
    this.hi = Number(s >> 32n);
    this.lo = Number(s & 0xffffffffn);
    this.nextUint32();
  }

  /** The next 32 random bits as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const hi = this.hi;
    const lo = this.lo;
    // state = state * MULT + inc (mod 2^64), with an exact 32x32->64 product of the low halves.
    const a0 = lo & 0xffff, a1 = lo >>> 16;
    const p00 = a0 * MULT_LO0, p01 = a0 * MULT_LO1, p10 = a1 * MULT_LO0, p11 = a1 * MULT_LO1;
    const mid = p01 + p10;
    const lowFull = p00 + (mid % 65536) * 65536;
    const low32 = lowFull % 4294967296;
    const high32 = p11 + floor(mid / 65536) + floor(lowFull / 4294967296);
    const newHi = (high32 + imul(hi, MULT_LO) + imul(lo, MULT_HI)) >>> 0;
    const loSum = low32 + this.incLo;
    this.lo = loSum >>> 0;
    this.hi = (newHi + this.incHi + (loSum >= 4294967296 ? 1 : 0)) >>> 0;
    // XSH-RR output of the old state: rotr32(((old >> 18) ^ old) >> 27, old >> 59).
    const xLo = lo ^ ((lo >>> 18) | (hi << 14));
    const xHi = hi ^ (hi >>> 18);
    const xorshifted = ((xLo >>> 27) | (xHi << 5)) >>> 0;
    const rot = hi >>> 27;
    return ((xorshifted >>> rot) | (xorshifted << (-rot & 31))) >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform double in [low, high). */
  uniformRange(low: number, high: number): number {
    if (!(high >= low)) throw new RangeError(`'high' passed to 'uniformRange' must be >= 'low', got [${low}, ${high})`);
    return low + (high - low) * this.uniform();
  }

  /** A uniform integer in [0, n) without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`'n' passed to 'int' must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x: number;
    do x = this.nextUint32(); while (x >= limit);
    return x % n;
  }

  /** A normal deviate (Marsaglia polar method), mean `mean`, std `std`. */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return mean + std * s;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = sqrt((-2 * log(s)) / s);
    this.spareNormal = v * f;
    return mean + std * u * f;
  }

  /** Fills `out` (or a new Float32Array of length `n`) with standard normals. */
  normalArray(n: number, out?: Float32Array): Float32Array {
    const a = out ?? new Float32Array(n);
    if (a.length !== n) throw new RangeError(`'out' passed to 'normalArray' must have length ${n}, got ${a.length}`);
    for (let i = 0; i < n; i++) a[i] = this.normal();
    return a;
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** `n` indices drawn with replacement from [0, size) (bootstrap resampling). */
  resampleIndices(size: number, n: number = size): number[] {
    return Array.from({ length: n }, () => this.int(size));
  }

  /**
   * A new generator derived from this one's seed material and `key`, for
   * handing independent streams to sub-tasks (one per sample, per worker...)
   * without consuming this generator's sequence in a key-dependent way.
   */
  fork(key: Seed): Rng {
    const a = BigInt(this.nextUint32());
    const b = BigInt(this.nextUint32());
    return new Rng((a << 32n) | b, key);
  }

  /** A 31-bit integer seed for APIs that take a plain number (e.g. tf.randomNormal's seed). */
  seedInt(): number {
    return this.nextUint32() >>> 1;
  }
}

/** Creates a {@link Rng}; shorthand for `new Rng(seed, stream)`. */
export function createRng(seed: Seed, stream: Seed = 0): Rng {
  return new Rng(seed, stream);
}
