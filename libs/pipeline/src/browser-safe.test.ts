// The main entry must run where TensorFlow.js runs, a browser included: no
// Node built-in module may be reachable from it by a static import, through
// this package's sources or the workspace packages it imports (resolved to
// their sources, as Jest resolves them). Modules that other packages load on
// first use (`await import('node:fs')` when a file is read) are not followed:
// they load only when a caller asks for a file. The `./node` entry is the
// negative control: the same walk must find `node:fs` there.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The static, non-type-only module specifiers of a TypeScript source. */
function staticImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && !st.importClause?.isTypeOnly && ts.isStringLiteral(st.moduleSpecifier)) out.push(st.moduleSpecifier.text);
    if (ts.isExportDeclaration(st) && !st.isTypeOnly && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) out.push(st.moduleSpecifier.text);
  }
  return out;
}

/** Files reachable from `entry` within the workspace, and the Node built-ins they import. */
function walk(entry: string): { files: string[]; builtins: string[] } {
  const seen = new Set<string>();
  const builtins: string[] = [];
  const stack = [entry];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of staticImports(file)) {
      const ws = /^@tumorcast\/([a-z0-9-]+)(?:\/([a-z0-9-]+))?$/.exec(spec);
      if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) builtins.push(`${path.relative(REPO, file)}: ${spec}`);
      else if (spec.startsWith('.')) stack.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (ws) stack.push(path.join(REPO, 'libs', ws[1]!, 'src', `${ws[2] ?? 'index'}.ts`));
      // other packages (TensorFlow.js) are left to their own browser builds
    }
  }
  return { files: [...seen].map((f) => path.relative(REPO, f)), builtins };
}

describe('the main entry', () => {
  const graph = walk(path.join(REPO, 'libs/pipeline/src/index.ts'));

  it('reaches predictSlice, the networks and the sampler, but no file I/O', () => {
    for (const f of ['libs/pipeline/src/predict.ts', 'libs/guided-sampler/src/index.ts', 'libs/segmenter/src/index.ts', 'libs/metrics/src/index.ts']) expect(graph.files).toContain(f);
    for (const f of ['libs/pipeline/src/run.ts', 'libs/pipeline/src/models.ts', 'libs/cli/src/index.ts']) expect(graph.files).not.toContain(f);
  });

  it('imports no Node built-in module', () => {
    expect(graph.builtins).toEqual([]);
  });
});

describe('the ./node entry (negative control)', () => {
  it('reaches node:fs', () => {
    expect(walk(path.join(REPO, 'libs/pipeline/src/node.ts')).builtins).toContainEqual(expect.stringMatching(/: node:fs$/));
  });
});
