// Root Jest config: runs every project's tests in one process tree so that
// `npm test` ends with Jest's own summary line.
export default {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js'],
  maxWorkers: 2,
};
