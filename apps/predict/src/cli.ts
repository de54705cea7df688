/**
 * `tumorcast-predict`: command dispatch, options and help.
 */
import path from 'node:path';
import { CliError, defineConfigSchema, describeSchema, parseArgs, resolveConfig, unexpectedArgumentError } from '@tumorcast/cli';
import type { ConfigOf, ConfigSchema } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import type { BackendRequest } from '@tumorcast/nn';
import { DEFAULT_SAMPLE_SETTINGS } from '@tumorcast/pipeline';
import type { SampleSettings } from '@tumorcast/pipeline';
import { evaluateRun, shardSlices } from '@tumorcast/pipeline/node';
import type { ModelPaths, TargetSource } from '@tumorcast/pipeline/node';
import { builtinModelPaths } from './models.js';
import { reportCommand, runPipeline } from './run.js';
import type { RunOptions } from './run.js';
import { FIT_GROWTH_KEYS, fitGrowthCommand, fitGrowthModelOptionsOf } from './growth.js';
import { cliErrors, flagName } from './errors.js';
import { runDemo } from './demo.js';
import { COHORT_KEYS, cohortCommand } from './cohort.js';
import { TUNE_KEYS, tuneCommand } from './tune.js';
import { startBackend } from './backend.js';

const d = DEFAULT_SAMPLE_SETTINGS;
const MODEL_KEYS = defineConfigSchema({
  diffusion: { type: 'string', description: 'diffusion U-Net weights (tumorcast-train safetensors, or a .pt/.pth state dict)', optional: true },
  regressor: { type: 'string', description: 'regressor weights (safetensors or .pt/.pth)', optional: true },
  segmenter: { type: 'string', description: "learned segmenter weights, or 'flair' for the training-free FLAIR segmenter", optional: true },
  diffusion_preset: { type: 'string', description: 'architecture of a .pt diffusion file', default: 'paper', choices: ['paper', 'small'] },
  regressor_preset: { type: 'string', description: 'architecture of a .pt regressor file', default: 'paper', choices: ['paper', 'small'] },
  regressor_head: { type: 'string', description: "head of a .pt regressor: 'regression' (the reference code's) or 'classifier' (stock guided-diffusion's)", default: 'regression', choices: ['regression', 'classifier'] },
  data_range: { type: 'string', description: "data range both networks were trained on, overriding the files (default: as recorded in tumorcast checkpoints; '[0,1]' for .pt files, as the reference code trains)", optional: true, choices: ['[-1,1]', '[0,1]'] },
  denoiser: { type: 'string', description: "where the diffusion U-Net's forward passes run: 'tfjs', or 'onnx' (ONNX Runtime on the CPU, several times faster; needs the optional onnxruntime-node)", default: 'tfjs', choices: ['tfjs', 'onnx'] },
});
const TARGET_KEYS = defineConfigSchema({
  series: { type: 'string', description: 'tumour size CSV (patient_id,day,size[,slice_id][,rt_end_day]): fit the growth model', optional: true },
  followup_day: { type: 'number', description: 'follow-up day to predict (with --series)', optional: true },
  baseline_day: { type: 'number', description: 'baseline day (default: each series\' last measurement)', optional: true },
  rt_end_day: { type: 'number', description: 'radiotherapy end day where the CSV has none', optional: true },
  bootstrap: { type: 'integer', description: 'bootstrap fits of the growth model', default: 30, min: 1 },
  growth_objective: { type: 'string', description: "growth fit objective: ordinary least squares, or the reference code's squared residuals", default: 'least-squares', choices: ['least-squares', 'reference'] },
  bootstrap_noise: { type: 'string', description: "bootstrap noise on the sizes: N(1, 0.1), or the reference code's (clipped to <= 1, floor 0.05)", default: 'symmetric', choices: ['symmetric', 'reference'] },
  targets: { type: 'string', description: "relative changes as JSON { sliceId: { relativeChange } }", optional: true },
  relative_change: { type: 'number', description: 'one relative change for every slice', optional: true, min: -1 },
});
const SAMPLE_KEYS = defineConfigSchema({
  noise_level: { type: 'integer', description: 'noise level L (original timesteps)', default: d.noiseLevel, min: 1 },
  scale: { type: 'number', description: 'guidance scale s (paper 200000)', default: d.scale, min: 0 },
  respacing: { type: 'string', description: "timestep respacing of the sampler ('' for none)", default: d.respacing },
  eta: { type: 'number', description: 'DDIM eta', default: d.eta, min: 0 },
  seed: { type: 'integer', description: 'seed', default: d.seed, min: 0, max: Number.MAX_SAFE_INTEGER },
  amplify_early_target: { type: 'boolean', description: "the reference code's target x1.15 while t > 20", default: d.amplifyEarlyTarget },
  initial_noise_std: { type: 'number', description: 'noise added before inversion (< 1)', default: d.initialNoiseStd, min: 0 },
  samples: { type: 'integer', description: 'runs per growth probability map', default: d.samples, min: 1 },
  output_mode: { type: 'string', description: 'back to the input geometry: add the upsampled change to the baseline, or upsample the scan', default: d.outputMode, choices: ['residual', 'upsampled'] },
  // No `choices`: the check below names the flag in its message.
  baseline_burden: {
    type: 'string',
    description: "where the r0 of the target r0 (1 + d) comes from: 'label' (the baseline label's burden) or 'regressor' (the regressor's reading of the baseline: its bias then does not eat the change; use it where 'tune --baseline-burdens label,regressor' ranks it first on held-out slices)",
    default: d.baselineBurden,
  },
  guidance: {
    type: 'string',
    description: "what steers the decoding to the target burden: 'regressor' (the paper's: the regressor on the noised scan) or 'segmenter' (the learned segmenter's tumour burden of each step's denoised estimate: moves the tumour itself; needs --segmenter; 'regressor' r0 then means the segmenter's own reading)",
    default: d.guidance,
  },
  // No `min`: the check below names the flag and says > 0.
  gradient_temperature: {
    type: 'number',
    description: "with --guidance segmenter only: the gradient temperature T of the segmenter's burden (> 0): its value stays the calibrated burden, its gradient is that of T sigmoid(z / T), which for T > 1 reaches further from the tumour's border (so large growth is not stopped short); 1 is the true gradient",
    default: d.gradientTemperature,
  },
  // No `min`: the check below names the flag and says >= 0. Absent: everywhere (SampleSettings' Infinity, which a flag cannot spell).
  gradient_margin: {
    type: 'integer',
    description: "with --guidance segmenter only: keep the segmenter burden's gradient to pixels within this many pixels (a square window; pixels of the networks' grid: 64 for the demo networks, 256 at the paper's scale) of the pixels it reads as tumour (>= 0), so a wide gradient (--gradient-temperature > 1) grows the tumour, not specks far from it; absent: everywhere",
    optional: true,
  },
});
const WORKERS_KEY = defineConfigSchema({
  workers: {
    type: 'string',
    description: "worker threads that compute the probability maps: 'auto' (the least of the cores, the runs per map and what fits in free memory) or a count; 1 computes them in the main thread",
    default: 'auto',
  },
});
const RUN_KEYS = defineConfigSchema({
  data: { type: 'string', description: 'data root in the BraTS slice layout (testing/, validation/ or training/ slice folders)' },
  out: { type: 'string', description: 'output folder' },
  truth: { type: 'string', description: 'real follow-ups for evaluation: <pid>_<slice>/ folders, or a BraTS-slice-layout root (labels: seg or test_labels/); checked before sampling', optional: true },
  shard: { type: 'string', description: 'process shard i/n of the slices (e.g. a SLURM array task)', optional: true },
  slices: { type: 'string[]', description: 'only these slice ids', optional: true },
  overwrite: {
    type: 'boolean',
    description: "when --out holds results made with other settings, networks, targets or input files: remove them (tumorcast-predict's outputs only; finished slices that match are kept) instead of refusing",
    default: false,
  },
  ...TARGET_KEYS, ...MODEL_KEYS, ...SAMPLE_KEYS, ...WORKERS_KEY,
});

