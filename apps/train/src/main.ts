#!/usr/bin/env node
/**
 * Entry point of the `tumorcast-train` binary.
 */
import { runMain } from '@tumorcast/cli';
import { trainCli } from './cli.js';

await runMain(() => trainCli(process.argv.slice(2)), 'tumorcast-train');
