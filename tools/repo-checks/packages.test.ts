// Every package of the workspace is ready to publish: metadata, dependencies
// as they are imported, the release configuration, what `npm pack` puts in the
// tarball, and the package graph in docs/architecture.md. A new package without
// these fails here, with messages that say what to add.
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  POSTPACK, PREPACK, REPO, declaredEdges, dependencyProblems, filesGlobToRegExp, importedPackages, isShippedSource,
  listPackages, listedFilesProblems, mermaidEdges, metadataProblems, undeclaredImportProblems, type PackageJson,
  type WorkspacePackage,
} from './checks.js';

const root = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const packages = listPackages(root);
const readJson = (rel: string) => JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8'));

/** A package.json that passes every metadata check, for the negative tests. */
function goodPackage(dir = 'libs/demo'): PackageJson {
  return {
    name: `@tumorcast/${path.basename(dir)}`,
    version: '0.1.0',
    description: 'A package.',
    keywords: ['tumorcast', 'demo', 'example'],
    homepage: `${REPO}/tree/main/${dir}#readme`,
    bugs: { url: `${REPO}/issues` },
    repository: { type: 'git', url: `git+${REPO}.git`, directory: dir },
    license: 'Apache-2.0',
    author: 'tumorcast contributors',
    type: 'module',
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/test-utils/**', 'README.md', 'CHANGELOG.md'],
    scripts: { prepack: PREPACK, postpack: POSTPACK },
    engines: { node: '>=20' },
    publishConfig: { access: 'public' },
  };
}

describe('the checks themselves', () => {
  it('accept a complete package.json', () => {
    expect(metadataProblems('libs/demo', goodPackage())).toEqual([]);
  });

  it.each([
    ['repository', { repository: undefined }, '"repository"'],
    ['repository directory', { repository: { type: 'git', url: `git+${REPO}.git`, directory: 'libs/other' } }, '"directory": "libs/demo"'],
    ['homepage', { homepage: 'https://example.org' }, '"homepage"'],
    ['bugs', { bugs: {} }, '"bugs"'],
    ['keywords', { keywords: ['demo'] }, '"keywords"'],
    ['author', { author: '' }, '"author"'],
    ['publishConfig', { publishConfig: undefined }, '"publishConfig"'],
    ['license', { license: 'MIT' }, '"license"'],
    ['sources in files', { files: ['dist', 'README.md', 'CHANGELOG.md'] }, '"files" must include "src"'],
    ['changelog in files', { files: ['dist', 'README.md', 'src', '!src/**/*.test.ts', '!src/**/test-utils/**'] }, '"files" must include "CHANGELOG.md"'],
    ['prepack', { scripts: { postpack: POSTPACK } }, '"scripts.prepack"'],
    ['name', { name: '@tumorcast/other' }, '"name" must be "@tumorcast/demo"'],
  ])('refuse a package.json without a valid %s', (_what, change, message) => {
    const problems = metadataProblems('libs/demo', { ...goodPackage(), ...change } as PackageJson);
    expect(problems.join('\n')).toContain(message);
    expect(problems.every((p) => p.startsWith('libs/demo/package.json: '))).toBe(true);
  });

  it('refuse a private package with publishConfig, and accept it without', () => {
    expect(metadataProblems('libs/demo', { ...goodPackage(), private: true }).join('\n')).toContain('private package has no "publishConfig"');
    expect(metadataProblems('libs/demo', { ...goodPackage(), private: true, publishConfig: undefined })).toEqual([]);
  });

  it('refuse stale pins, unknown packages, libraries on apps and public on private', () => {
    const ws = (dir: string, pkg: Partial<PackageJson>): WorkspacePackage => ({ dir, pkg: { ...goodPackage(dir), ...pkg } });
    const problems = dependencyProblems([
      ws('libs/a', { version: '0.2.0' }),
      ws('libs/b', { dependencies: { '@tumorcast/a': '0.1.0', '@tumorcast/nope': '0.1.0' } }),
      ws('libs/c', { dependencies: { '@tumorcast/app': '0.1.0', '@tumorcast/hidden': '0.1.0' } }),
      ws('apps/app', { devDependencies: { '@tumorcast/a': '^0.2.0' } }),
      ws('libs/hidden', { private: true }),
    ]).join('\n');
    expect(problems).toContain('libs/b/package.json: dependencies.@tumorcast/a is "0.1.0"; it must be "0.2.0"');
    expect(problems).toContain('names @tumorcast/nope, which is not a workspace package');
    expect(problems).toContain('libs/c/package.json: a library must not depend on the app @tumorcast/app');
    expect(problems).toContain('libs/c/package.json: the public package depends on the private @tumorcast/hidden');
    expect(problems).toContain('apps/app/package.json: devDependencies.@tumorcast/a is "^0.2.0"');
    expect(dependencyProblems([ws('libs/a', {}), ws('libs/b', { dependencies: { '@tumorcast/a': '0.1.0' } })])).toEqual([]);
  });

  it('find static, type-only, dynamic and re-exported imports, and nothing else', () => {
    const src = [
      "import { a } from '@tumorcast/nn';",
      "import type { B } from \"@tumorcast/unet\";",
      "export { c } from '@tumorcast/diffusion';",
      "const m = await import('@tumorcast/regressor');",
      "import '@tumorcast/random';",
      "// '@tumorcast/metrics' in a comment without import syntax",
      "const s = '@tumorcast/phantom';",
    ].join('\n');
    expect(importedPackages(src)).toEqual(['@tumorcast/diffusion', '@tumorcast/nn', '@tumorcast/random', '@tumorcast/regressor', '@tumorcast/unet']);
    expect(isShippedSource('src/a.ts')).toBe(true);
    expect(isShippedSource('src/a.test.ts')).toBe(false);
    expect(isShippedSource('src/test-utils/x.ts')).toBe(false);
    expect(isShippedSource('bench/x.mjs')).toBe(false);
  });

  it('refuse "files" entries that name nothing, and skip negations and build outputs', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-checks-'));
    try {
      const dir = 'libs/demo';
      fs.mkdirSync(path.join(tmp, dir, 'src/test-utils'), { recursive: true });
      fs.mkdirSync(path.join(tmp, dir, 'docs'));
      for (const f of ['src/index.ts', 'src/test-utils/x.ts', 'README.md', 'docs/plot.png']) fs.writeFileSync(path.join(tmp, dir, f), '');
      const pkg = (files: unknown[]): PackageJson => ({ ...goodPackage(dir), files });
      // no dist/ yet (unbuilt), no CHANGELOG.md
      expect(listedFilesProblems(tmp, dir, pkg(['dist', 'src', '!src/**/*.test.ts', '!src/**/test-utils/**', 'README.md', 'docs/*.png', './src/']))).toEqual([]);
      expect(listedFilesProblems(tmp, dir, pkg(['src', 'CHANGELOG.md', 'docs/*.svg', 'configs', '']))).toEqual([
        'libs/demo/package.json: "files" lists "CHANGELOG.md", but libs/demo/CHANGELOG.md does not exist; add it or drop the entry',
        'libs/demo/package.json: "files" lists "docs/*.svg", which matches nothing in libs/demo/; add the files or drop the entry',
        'libs/demo/package.json: "files" lists "configs", but libs/demo/configs does not exist; add it or drop the entry',
        'libs/demo/package.json: "files" holds ""; each entry must be a path or glob',
      ]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    expect(filesGlobToRegExp('docs/*.png').test('docs/a.png')).toBe(true);
    expect(filesGlobToRegExp('docs/*.png').test('docs/sub/a.png')).toBe(false);
    expect(filesGlobToRegExp('src/**/*.ts').test('src/index.ts')).toBe(true);
    expect(filesGlobToRegExp('src/**/*.ts').test('src/a/b/c.ts')).toBe(true);
    expect(filesGlobToRegExp('models').test('models/x.safetensors')).toBe(true);
  });

  it('read mermaid nodes and edges, including a --> b & c', () => {
    const md = '# x\n```mermaid\ngraph TD\n  a["@tumorcast/a"]\n  b["@tumorcast/b"]\n  c["@tumorcast/c"]\n  a --> b & c\n  b --> c %% note\n```\n';
    expect(mermaidEdges(md)).toEqual({
      nodes: ['@tumorcast/a', '@tumorcast/b', '@tumorcast/c'],
      edges: ['@tumorcast/a --> @tumorcast/b', '@tumorcast/a --> @tumorcast/c', '@tumorcast/b --> @tumorcast/c'],
    });
  });
});

