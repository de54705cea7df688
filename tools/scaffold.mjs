// One-off scaffolding helper: creates a library or app folder with the
// workspace's conventions (package.json, tsconfigs, jest config, README).
// Usage: node tools/scaffold.mjs lib <name> "<description>" [dep,dep] [tfjs]
//        node tools/scaffold.mjs app <name> "<description>" <bin> [dep,dep]
import fs from 'node:fs';
import path from 'node:path';

const [kind, name, description, a4 = '', a5 = ''] = process.argv.slice(2);
const isApp = kind === 'app';
const dir = path.join(isApp ? 'apps' : 'libs', name);
const bin = isApp ? a4 : undefined;
const deps = (isApp ? a5 : a4).split(',').filter(Boolean);
const usesTf = isApp || a5 === 'tfjs';
if (fs.existsSync(path.join(dir, 'package.json'))) throw new Error(`${dir} exists`);
fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
const w = (f, s) => fs.writeFileSync(path.join(dir, f), s.endsWith('\n') ? s : s + '\n');

// Publish metadata as tools/repo-checks expects it; add keywords (at least 3).
const repo = 'https://github.com/tumorcast/tumorcast';
const pkg = {
  name: `@tumorcast/${name}`,
  version: '0.1.0',
  description,
  keywords: ['tumorcast', name],
  homepage: `${repo}/tree/main/${dir}#readme`,
  bugs: { url: `${repo}/issues` },
  repository: { type: 'git', url: `git+${repo}.git`, directory: dir },
  license: 'Apache-2.0',
  author: 'tumorcast contributors',
  type: 'module',
  ...(isApp ? { bin: { [bin]: './dist/main.js' } } : {}),
  main: './dist/index.js',
  types: './dist/index.d.ts',
  exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' }, './package.json': './package.json' },
  files: ['dist', '!dist/**/*.test.*', '!dist/**/*.tsbuildinfo', 'src', '!src/**/*.test.ts', '!src/**/test-utils/**', 'README.md', 'CHANGELOG.md'],
  sideEffects: false,
  scripts: {
    build: 'tsc -b tsconfig.lib.json',
    typecheck: 'tsc -p tsconfig.json --noEmit',
    lint: 'eslint src',
    test: 'node --experimental-vm-modules ../../node_modules/jest/bin/jest.js -c jest.config.js',
    prepack: "node -e \"require('node:fs').copyFileSync('../../LICENSE','LICENSE')\"",
    postpack: "node -e \"require('node:fs').rmSync('LICENSE',{force:true})\"",
  },
  dependencies: Object.fromEntries(deps.map((d) => [`@tumorcast/${d}`, '0.1.0'])),
  ...(usesTf && !isApp ? { peerDependencies: { '@tensorflow/tfjs': '^4.22.0' } } : {}),
  ...(isApp ? { dependencies: { ...Object.fromEntries(deps.map((d) => [`@tumorcast/${d}`, '0.1.0'])), '@tensorflow/tfjs': '^4.22.0' } } : {}),
  engines: { node: '>=20' },
  publishConfig: { access: 'public' },
};
w('package.json', JSON.stringify(pkg, null, 2));
w('tsconfig.lib.json', JSON.stringify({
  extends: '../../tsconfig.base.json',
  compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/tsconfig.lib.tsbuildinfo' },
  include: ['src/**/*.ts'],
  exclude: ['src/**/*.test.ts', 'src/**/test-utils/**'],
  references: deps.map((d) => ({ path: `../../libs/${d}/tsconfig.lib.json` })),
}, null, 2));
w('tsconfig.json', JSON.stringify({
  extends: '../../tsconfig.base.json',
  compilerOptions: { composite: false, noEmit: true, declaration: false, declarationMap: false },
  include: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
}, null, 2));
w('jest.config.js', `import { fileURLToPath } from 'node:url';
import { projectConfig } from '../../jest.preset.js';

export default projectConfig(fileURLToPath(new URL('.', import.meta.url)), '${name}');
`);
console.log('scaffolded', dir);
console.log(`next: keywords and README.md in ${dir}, "${name}" in nx.json release.conventionalCommits.types, the package in docs/architecture.md (tools/repo-checks checks all three)`);