/** A named set of config values (`--preset NAME`); flags given with it override its values. */
export interface PredictPreset {
  /** One line for `--help`. */
  summary: string;
  /** Config keys (snake_case) and their values; a command uses those in its schema. */
  values: Readonly<Record<string, unknown>>;
}

/**
 * The presets of `fit-growth`, `sample`, `probability-map` and `run`.
 * `fast` is the defaults; `paper` reproduces the paper's settings (see the README for run times).
 */
export const PREDICT_PRESETS: Readonly<Record<string, PredictPreset>> = {
  fast: {
    summary: `the defaults: L = ${d.noiseLevel} with respacing ${d.respacing || 'none'}, s = ${d.scale}, ${d.samples} runs per map, least-squares growth fit, symmetric bootstrap noise`,
    values: {},
  },
  paper: {
    summary: "the paper: L = 200 of 1000 steps without respacing, s = 200000, target x1.15 while t > 20, initial noise 0.01, 100 runs per map, the reference code's growth objective and bootstrap noise (30 fits)",
    values: {
      noise_level: 200, respacing: '', scale: 200000, eta: 0, amplify_early_target: true, initial_noise_std: 0.01, samples: 100,
      bootstrap: 30, growth_objective: 'reference', bootstrap_noise: 'reference',
    },
  },
};