describe('workspace packages', () => {
  it('are found (libs and apps)', () => {
    expect(packages.filter((w) => w.dir.startsWith('libs/')).length).toBeGreaterThanOrEqual(10);
    expect(packages.map((w) => w.dir)).toEqual(expect.arrayContaining(['apps/predict', 'apps/train']));
  });

  it.each(packages.map((w) => [w.dir, w] as const))('%s has complete publish metadata and a README', (dir, w) => {
    const problems = metadataProblems(dir, w.pkg);
    if (!fs.existsSync(path.join(root, dir, 'README.md'))) problems.push(`${dir}/README.md is missing`);
    expect(problems).toEqual([]);
  });

  it.each(packages.map((w) => [w.dir, w] as const))('%s has every file and folder its "files" lists (CHANGELOG.md among them)', (dir, w) => {
    expect(listedFilesProblems(root, dir, w.pkg)).toEqual([]);
  });

  it('pin each other at the current versions; libraries never depend on apps', () => {
    expect(dependencyProblems(packages)).toEqual([]);
  });

  it('declare every workspace package they import', () => {
    expect(undeclaredImportProblems(root, packages)).toEqual([]);
  });
});

describe('source maps', () => {
  // Maps and declaration maps point at ../src/*.ts: the sources ship with them
  // (SOURCE_FILES in every "files"), so one setting must hold for every package.
  it('are on in tsconfig.base.json and not overridden by any package', () => {
    const base = readJson('tsconfig.base.json').compilerOptions;
    expect({ sourceMap: base.sourceMap, declarationMap: base.declarationMap }).toEqual({ sourceMap: true, declarationMap: true });
    const overrides = packages.flatMap(({ dir }) => {
      const opts = readJson(`${dir}/tsconfig.lib.json`).compilerOptions ?? {};
      return ['sourceMap', 'declarationMap', 'inlineSourceMap', 'inlineSources', 'sourceRoot', 'mapRoot', 'rootDir']
        .filter((k) => k in opts && !(k === 'rootDir' && opts[k] === 'src'))
        .map((k) => `${dir}/tsconfig.lib.json sets ${k}`);
    });
    expect(overrides).toEqual([]);
  });
});

