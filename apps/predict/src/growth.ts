/**
 * `tumorcast-predict fit-growth`: the pipeline's growth fit (`fitGrowthSeries`)
 * on a size CSV, written as growth.json, growth.csv, params.csv,
 * predictions.json, targets.json and one SVG per series; and its flags.
 */
import { twoPhaseRtModel } from '@tumorcast/growth-ode';
import type { TwoPhaseParams } from '@tumorcast/growth-ode';
import { CliError, defineConfigSchema } from '@tumorcast/cli';
import type { ConfigOf } from '@tumorcast/cli';
import { fitGrowthSeries, readSizeSeries, writeGrowthOutputs } from '@tumorcast/pipeline/node';
import type { FitGrowthOptions, SeriesPrediction } from '@tumorcast/pipeline/node';
import { cliErrors, flagName } from './errors.js';

/**
 * The growth-model flags of `fit-growth` (`--fix`, `--short-series`,
 * `--refine-from-bootstrap`); {@link fitGrowthModelOptionsOf} turns their
 * resolved values into the pipeline's `FitGrowthOptions`.
 */
export const FIT_GROWTH_KEYS = defineConfigSchema({
  fix: {
    type: 'string[]',
    description: `hold two-phase parameters at values: name=value,... (names ${twoPhaseRtModel.paramNames.join(', ')}; v0 in units of the first size), e.g. slope=1,delay=5; each lowers the points a series needs by one`,
    optional: true,
  },
  short_series: {
    type: 'string',
    description: 'a series with fewer points than free parameters: hold slope, then delay, then survival at population values (slope=1, delay=5, survival=0.001; the bootstrap draws them over their plausible ranges, so the band is wide), or fail',
    default: 'population',
    choices: ['population', 'error'],
  },
  refine_from_bootstrap: {
    type: 'boolean',
    description: "the reference code's second pass: upper bounds of lambdaGr, lambdaDecay, delay from the bootstrap (1.1 x the largest value <= the 90th percentile), then bootstrap again",
    default: false,
  },
});

/**
 * Parses `--fix` entries (`name=value`) into held two-phase parameters.
 *
 * @param entries - the comma-separated items of `--fix`
 * @returns the held values by parameter name
 * @throws CliError (usage) naming the bad entry, an unknown name or a non-finite value
 */
export function parseFixFlag(entries: readonly string[]): Partial<TwoPhaseParams> {
  const names = twoPhaseRtModel.paramNames as readonly string[];
  const out: Record<string, number> = {};
  for (const e of entries) {
    const m = /^\s*([A-Za-z0-9_]+)\s*=\s*(\S+)\s*$/.exec(e);
    if (!m) throw new CliError(`--fix: '${e}' is not name=value (e.g. --fix slope=1,delay=5)`);
    const [, name, raw] = m as unknown as [string, string, string];
    if (!names.includes(name)) throw new CliError(`--fix: unknown parameter '${name}'; the two-phase model's parameters are ${names.join(', ')}`);
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new CliError(`--fix: the value of '${name}' must be a finite number, got '${raw}'`);
    if (name in out) throw new CliError(`--fix: '${name}' is given twice`);
    out[name] = v;
  }
  return out as Partial<TwoPhaseParams>;
}

/** The growth-model options of a resolved `fit-growth` config (keys of {@link FIT_GROWTH_KEYS}). */
export function fitGrowthModelOptionsOf(c: ConfigOf<typeof FIT_GROWTH_KEYS>): Pick<FitGrowthOptions, 'fixed' | 'shortSeries' | 'refineFromBootstrap'> {
  const fix = c.fix;
  return {
    ...(fix !== undefined ? { fixed: parseFixFlag(fix) } : {}),
    shortSeries: c.short_series,
    refineFromBootstrap: c.refine_from_bootstrap,
  };
}

/** Reads the CSV, fits, and writes growth.json, growth.csv, params.csv, predictions.json, targets.json and one SVG per series into `outDir`. */
export async function fitGrowthCommand(csv: string, outDir: string, o: FitGrowthOptions & { rtEndDay?: number }): Promise<SeriesPrediction[]> {
  return cliErrors(async () => {
    const predictions = fitGrowthSeries(readSizeSeries(csv, o.rtEndDay), { source: csv, names: flagName, ...o });
    await writeGrowthOutputs(outDir, predictions);
    return predictions;
  });
}
