/**
 * `tumorcast-predict run`, `sample` and `probability-map` (the pipeline's
 * `runDataset` with this CLI's locks, progress bar and messages) and
 * `report`.
 */
import { Progress } from '@tumorcast/cli';
import { reportFolder, runDataset } from '@tumorcast/pipeline/node';
import type { RunDatasetOptions, SliceResult } from '@tumorcast/pipeline/node';
import { cliErrors, flagName } from './errors.js';
import { runLocks, withSetupLock } from './locks.js';

/** Options of {@link runPipeline}: the pipeline's, with a log. */
export type RunOptions = Omit<RunDatasetOptions, 'locks' | 'names' | 'onPlan' | 'onProgress' | 'log'> & { log: (m: string) => void };

/**
 * Runs the pipeline over a data folder with the folder locked against other
 * runs (shards of one split share it) and a progress bar on stderr.
 *
 * @throws CliError (exit code 2 for usage, 1 for bad data) naming the flag, file or slice.
 */
export async function runPipeline(o: RunOptions): Promise<SliceResult[]> {
  const maps = o.maps ?? true;
  const command = maps ? ((o.report ?? true) ? 'run' : 'probability-map') : 'sample';
  const owner = `tumorcast-predict ${command}${o.shard ? ` --shard ${o.shard}` : ''}`;
  let bar: Progress | undefined;
  return cliErrors(() => runDataset({
    ...o,
    names: flagName,
    locks: runLocks(o.out, o.shard, owner, o.log),
    onPlan: (plan) => { bar = new Progress(plan.units, { label: 'sampling' }); },
    onProgress: (p) => {
      bar?.update(p.done, p.status);
      if (p.last) bar?.done();
    },
  }));
}

/**
 * `tumorcast-predict report --out DIR`: writes report.html and the metrics
 * over every finished slice of an output folder (e.g. after shards that ran
 * apart, or while some still run), and brings `run.json` up to date.
 *
 * @throws CliError when `out` is not an output folder of run/sample/probability-map, or has no finished slice.
 */
export async function reportCommand(out: string, log: (m: string) => void): Promise<void> {
  await cliErrors(() => reportFolder(out, { log, names: flagName, exclusive: (fn) => withSetupLock(out, 'tumorcast-predict report', log, fn) }));
}
