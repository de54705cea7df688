// `node --import <this file> some/file.ts`: runs TypeScript sources of this
// repository without a build (see ts-hooks.mjs).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
