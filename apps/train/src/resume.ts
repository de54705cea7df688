/** Resolves `resume_checkpoint` ('latest' = newest complete checkpoint in the results folder). */
import { CliError } from '@tumorcast/cli';
import { latestCheckpoint } from './checkpoint.js';

/** The model file to resume from, or undefined to start fresh. */
export function resolveResume(resume: string | undefined, resultsDir: string): string | undefined {
  if (!resume) return undefined;
  if (resume === 'latest') return latestCheckpoint(resultsDir);
  if (!/model\d+\.safetensors$/.test(resume)) throw new CliError(`resume_checkpoint must be a modelNNNNNN.safetensors file or 'latest', got '${resume}'`);
  return resume;
}