/** The commands that take `--preset`. */
const PRESET_COMMANDS = ['fit-growth', 'sample', 'probability-map', 'run'];

function presetHelp(): string {
  return Object.entries(PREDICT_PRESETS).map(([k, p]) => `    ${k.padEnd(8)} ${p.summary}`).join('\n');
}

interface Command { schema: ConfigSchema; summary: string; examples: string[] }
const COMMANDS = {
  'fit-growth': {
    summary: 'fit the two-phase RT growth model to a size CSV; bootstrap band; relative change per slice',
    schema: defineConfigSchema({
      series: { type: 'string', description: 'tumour size CSV (patient_id,day,size[,slice_id][,rt_end_day])' },
      followup_day: { type: 'number', description: 'follow-up day to predict' },
      baseline_day: TARGET_KEYS.baseline_day, rt_end_day: TARGET_KEYS.rt_end_day, bootstrap: TARGET_KEYS.bootstrap,
      growth_objective: TARGET_KEYS.growth_objective, bootstrap_noise: TARGET_KEYS.bootstrap_noise, ...FIT_GROWTH_KEYS,
      hold_out: { type: 'integer', description: 'hold out the last k points and predict them', default: 0, min: 0 },
      seed: { type: 'integer', description: 'seed of the bootstrap', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
      out: { type: 'string', description: 'output folder' },
    }),
    examples: [
      'tumorcast-predict fit-growth --series sizes.csv --rt-end-day 63 --followup-day 210 --out out/growth',
      'tumorcast-predict fit-growth --preset paper --series sizes.csv --followup-day 210 --out out/growth-paper',
    ],
  },
  sample: {
    summary: 'guided sampling of the follow-up scan of every slice (NIfTI + PNG)',
    schema: RUN_KEYS,
    examples: ['tumorcast-predict sample --data path/to/brats-slices --relative-change 0.3 --out out/sample'],
  },
  'probability-map': {
    summary: 'N guided samples per slice, segmented and averaged into a growth probability map (NIfTI + PNG overlay)',
    schema: RUN_KEYS,
    examples: ['tumorcast-predict probability-map --data data --targets targets.json --samples 16 --out out/maps'],
  },
  evaluate: {
    summary: 'metrics of a finished run against real follow-ups (MSE, PSNR, SSIM, Dice, HD95; CSV + JSON)',
    schema: defineConfigSchema({
      run: { type: 'string', description: 'output folder of sample/probability-map/run' },
      truth: { type: 'string', description: 'real follow-ups: <pid>_<slice>/ folders, or a BraTS-slice-layout root (labels: seg or test_labels/)' },
      out: { type: 'string', description: 'where metrics.csv/json go (default: the run folder)', optional: true },
    }),
    examples: ['tumorcast-predict evaluate --run out/run --truth data/followup'],
  },
  run: {
    summary: 'the whole pipeline: growth fit, sampling, probability maps, evaluation, report.html',
    schema: RUN_KEYS,
    examples: [
      'tumorcast-predict run --data patient7 --series patient7/sizes.csv --followup-day 210 --out out/patient7',
      'tumorcast-predict run --data cohort --targets targets.json --shard $SLURM_ARRAY_TASK_ID/16 --out out/cohort',
      'tumorcast-predict run --preset paper --data cohort --targets targets.json --diffusion model.pt --regressor regressor.pt --out out/paper',
    ],
  },
  report: {
    summary: 'report.html and metrics over every finished slice of an output folder (e.g. after shards that ran apart)',
    schema: defineConfigSchema({
      out: { type: 'string', description: 'output folder of run/sample/probability-map' },
    }),
    examples: ['tumorcast-predict report --out out/cohort'],
  },
  demo: {
    summary: 'the whole pipeline on a built-in synthetic phantom patient with the shipped models',
    schema: defineConfigSchema({
      out: { type: 'string', description: 'output folder', default: 'outputs/demo' },
      seed: { type: 'integer', description: 'phantom and sampling seed', default: 7, min: 0 },
      samples: { type: 'integer', description: 'runs per probability map', default: 8, min: 1 },
      slices: { type: 'integer', description: 'number of slices of the phantom patient', default: 2, min: 1, max: 5 },
      ...WORKERS_KEY,
    }),
    examples: ['tumorcast-predict demo', 'npm run demo'],
  },
  cohort: {
    summary: "the paper's evaluation over a longitudinal cohort (default: a synthetic phantom cohort): growth fit per patient, guided follow-ups and maps scored against the real ones and the unchanged baseline; tables (CSV) and cohort.html",
    schema: defineConfigSchema({
      ...COHORT_KEYS, ...MODEL_KEYS, ...SAMPLE_KEYS, ...WORKERS_KEY,
      bootstrap: TARGET_KEYS.bootstrap, growth_objective: TARGET_KEYS.growth_objective, bootstrap_noise: TARGET_KEYS.bootstrap_noise,
    }),
    examples: [
      'tumorcast-predict cohort --out out/phantom-cohort',
      "tumorcast-predict cohort --cohort cohort/cohort.json --samples 16 --scenario 'later:shift=14;none:no-rt' --out out/cohort",
      'tumorcast-predict cohort --cohort cohort/cohort.json --shard $SLURM_ARRAY_TASK_ID/8 --skip-invalid --out out/cohort',
    ],
  },
  tune: {
    summary: 'sweep noise level, guidance scale and respacing on held-out slices; score the segmented tumour against the target and the real follow-up',
    schema: defineConfigSchema({
      ...TUNE_KEYS, ...TARGET_KEYS, ...MODEL_KEYS,
      seed: SAMPLE_KEYS.seed, eta: SAMPLE_KEYS.eta, amplify_early_target: SAMPLE_KEYS.amplify_early_target,
      initial_noise_std: SAMPLE_KEYS.initial_noise_std, output_mode: SAMPLE_KEYS.output_mode,
    }),
    examples: [
      'tumorcast-predict tune --noise-levels 100,200,300 --scales 200000,1000000 --out out/tune',
      'tumorcast-predict tune --data heldout --truth heldout/followup --true-change --diffusion d.safetensors --regressor r.safetensors --out out/tune',
    ],
  },
} satisfies Record<string, Command>;

type Commands = typeof COMMANDS;

/** The commands of `tumorcast-predict`. */
export type PredictCommand = keyof Commands;

/** The resolved config of `command`, typed by its schema (snake_case keys). */
export type PredictConfig<K extends PredictCommand> = ConfigOf<Commands[K]['schema']>;

/** The resolved config of `sample`, `probability-map` and `run` (they share one schema). */
export type RunConfig = ConfigOf<typeof RUN_KEYS>;

/** What {@link commandConfig} returns for `K`: a union over the commands, told apart by `command`. */
export type ResolvedCommand<K extends PredictCommand = PredictCommand> = {
  [P in K]: { command: P; config: PredictConfig<P>; preset: string };
}[K];

/** Own keys only, so that e.g. 'toString' is no command. */
function isCommand(name: string): name is PredictCommand {
  return Object.hasOwn(COMMANDS, name);
}

function commandSpec(name: string | undefined): Command | undefined {
  return name !== undefined && isCommand(name) ? COMMANDS[name] : undefined;
}

function unknownCommand(command: string): CliError {
  return new CliError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
}

/** Help text of the program or one command. */
export function helpText(command?: string): string {
  const c = commandSpec(command);
  if (c && command !== undefined) {
    const preset = PRESET_COMMANDS.includes(command)
      ? `  --preset ${Object.keys(PREDICT_PRESETS).join('|')}  named settings (default fast); options given with it override it:\n${presetHelp()}\n`
      : '';
    return `tumorcast-predict ${command}: ${c.summary}\n\nOptions:\n  --backend auto|wasm|tensorflow|webgpu|cpu  compute backend (default auto: tfjs-node-gpu,\n      then a hardware WebGPU adapter (not with --denoiser onnx; TUMORCAST_WEBGPU_AUTO=0 leaves it out), then\n      tfjs-node, then wasm); webgpu needs the optional \`webgpu\` npm package and a Vulkan, Metal or D3D12 GPU adapter\n${preset}${describeSchema(c.schema)}\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
  }
  return `tumorcast-predict: predict brain tumour growth from baseline MRI slices.

Usage: tumorcast-predict <command> [options]     (tumorcast-predict <command> --help for its options)

Commands:
${Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(16)} ${v.summary}`).join('\n')}

Presets (--preset NAME on ${PRESET_COMMANDS.join(', ')}; options given with it override it):
${presetHelp()}

Output folders: a rerun into the same --out resumes (finished slices are skipped) only when every
setting, network file, target and input file matches; otherwise it refuses (exit 2) unless --overwrite.
A run locks its --out (tumorcast-predict.lock; shards: tumorcast-predict.shard-<i>-of-<n>.lock);
shards of one split share it, and the last to finish writes report.html over all of them.

Exit codes: 0 success, 1 failure (bad data, failed fit), 2 usage error (options, missing files,
an --out in use or holding other results).
`;
}

/**
 * The config of `command` from its parsed flags: schema defaults, then the
 * `--preset` values that are keys of the command, then the other flags.
 *
 * @returns the command, its config (snake_case keys, typed by the command's schema) and the preset's name (`'fast'` when none is given).
 * @throws CliError for an unknown command or preset, `--preset` on a command without presets, and every config error.
 */
export function commandConfig<K extends PredictCommand>(command: K, flags: ReadonlyMap<string, string | true>): ResolvedCommand<K>;
export function commandConfig(command: string, flags: ReadonlyMap<string, string | true>): ResolvedCommand;
export function commandConfig(command: string, flags: ReadonlyMap<string, string | true>): { command: PredictCommand; config: unknown; preset: string } {
  if (!isCommand(command)) throw unknownCommand(command);
  return resolveCommand(command, flags);
}

function resolveCommand<K extends PredictCommand>(command: K, flags: ReadonlyMap<string, string | true>): ResolvedCommand<K> {
  const spec = COMMANDS[command];
  const name = flags.get('preset');
  if (name !== undefined && !PRESET_COMMANDS.includes(command)) throw new CliError(`--preset applies to ${PRESET_COMMANDS.join(', ')}, not to '${command}'`);
  if (name === true) throw new CliError(`--preset needs a value: ${Object.keys(PREDICT_PRESETS).join(', ')}`);
  const preset = PREDICT_PRESETS[name ?? 'fast'];
  if (!preset) throw new CliError(`unknown preset '${name}'; presets: ${Object.keys(PREDICT_PRESETS).join(', ')}`);
  const values = Object.fromEntries(Object.entries(preset.values).filter(([k]) => k in spec.schema));
  const config = resolveConfig(spec.schema, { preset: values, flags, ignoreFlags: ['backend', 'preset'] });
  // The one place where the command's schema type meets its name: TypeScript
  // cannot relate `COMMANDS[K]['schema']` to `K` in a generic body, and
  // resolveConfig has checked every value against that schema.
  return { command, config, preset: name ?? 'fast' } as ResolvedCommand<K>;
}

/** The values of `--backend`. */
const BACKENDS: readonly BackendRequest[] = ['auto', 'wasm', 'tensorflow', 'webgpu', 'cpu'];

/** The syntax of `--respacing`: none, `ddimN`, or comma-separated step counts per section. */
const RESPACING_RE = /^(ddim\d+|\d+(,\d+)*)?$/;

/**
 * Checks the sampling options of a resolved config that the schema cannot
 * (before any file is read), in the CLI's words.
 *
 * @throws CliError (exit code 2) naming the flag.
 */
export function checkSampleOptions(
  c: Pick<RunConfig, 'initial_noise_std' | 'respacing'> & Partial<Pick<RunConfig, 'baseline_burden' | 'guidance' | 'gradient_temperature' | 'gradient_margin'>>,
): void {
  if (c.baseline_burden !== undefined) baselineBurdenOf(c.baseline_burden);
  if (c.guidance !== undefined) guidanceOf(c.guidance);
  if (c.gradient_temperature !== undefined) gradientTemperatureOf(c.gradient_temperature, c.guidance === undefined ? d.guidance : guidanceOf(c.guidance));
  if (c.gradient_margin !== undefined) gradientMarginOf(c.gradient_margin, c.guidance === undefined ? d.guidance : guidanceOf(c.guidance));
  const noise = c.initial_noise_std;
  if (!(noise < 1)) throw new CliError(`--initial-noise-std must be < 1 (the start is sqrt(1 - s^2) x + s z), got ${noise}`);
  const r = c.respacing;
  if (!RESPACING_RE.test(r.replace(/\s+/g, ''))) {
    throw new CliError(`--respacing must be '' (no respacing), 'ddimN' (N evenly spaced steps, e.g. ddim100) or comma-separated step counts per section (e.g. 10,15,20), got '${r}'`);
  }
}

/**
 * The value of `--baseline-burden`: `'label'` or `'regressor'`.
 *
 * @throws CliError (exit code 2) naming the flag for anything else.
 */
export function baselineBurdenOf(value: string): SampleSettings['baselineBurden'] {
  if (value === 'label' || value === 'regressor') return value;
  throw new CliError(`--baseline-burden must be 'label' (the baseline label's burden) or 'regressor' (the regressor's reading of the baseline), got '${value}'`);
}

/**
 * The value of `--guidance`: `'regressor'` or `'segmenter'`.
 *
 * @throws CliError (exit code 2) naming the flag for anything else.
 */
export function guidanceOf(value: string): SampleSettings['guidance'] {
  if (value === 'regressor' || value === 'segmenter') return value;
  throw new CliError(`--guidance must be 'regressor' (the burden regressor, the paper's) or 'segmenter' (the learned segmenter's burden of the denoised estimate), got '${value}'`);
}

/**
 * The value of `--gradient-temperature`: a finite number > 0, and 1 unless
 * the guidance is 'segmenter'.
 *
 * @param value - the flag's value.
 * @param guidance - the guidance it goes with (`--guidance`).
 * @throws CliError (exit code 2) naming the flag for anything else.
 */
export function gradientTemperatureOf(value: number, guidance: SampleSettings['guidance']): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new CliError(`--gradient-temperature must be a number > 0 (1: the segmenter's true gradient), got ${value}`);
  }
  if (value !== 1 && guidance !== 'segmenter') {
    throw new CliError(`--gradient-temperature ${value} applies to --guidance segmenter only: guide with --guidance segmenter, or leave --gradient-temperature at 1`);
  }
  return value;
}

