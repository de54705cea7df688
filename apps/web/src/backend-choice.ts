/**
 * The compute backends the page offers, and the parsing of a choice (no
 * TensorFlow.js here: the page's own bundle stays small).
 */

/** A browser backend. */
export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm';
/** What the user may ask for: a backend, or `auto` (the first of webgpu, webgl, wasm that starts). */
export type BackendChoice = 'auto' | BrowserBackend;

/** The order `auto` tries. */
export const BACKEND_ORDER: readonly BrowserBackend[] = Object.freeze(['webgpu', 'webgl', 'wasm']);

/**
 * Parses a backend choice (e.g. from the page's `backend` query option).
 *
 * @param value - `auto`, `webgpu`, `webgl` or `wasm` (any case); empty or missing means `auto`.
 * @throws RangeError naming the allowed values.
 */
export function parseBackendChoice(value: string | null | undefined): BackendChoice {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if ((BACKEND_ORDER as readonly string[]).includes(v)) return v as BrowserBackend;
  throw new RangeError(`backend must be one of auto, ${BACKEND_ORDER.join(', ')}; got '${value}'`);
}

