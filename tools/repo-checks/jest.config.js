import { fileURLToPath } from 'node:url';
import { projectConfig } from '../../jest.preset.js';

// Repository-wide checks (publish metadata, declared dependencies, the
// architecture graph): tests beside this file, run by the root `npm test`.
export default {
  ...projectConfig(fileURLToPath(new URL('.', import.meta.url)), 'repo-checks'),
  testMatch: ['<rootDir>/*.test.ts'],
};
