#!/usr/bin/env node
/**
 * Entry point of the `tumorcast-predict` binary.
 */
import { runMain } from '@tumorcast/cli';
import { predictCli } from './cli.js';

await runMain(() => predictCli(process.argv.slice(2)), 'tumorcast-predict');
