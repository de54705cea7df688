// The installed command: package.json's bin is a committed shim that runs the
// compiled CLI (dist/main.js), so that npm links it before anything is built.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeBinShim } from '../../../tools/test-utils/bin-shim.js';

describeBinShim({ app: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), bin: 'tumorcast-predict' });
