// Module hooks that run this repository's TypeScript sources in a plain Node
// process the way Jest does (workspace packages resolve to libs/<name>/src,
// `./x.js` imports to `./x.ts`, compiled by @swc/core), so that tests can
// spawn a real CLI process without a prior build. Registered by run-ts.mjs.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from '@swc/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function resolve(specifier, context, next) {
  // `@tumorcast/<name>` -> src/index.ts, a subpath `@tumorcast/<name>/<sub>` -> src/<sub>.ts
  const pkg = /^@tumorcast\/([a-z0-9-]+)(?:\/([a-z0-9-]+))?$/.exec(specifier);
  if (pkg) {
    const src = path.join(root, 'libs', pkg[1], 'src', `${pkg[2] ?? 'index'}.ts`);
    if (existsSync(src)) return { url: pathToFileURL(src).href, shortCircuit: true };
  }
  if (/^\.{1,2}\//.test(specifier) && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const filename = fileURLToPath(url);
    const { code } = transformSync(await readFile(filename, 'utf8'), {
      filename,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    });
    return { format: 'module', source: code, shortCircuit: true };
  }
  return next(url, context);
}
