/**
 * Argument checks shared by the package (internal, not exported from the
 * barrel). Every message names the argument and the function.
 */

/** Throws unless `v` is a finite number within [min, max]. */
export function checkNumber(fn: string, name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? 'a finite number' : `a finite number in [${min}, ${max}]`;
    throw new RangeError(`'${name}' passed to '${fn}' must be ${range}, got ${String(v)}`);
  }
  return v;
}

/** Throws unless `v` is a finite number > `min` (strict). */
export function checkPositive(fn: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > min)) {
    throw new RangeError(`'${name}' passed to '${fn}' must be a finite number > ${min}, got ${String(v)}`);
  }
  return v;
}

/** Throws unless `v` is an integer within [min, max]. */
export function checkInt(fn: string, name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`'${name}' passed to '${fn}' must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

/** Throws unless `v` is a boolean. */
export function checkBool(fn: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`'${name}' passed to '${fn}' must be a boolean, got ${String(v)}`);
  return v;
}

/** Throws unless `v` is a seed (non-negative safe integer, bigint or string). */
export function checkSeed(fn: string, name: string, v: unknown): number | bigint | string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new RangeError(`'${name}' passed to '${fn}' must be a non-negative safe integer, a bigint or a string, got ${String(v)}`);
}

/** Throws unless `v` is a plain object (or undefined, which becomes {}). */
export function checkOptions<T extends object>(fn: string, name: string, v: T | undefined): T {
  if (v === undefined) return {} as T;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`'${name}' passed to '${fn}' must be an object, got ${v === null ? 'null' : typeof v}`);
  }
  return v;
}
