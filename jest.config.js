// Root Jest config: runs every project's tests in one process tree so that
// `npm test` ends with Jest's own summary line. (testTimeout is a global
// option: project configs cannot set it when run through `projects`.)
export default {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js', '<rootDir>/tools/repo-checks/jest.config.js'],
  maxWorkers: 2,
  // Points Vulkan at SwiftShader (if installed) for the webgpu tests.
  globalSetup: '<rootDir>/tools/test-utils/webgpu-env.mjs',
  testTimeout: 120000,
};