describe('release configuration (nx.json)', () => {
  const release = readJson('nx.json').release;
  const globToRegExp = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]+')}$`);

  it('releases every public package, and updates dependents on a bump', () => {
    const patterns: RegExp[] = release.projects.map(globToRegExp);
    const missing = packages.filter((w) => w.pkg.private !== true && !patterns.some((r) => r.test(w.dir))).map((w) => w.dir);
    expect(missing).toEqual([]);
    expect(release.version?.updateDependents ?? 'auto').not.toBe('never');
  });

  it('writes a changelog per package, with a commit type for each package', () => {
    const cl = release.changelog.projectChangelogs;
    expect(cl).toEqual(expect.objectContaining({ file: '{projectRoot}/CHANGELOG.md' }));
    // Commits are named "<package>: ..."; nx drops commits of unknown types from changelogs.
    const types = release.conventionalCommits?.types ?? {};
    const missing = packages
      .map((w) => path.basename(w.dir))
      .filter((short) => !types[short] || types[short].changelog?.hidden !== false)
      .map((short) => `nx.json release.conventionalCommits.types.${short} (changelog.hidden: false) is missing`);
    expect(missing).toEqual([]);
  });
});

describe('npm pack', () => {
  // One `npm pack --dry-run` over all workspaces: runs each prepack/postpack
  // (the LICENSE copy) and lists each tarball without writing one.
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--workspaces', '--ignore-scripts=false'], {
    cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, shell: process.platform === 'win32',
  });
  const tarballs: { name: string; files: { path: string }[] }[] = run.status === 0 ? JSON.parse(run.stdout) : [];

  it('succeeds for every package', () => {
    expect(run.status === 0 ? '' : run.stderr).toBe('');
    expect(tarballs.map((t) => t.name).sort()).toEqual(packages.map((w) => w.pkg.name).sort());
  });

  it.each(packages.map((w) => [w.dir, w] as const))('%s: LICENSE, README and sources in, tests out, maps with their sources', (dir, w) => {
    const tarball = tarballs.find((t) => t.name === w.pkg.name);
    expect(tarball).toBeDefined();
    const files = new Set(tarball!.files.map((f) => f.path));
    const problems: string[] = [];
    for (const f of ['LICENSE', 'README.md', 'package.json', 'src/index.ts']) if (!files.has(f)) problems.push(`${f} missing`);
    for (const f of files) {
      if (/\.test\.|(^|\/)test-utils\/|tsbuildinfo|^(test|bench)\//.test(f)) problems.push(`${f} should not ship`);
    }
    // Every source a shipped map names ships too (checked when dist/ is built, as in CI).
    for (const f of files) {
      if (!f.endsWith('.map')) continue;
      const map = JSON.parse(fs.readFileSync(path.join(root, dir, f), 'utf8')) as { sources: string[] };
      for (const s of map.sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), s));
        if (!files.has(target)) problems.push(`${f} names ${target}, which does not ship`);
      }
    }
    expect(problems).toEqual([]);
    expect(fs.existsSync(path.join(root, dir, 'LICENSE'))).toBe(false); // postpack cleaned up
  });
});

describe('docs/architecture.md', () => {
  it('shows every package and exactly the runtime dependencies the package.json files declare', () => {
    const { nodes, edges } = mermaidEdges(fs.readFileSync(path.join(root, 'docs/architecture.md'), 'utf8'));
    expect(nodes).toEqual(packages.map((w) => w.pkg.name as string).sort());
    expect(edges).toEqual(declaredEdges(packages));
  });
});
