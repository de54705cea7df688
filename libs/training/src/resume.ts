/**
 * Resolves `resume_checkpoint`: 'latest' = the newest intact checkpoint in
 * the results folder (newer damaged ones are passed over, and said so), or a
 * `modelNNNNNN.safetensors` path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, describeFsError, removeStaleTempFiles, writeFileAtomicSync } from '@tumorcast/cli';
import { latestIntactCheckpoint } from './checkpoint.js';

/**
 * The model file to resume from, or undefined to start fresh.
 *
 * @param resume - the `resume_checkpoint` value (undefined: start fresh).
 * @param resultsDir - where 'latest' looks.
 * @param log - notices: damaged checkpoints passed over, 'latest' finding nothing (default: a line on stderr).
 */
export function resolveResume(resume: string | undefined, resultsDir: string, log: (m: string) => void = (m) => void process.stderr.write(`${m}\n`)): string | undefined {
  if (!resume) return undefined;
  if (resume === 'latest') {
    const { file, damaged } = latestIntactCheckpoint(resultsDir);
    for (const d of damaged) log(`${d.file} is damaged (${d.problem}); passing over it`);
    if (file) {
      if (damaged.length) log(`resume_checkpoint latest: resuming from the newest intact checkpoint, ${file}`);
      return file;
    }
    if (damaged.length) {
      throw new CliError(`resume_checkpoint latest: no intact checkpoint in ${resultsDir} (${damaged.length} damaged); move them away to start from scratch, or give an intact one`, 1);
    }
    log(`resume_checkpoint latest: no checkpoint in ${resultsDir} yet; starting from scratch`);
    return undefined;
  }
  if (!/model\d+\.safetensors$/.test(resume)) throw new CliError(`resume_checkpoint must be a modelNNNNNN.safetensors file or 'latest', got '${resume}'`);
  return resume;
}

/** Options of {@link prepareResultsDir}. */
export interface PrepareResultsDirOptions {
  /** The results folder (created when missing). */
  resultsDir: string;
  /** The run's config, saved as `config.json` (so that the app's `--config <dir>/config.json` repeats the run). */
  config: Record<string, unknown>;
  /** `'latest'`, a `modelNNNNNN.safetensors`, or undefined to start fresh. @defaultValue start fresh */
  resumeCheckpoint?: string;
  /** Notices (temporary files removed, damaged checkpoints). @defaultValue a line on stderr */
  log?: (message: string) => void;
}

/**
 * Readies a results folder for a training run: creates it, removes the
 * temporary files a killed run left there (with a notice), saves the
 * config as `config.json`, and resolves `resumeCheckpoint` (see
 * {@link resolveResume}).
 *
 * @param options - see {@link PrepareResultsDirOptions}.
 * @returns the checkpoint to resume from, or undefined to start from scratch.
 */
export function prepareResultsDir(options: PrepareResultsDirOptions): string | undefined {
  const dir = options.resultsDir;
  const log = options.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new CliError(`results_dir ${describeFsError(e) ?? `${dir}: ${(e as Error).message}`}`);
  }
  const removed = removeStaleTempFiles(dir);
  if (removed.length) log(`removed ${removed.length} temporary file(s) an interrupted run left in ${dir}: ${removed.map((f) => path.basename(f)).join(', ')}`);
  writeFileAtomicSync(path.join(dir, 'config.json'), `${JSON.stringify(options.config, null, 2)}\n`);
  return resolveResume(options.resumeCheckpoint, dir, log);
}