/**
 * The value of `--gradient-margin` as `SampleSettings.gradientMarginPixels`:
 * an integer >= 0, only with the segmenter's guidance; absent: Infinity (the
 * gradient everywhere).
 *
 * @param value - the flag's value (undefined when not given).
 * @param guidance - the guidance it goes with (`--guidance`).
 * @throws CliError (exit code 2) naming the flag for anything else.
 */
export function gradientMarginOf(value: number | undefined, guidance: SampleSettings['guidance']): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new CliError(`--gradient-margin must be an integer >= 0 (pixels of the networks' grid; leave it out for the gradient everywhere), got ${value}`);
  }
  if (guidance !== 'segmenter') {
    throw new CliError(`--gradient-margin ${value} applies to --guidance segmenter only: guide with --guidance segmenter, or leave --gradient-margin out`);
  }
  return value;
}

/**
 * The value of `--workers`: `'auto'` or a count >= 1.
 *
 * @throws CliError (exit code 2) for anything else.
 */
export function workersOf(value: string): number | 'auto' {
  const v = value.trim().toLowerCase();
  if (v === 'auto') return 'auto';
  if (/^\d+$/.test(v) && Number(v) >= 1) return Number(v);
  throw new CliError(`--workers must be 'auto' or an integer >= 1 (map worker threads; 1: maps in the main thread), got '${value}'`);
}

