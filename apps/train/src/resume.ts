/**
 * Resolves `resume_checkpoint`: 'latest' = the newest intact checkpoint in
 * the results folder (newer damaged ones are passed over, and said so), or a
 * `modelNNNNNN.safetensors` path.
 */
import { CliError } from '@tumorcast/cli';
import { latestIntactCheckpoint } from './checkpoint.js';

/**
 * The model file to resume from, or undefined to start fresh.
 *
 * @param resume - the `resume_checkpoint` value (undefined: start fresh).
 * @param resultsDir - where 'latest' looks.
 * @param log - notices: damaged checkpoints passed over, 'latest' finding nothing.
 * @defaultValue log a line on stderr
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
