#!/usr/bin/env node
// The `tumorcast-predict` command. It runs the compiled CLI, ../dist/main.js;
// this small file is committed so that npm can link the command at install
// time, before anything is built. In this repository `npm ci` builds the
// apps (the root package's `prepare` script); if dist/ is missing anyway
// (e.g. `npm ci --ignore-scripts`), say how to build it instead of failing
// with a module-not-found stack trace.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    `tumorcast-predict: ${fileURLToPath(main)} does not exist: build it first with \`npm run build\` in the repository root\n`,
  );
  process.exit(1);
}
await import(main.href);
