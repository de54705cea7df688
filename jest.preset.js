// Shared Jest setup for every project: ESM TypeScript compiled by @swc/jest
// (no type-checking in tests; `npm run typecheck` does that), run under
// `node --experimental-vm-modules`. Workspace packages resolve to their
// sources, so tests never need a prior build.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(fileURLToPath(import.meta.url));

/** @param {string} projectDir @param {string} displayName */
export function projectConfig(projectDir, displayName) {
  return {
    displayName,
    rootDir: projectDir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: {
      '^.+\\.ts$': ['@swc/jest', {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      }],
    },
    moduleNameMapper: {
      '^@tumorcast/([a-z0-9-]+)$': path.join(root, 'libs/$1/src/index.ts'),
      // subpath exports (`@tumorcast/nifti/node`) map to src/<subpath>.ts
      '^@tumorcast/([a-z0-9-]+)/([a-z0-9-]+)$': path.join(root, 'libs/$1/src/$2.ts'),
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    // auto never takes WebGPU in tests (see the file).
    setupFiles: [path.join(root, 'tools/test-utils/webgpu-auto-off.cjs')],
    testTimeout: 120000,
  };
}