/** The sampling settings of a resolved `sample`/`probability-map`/`run` config. */
export function settingsOf(c: RunConfig): SampleSettings {
  return {
    noiseLevel: c.noise_level, scale: c.scale, respacing: c.respacing, eta: c.eta,
    seed: c.seed, amplifyEarlyTarget: c.amplify_early_target, initialNoiseStd: c.initial_noise_std,
    samples: c.samples, outputMode: c.output_mode, baselineBurden: baselineBurdenOf(c.baseline_burden), guidance: guidanceOf(c.guidance),
    gradientTemperature: gradientTemperatureOf(c.gradient_temperature, guidanceOf(c.guidance)),
    gradientMarginPixels: gradientMarginOf(c.gradient_margin, guidanceOf(c.guidance)),
  };
}

function modelsOf(c: Pick<RunConfig, keyof typeof MODEL_KEYS>): ModelPaths {
  const b = builtinModelPaths();
  const seg = c.segmenter;
  return {
    diffusion: c.diffusion ?? b.diffusion,
    regressor: c.regressor ?? b.regressor,
    segmenter: seg === 'flair' ? undefined : seg ?? b.segmenter,
    diffusionPreset: c.diffusion_preset,
    regressorPreset: c.regressor_preset,
    regressorHead: c.regressor_head,
    dataRange: c.data_range,
    denoiser: c.denoiser,
  };
}

