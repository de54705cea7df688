// The package's main entry must load in a browser: no Node built-in module may
// be reachable from it, through this package's sources or its dependencies
// (resolved the way a browser bundler resolves them), and its own sources must
// not touch Node-only globals. The `./node` subpath is the negative control:
// the same walk must find `node:fs` there, so the check can fail.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';
import { REPO_ROOT } from './test-utils/fixtures.js';

const PKG_DIR = path.join(REPO_ROOT, 'libs/nifti');
const pkg = JSON.parse(readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };

/** Conditions a browser bundler matches for an ESM import (esbuild's `platform: 'browser'`). */
const BROWSER_CONDITIONS = new Set(['browser', 'import', 'module', 'default']);
const NODE_GLOBALS = new Set(['process', 'Buffer', 'require', '__dirname', '__filename', 'global', 'setImmediate']);

/** Resolves an `exports` target under the given conditions (first matching key wins, as in Node). */
function pickTarget(target: unknown, conditions: Set<string>): string | undefined {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = pickTarget(t, conditions);
      if (r) return r;
    }
    return undefined;
  }
  if (target && typeof target === 'object') {
    for (const [key, value] of Object.entries(target)) {
      if (!conditions.has(key)) continue;
      const r = pickTarget(value, conditions);
      if (r) return r;
    }
  }
  return undefined;
}

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || builtinModules.includes(spec) || builtinModules.includes(spec.split('/')[0]!);
}

/**
 * The entry file of a bare import (package name, optionally with a subpath),
 * resolved for a browser. A workspace package resolves to its sources, as in
 * Jest (`@tumorcast/x` to `libs/x/src/index.ts`, `@tumorcast/x/y` to
 * `libs/x/src/y.ts`), so that the walk needs no build.
 */
function resolvePackage(spec: string, conditions: Set<string>): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const sub = '.' + spec.slice(name.length);
  if (name.startsWith('@tumorcast/')) {
    const dir = path.join(REPO_ROOT, 'libs', name.slice('@tumorcast/'.length));
    const meta = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const target = pickTarget(meta.exports[sub], conditions);
    if (!target) throw new Error(`cannot resolve '${spec}' for a browser`);
    return path.join(dir, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
  }
  const dir = path.join(REPO_ROOT, 'node_modules', name);
  const meta = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: unknown; module?: string; main?: string };
  let target: string | undefined;
  if (meta.exports !== undefined) {
    const exp = meta.exports as Record<string, unknown>;
    const entry = typeof exp === 'string' || Array.isArray(exp) || !Object.keys(exp).some((k) => k.startsWith('.')) ? (sub === '.' ? exp : undefined) : exp[sub];
    target = pickTarget(entry, conditions);
  } else if (sub === '.') {
    target = meta.module ?? meta.main;
  }
  if (!target) throw new Error(`cannot resolve '${spec}' for a browser`);
  return path.join(dir, target);
}

interface Graph {
  files: string[];
  builtins: { spec: string; from: string }[];
}

/** Every file reachable by static or dynamic import from `entry`, and the Node built-ins among the imports. */
function walk(entry: string, conditions: Set<string>): Graph {
  const seen = new Set<string>();
  const builtins: Graph['builtins'] = [];
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of importedFiles) {
      if (isBuiltin(spec)) {
        builtins.push({ spec, from: path.relative(REPO_ROOT, file) });
      } else if (spec.startsWith('.')) {
        let next = path.resolve(path.dirname(file), spec);
        // this package's sources import './x.js' for './x.ts'
        if (file.endsWith('.ts') && next.endsWith('.js')) next = next.slice(0, -3) + '.ts';
        stack.push(next);
      } else {
        stack.push(resolvePackage(spec, conditions));
      }
    }
  }
  return { files: [...seen].map((f) => path.relative(REPO_ROOT, f)).sort(), builtins };
}

/** The source file behind an export of package.json (`./dist/x.js` -> `src/x.ts`). */
function sourceOf(subpath: string, condition: string): string {
  const target = pickTarget(pkg.exports[subpath], new Set([condition, 'default']));
  if (!target) throw new Error(`package.json exports '${subpath}' has no '${condition}' target`);
  expect(target).toMatch(/^\.\/dist\/.+\.js$/);
  return path.join(PKG_DIR, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
}

/** Identifiers of Node-only globals used as values in a TypeScript source (not property names). */
function nodeGlobalsIn(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
      const p = node.parent;
      const isPropertyName = (ts.isPropertyAccessExpression(p) && p.name === node) || (ts.isPropertyAssignment(p) && p.name === node) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p);
      if (!isPropertyName) found.push(`${path.relative(REPO_ROOT, file)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${node.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe('the main entry is browser-safe', () => {
  const graph = walk(sourceOf('.', 'import'), BROWSER_CONDITIONS);

  it('the walk covers the reader, the writer and the dependencies', () => {
    for (const f of ['libs/nifti/src/index.ts', 'libs/nifti/src/read.ts', 'libs/nifti/src/write.ts', 'libs/nifti/src/gzip.ts']) expect(graph.files).toContain(f);
    expect(graph.files).toContain('node_modules/nifti-reader-js/dist/nifti.js');
    expect(graph.files).toContain('node_modules/crc-32/crc32.js');
    // fflate's browser build, not its Node build (which loads worker_threads)
    expect(graph.files).toContain('node_modules/fflate/esm/browser.js');
    expect(graph.files).not.toContain('libs/nifti/src/load.ts');
  });

  it('imports no Node built-in module', () => {
    expect(graph.builtins).toEqual([]);
  });

  it("uses no Node-only global in this package's sources", () => {
    const own = graph.files.filter((f) => f.startsWith('libs/nifti/src/'));
    expect(own.flatMap((f) => nodeGlobalsIn(path.join(REPO_ROOT, f)))).toEqual([]);
  });
});

describe('the ./node subpath (negative control)', () => {
  it('is exported for the node condition only', () => {
    expect(pickTarget(pkg.exports['./node'], BROWSER_CONDITIONS)).toBeUndefined();
  });

  it('reaches node:fs, which the walk reports, and Node-only globals, which the source check reports', () => {
    const graph = walk(sourceOf('./node', 'node'), new Set(['node', 'import', 'default']));
    expect(graph.files).toContain('libs/nifti/src/load.ts');
    // saveNifti's atomic write (temporary names with the pid)
    expect(graph.files).toContain('libs/cli/src/files.ts');
    expect(graph.builtins.map((b) => b.spec)).toContain('node:fs/promises');
    expect(graph.builtins.map((b) => b.spec)).toContain('node:fs');
    expect(graph.files.filter((f) => f.startsWith('libs/')).flatMap((f) => nodeGlobalsIn(path.join(REPO_ROOT, f)))).toContainEqual(expect.stringMatching(/^libs\/cli\/src\/files\.ts:\d+ process$/));
  });
});
