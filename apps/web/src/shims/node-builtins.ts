/**
 * Stands in for Node's built-in modules in the browser bundle. Some
 * packages' main entries import `node:fs`/`node:path` (or
 * `@tumorcast/cli/files`) at the top for their file functions (e.g.
 * `readSeriesCsv` of `@tumorcast/growth-ode`); the app never calls those, and
 * if it ever did, the call fails with a clear message instead of the page
 * failing to load.
 */

function unavailable(name: string): () => never {
  return () => {
    throw new Error(`${name} is not available in the browser: the web app reads files the user drops, not paths`);
  };
}

/** `node:fs(/promises)` stand-ins. */
export const readFile = unavailable('readFile');
/** Stand-in. */
export const writeFile = unavailable('writeFile');
/** Stand-in. */
export const readdir = unavailable('readdir');
/** Stand-in. */
export const stat = unavailable('stat');
/** Stand-in. */
export const mkdir = unavailable('mkdir');
/** Stand-in. */
export const rename = unavailable('rename');
/** Stand-in. */
export const rm = unavailable('rm');
/** Stand-in. */
export const open = unavailable('open');
/** `@tumorcast/cli/files` stand-ins. */
export const writeFileAtomic = unavailable('writeFileAtomic');
/** Stand-in. */
export const writeFileAtomicSync = unavailable('writeFileAtomicSync');
/** Stand-in. */
export const tempPathFor = unavailable('tempPathFor');
/** `node:path` stand-ins. */
export const join = unavailable('path.join');
/** Stand-in. */
export const basename = unavailable('path.basename');
/** Stand-in. */
export const dirname = unavailable('path.dirname');
/** Stand-in. */
export const resolve = unavailable('path.resolve');
/** Stand-in. */
export const relative = unavailable('path.relative');
/** Stand-in. */
export const extname = unavailable('path.extname');
/** Stand-in. */
export const sep = '/';

/** The default export (`import fs from 'node:fs'`, `import path from 'node:path'`). */
const shim = { readFile, writeFile, readdir, stat, mkdir, rename, rm, open, writeFileAtomic, writeFileAtomicSync, tempPathFor, join, basename, dirname, resolve, relative, extname, sep, promises: {} };
export default shim;