function growthFitOf(c: Pick<RunConfig, 'growth_objective' | 'bootstrap_noise'>): { objective: RunConfig['growth_objective']; bootstrapNoise: RunConfig['bootstrap_noise'] } {
  return { objective: c.growth_objective, bootstrapNoise: c.bootstrap_noise };
}

/** Where the relative changes come from, in a resolved `sample`/`probability-map`/`run` config. */
export function targetsOf(c: Pick<RunConfig, keyof typeof TARGET_KEYS>): TargetSource {
  const sources: ('series' | 'targets' | 'relative_change')[] = ['series', 'targets', 'relative_change'];
  const given = sources.filter((k) => c[k] !== undefined);
  const notOne = () => new CliError(`give exactly one of --series (with --followup-day), --targets or --relative-change${given.length ? `; got ${given.map((g) => `--${g.replace(/_/g, '-')}`).join(' and ')}` : ''}`);
  if (given.length !== 1) throw notOne();
  if (c.series !== undefined) {
    if (c.followup_day === undefined) throw new CliError('--series needs --followup-day (the day to predict)');
    return {
      kind: 'series', file: c.series, followupDay: c.followup_day, baselineDay: c.baseline_day,
      rtEndDay: c.rt_end_day, replicates: c.bootstrap, ...growthFitOf(c),
    };
  }
  if (c.targets !== undefined) return { kind: 'json', file: c.targets };
  if (c.relative_change !== undefined) return { kind: 'constant', relativeChange: c.relative_change };
  throw notOne();
}

/** Runs `tumorcast-predict` with `argv`; returns the exit code. */
export async function predictCli(argv: readonly string[], log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<number> {
  const command = argv[0];
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(helpText());
    return command ? 0 : 2;
  }
  const spec = commandSpec(command);
  if (!spec) throw unknownCommand(command);
  const booleans = new Set(Object.entries(spec.schema).filter(([, f]) => f.type === 'boolean').map(([k]) => k));
  const parsed = parseArgs(argv.slice(1), booleans);
  const { flags } = parsed;
  if (flags.has('help')) {
    process.stdout.write(helpText(command));
    return 0;
  }
  const stray = unexpectedArgumentError(parsed);
  if (stray) throw stray;
  const resolved = commandConfig(command, flags);
  const backend = flags.get('backend');
  if (backend === true) throw new CliError(`--backend needs a value: ${BACKENDS.join(', ')}`);

  if (resolved.command === 'fit-growth') {
    const c = resolved.config;
    const preds = await fitGrowthCommand(c.series, c.out, {
      followupDay: c.followup_day, baselineDay: c.baseline_day, rtEndDay: c.rt_end_day,
      replicates: c.bootstrap, holdOut: c.hold_out, seed: c.seed, ...growthFitOf(c), ...fitGrowthModelOptionsOf(c), log,
    });
    for (const p of preds) log(`${p.id}: size ${p.sizeBaseline.toFixed(1)} -> ${p.sizeFollowup.toFixed(1)}, relative change ${p.relativeChange.toFixed(4)} [${p.relativeChangeBand.map((v) => v.toFixed(4)).join(', ')}]`);
    log(`wrote ${path.join(c.out, 'targets.json')}`);
    return 0;
  }
  if (resolved.command === 'report') {
    await reportCommand(resolved.config.out, log);
    return 0;
  }
  if (resolved.command === 'evaluate') {
    const c = resolved.config;
    await cliErrors(() => evaluateRun(c.run, c.truth, { out: c.out, log, names: flagName }));
    return 0;
  }
  const request = BACKENDS.find((b) => b === backend);
  if (backend !== undefined && request === undefined) throw new CliError(`--backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);
  if (resolved.command === 'demo') {
    const c = resolved.config;
    const workers = workersOf(c.workers);
    await initBackend({ backend: request ?? 'auto', log });
    await runDemo({ out: c.out, seed: c.seed, samples: c.samples, slices: c.slices, workers, log });
    return 0;
  }
  if (resolved.command === 'cohort') {
    const c = resolved.config;
    checkSampleOptions(c);
    const workers = workersOf(c.workers);
    await cohortCommand({ ...c, baseline_burden: baselineBurdenOf(c.baseline_burden), guidance: guidanceOf(c.guidance) }, { models: modelsOf(c), backend: request ?? 'auto', log, samplesGiven: flags.has('samples'), workers });
    return 0;
  }
  if (resolved.command === 'tune') {
    const c = resolved.config;
    checkSampleOptions({ initial_noise_std: c.initial_noise_std, respacing: '' });
    for (const r of c.respacings) if (r !== 'none') checkSampleOptions({ initial_noise_std: c.initial_noise_std, respacing: r });
    const given = c.series !== undefined || c.targets !== undefined || c.relative_change !== undefined;
    const options = {
      data: c.data, truth: c.truth, out: c.out, slices: c.slices, noiseLevels: c.noise_levels, scales: c.scales, respacings: c.respacings,
      trueChange: c.true_change, baselineBurdens: c.baseline_burdens, guidances: c.guidances, gradientTemperatures: c.gradient_temperatures, gradientMargins: c.gradient_margins, scoringSegmenter: c.scoring_segmenter, regressorCheck: c.regressor_check, models: modelsOf(c), targets: given ? targetsOf(c) : undefined,
      phantom: { patients: c.phantom_patients, seed: c.phantom_seed, slices: c.phantom_slices },
      settings: { seed: c.seed, eta: c.eta, amplifyEarlyTarget: c.amplify_early_target, initialNoiseStd: c.initial_noise_std, outputMode: c.output_mode }, log,
    };
    await startBackend(request ?? 'auto', options.models, log);
    await tuneCommand(options);
    return 0;
  }
  const c = resolved.config;
  // Every option is checked before the backend starts and any file is read.
  checkSampleOptions(c);
  const shard = c.shard;
  await cliErrors(() => shardSlices([], shard, flagName));
  const options: RunOptions = {
    data: c.data, out: c.out, models: modelsOf(c), targets: targetsOf(c), truth: c.truth,
    settings: settingsOf(c), maps: command !== 'sample', report: command === 'run', shard, slices: c.slices, log,
    preset: resolved.preset, overwrite: c.overwrite, workers: workersOf(c.workers),
  };
  await startBackend(request ?? 'auto', options.models, log);
  await runPipeline(options);
  log(`done: ${c.out}`);
  return 0;
}
