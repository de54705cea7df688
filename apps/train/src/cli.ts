/**
 * `tumorcast-train`: command dispatch, config resolution and help.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, ExitCode, describeFsError, describeSchema, parseArgs, resolveConfig, signalExitCode, unexpectedArgumentError } from '@tumorcast/cli';
import type { ConfigOf, ConfigSchema } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import type { BackendRequest } from '@tumorcast/nn';
import { prepareResultsDir, resolveResume } from '@tumorcast/training';
import type { TrainLoopResult } from '@tumorcast/training';
import { COMMON_SCHEMA, DIFFUSION_SCHEMA, PREPARE_SCHEMA, REGRESSOR_SCHEMA, SEGMENTER_SCHEMA, VALIDATE_SCHEMA } from './schema.js';

/** Folder of the shipped YAML configs (`small-*.yaml`, `paper-*.yaml`). */
export const CONFIG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../configs');

const COMMANDS = {
  diffusion: { schema: DIFFUSION_SCHEMA, summary: 'train the diffusion U-Net (hybrid loss, AdamW, EMA)', trains: true },
  regressor: { schema: REGRESSOR_SCHEMA, summary: 'train the tumour-burden regressor on noised slices', trains: true },
  segmenter: { schema: SEGMENTER_SCHEMA, summary: 'train a tumour segmenter (Dice + BCE) for probability maps', trains: true },
  validate: { schema: VALIDATE_SCHEMA, summary: 'validation MSE of a diffusion or regressor checkpoint on a data folder', trains: false },
  prepare: { schema: PREPARE_SCHEMA, summary: 'turn 3-D BraTS volumes into the 2-D slice layout', trains: false },
} satisfies Record<string, { schema: ConfigSchema; summary: string; trains: boolean }>;

/** Own keys only, so that e.g. 'toString' is no command. */
function isCommand(name: string | undefined): name is keyof typeof COMMANDS {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

const EXAMPLES = `Examples:
  tumorcast-train diffusion --config small --data-dir path/to/brats-slices --results-dir runs/diff
  tumorcast-train diffusion --config runs/diff/config.json --resume-checkpoint latest
  tumorcast-train regressor --config small --data-dir data/a,data/b --data-dir-val data/val --lr 2e-4
  tumorcast-train segmenter --config small --data-dir data --iterations 500
  tumorcast-train regressor --config demo --data-dir data --init-weights apps/predict/models/regressor.safetensors
  tumorcast-train validate --checkpoint runs/diff/model002000.safetensors --data-dir data/val
  tumorcast-train prepare --input BraTS2023/ --out data --slices tumour`;

const EXIT_CODES = 'Exit codes: 0 success, 1 failure (bad data, a failed step), 2 usage error (unknown command or option, invalid value,\n'
  + 'a named file or folder missing or of the wrong kind), 130/143 stopped by SIGINT/SIGTERM after saving a checkpoint.';

/** The top-level help text. */
export function helpText(command?: string): string {
  if (isCommand(command)) {
    const c = COMMANDS[command];
    return `tumorcast-train ${command}: ${c.summary}

Usage: tumorcast-train ${command} [--config small|paper|FILE.yaml] [--KEY VALUE ...]
Every config key can be given as a flag (--data-dir or --data_dir); flags override the YAML file.
${c.trains ? `Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a checkpoint and exits 130 (143 for SIGTERM);
a second one quits at once (or, while a checkpoint is being written, right after it). Resume with --resume-checkpoint latest.\n` : ''}${EXIT_CODES}

Options:
  --config NAME|FILE           ${c.trains ? "shipped preset 'paper', 'small' (64x64, CPU) or 'demo' (tiny), or a YAML file" : 'a YAML file with the keys below'}
  --backend auto|wasm|tensorflow|webgpu|cpu   compute backend (default auto: tfjs-node-gpu, then a hardware
      WebGPU adapter (TUMORCAST_WEBGPU_AUTO=0 leaves it out), then tfjs-node, then wasm); webgpu needs the
      optional \`webgpu\` npm package and a Vulkan, Metal or D3D12 GPU adapter
${describeSchema(c.schema)}

${EXAMPLES}`;
  }
  return `tumorcast-train: train tumorcast's networks.

Usage: tumorcast-train <command> [options]     (tumorcast-train <command> --help for its options)

Commands:
${Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join('\n')}

${EXIT_CODES}

${EXAMPLES}`;
}

function booleanKeys(schema: ConfigSchema): Set<string> {
  return new Set([...Object.entries(schema).filter(([, f]) => f.type === 'boolean').map(([k]) => k), 'help']);
}

/** Resolves `--config` (a preset name or a file) to a file path. */
export function configFile(command: string, value: string | true | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === true) throw new CliError('--config needs a value: small, paper or a YAML file');
  if (/^[a-z]+$/.test(value)) {
    const f = path.join(CONFIG_DIR, `${value}-${command}.yaml`);
    // A file or folder of that name in the working directory is what the user meant.
    if (!fs.existsSync(f) && !fs.existsSync(value)) {
      const shipped = fs.readdirSync(CONFIG_DIR).filter((n) => n.endsWith(`-${command}.yaml`)).map((n) => n.split('-')[0]);
      throw new CliError(`no shipped '${value}' config for '${command}' (shipped: ${shipped.join(', ')}); to use a file, give its path`);
    }
    return fs.existsSync(f) ? f : value;
  }
  return value;
}

/** Runs `tumorcast-train` with `argv` (without node and the script); returns the exit code. */
export async function trainCli(argv: readonly string[], log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<number> {
  try {
    return await run(argv, log);
  } catch (e) {
    // A Node file-system error reaching here names no option: say which path and what went wrong, in one line.
    const m = describeFsError(e);
    if (m) throw new CliError(m, ExitCode.failure);
    throw e;
  }
}

/** snake_case to camelCase, as a type: `batch_size` is `batchSize`. */
type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/** A config with its keys as @tumorcast/training's options name them (`batch_size` -> `batchSize`). */
export function camelKeys<T extends object>(config: T): { [K in keyof T as K extends string ? Camel<K> : K]: T[K] } {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v])) as never;
}

async function run(argv: readonly string[], log: (m: string) => void): Promise<number> {
  const command = argv[0];
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return command ? 0 : 2;
  }
  if (!isCommand(command)) throw new CliError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  const spec: { schema: ConfigSchema } = COMMANDS[command];
  const parsed = parseArgs(argv.slice(1), booleanKeys(spec.schema));
  const { flags } = parsed;
  if (flags.has('help')) {
    process.stdout.write(`${helpText(command)}\n`);
    return 0;
  }
  const stray = unexpectedArgumentError(parsed);
  if (stray) throw stray;
  const sources = { file: configFile(command, flags.get('config')), flags, ignoreFlags: ['config', 'backend'] };
  const backend = flags.get('backend');
  const backends: readonly BackendRequest[] = ['auto', 'wasm', 'tensorflow', 'webgpu', 'cpu'];
  /** The command's config, checked: schema, backend, paths. */
  const setup = <S extends ConfigSchema>(schema: S): ConfigOf<S> => {
    const cfg = resolveConfig(schema, sources);
    if (backend === true) throw new CliError(`--backend needs a value: ${backends.join(', ')}`);
    if (backend !== undefined && !backends.includes(backend as BackendRequest)) throw new CliError(`--backend must be one of ${backends.join(', ')}, got '${backend}'`);
    checkPaths(command, cfg);
    return cfg;
  };
  const start = () => initBackend({ backend: (backend ?? 'auto') as BackendRequest, log });
  /** A training command's options: the config as it runs ('latest' resolved here, so that the notices go to `log`), recorded in the checkpoints. */
  const training = async <C extends TrainConfig>(resolved: C) => {
    const config = readyResultsDir(resolved, log);
    await start();
    return { ...camelKeys(config), config, log };
  };
  const lib = () => import('@tumorcast/training');
  switch (command) {
    case 'diffusion': {
      const o = await training(setup(DIFFUSION_SCHEMA));
      return finished(await (await lib()).trainDiffusion(o), log);
    }
    case 'regressor': {
      const o = await training(setup(REGRESSOR_SCHEMA));
      return finished(await (await lib()).trainRegressor(o), log);
    }
    case 'segmenter': {
      const o = await training(setup(SEGMENTER_SCHEMA));
      return finished(await (await lib()).trainSegmenter(o), log);
    }
    case 'validate': {
      const c = setup(VALIDATE_SCHEMA);
      await start();
      const result = await (await lib()).validateCheckpoint({ ...camelKeys(c), log });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    case 'prepare': {
      const c = setup(PREPARE_SCHEMA);
      await start();
      const { prepareSlices } = await import('./commands-prepare.js');
      await prepareSlices(c, log);
      return 0;
    }
  }
  return 2;
}

/** The last line of a training command, and its exit code (128 + the signal number when a signal stopped it). */
function finished(r: TrainLoopResult, log: (m: string) => void): number {
  if (r.signal) {
    log(`stopped by ${r.signal} after ${r.stepsDone} steps; checkpoint ${r.lastCheckpoint}; continue with --resume-checkpoint latest`);
    return signalExitCode(r.signal);
  }
  log(`${r.interrupted ? 'interrupted' : 'done'} after ${r.stepsDone} steps; checkpoint ${r.lastCheckpoint}`);
  return 0;
}

function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** The path-valued keys of each command and what each must be. */
const PATH_KEYS: Record<string, Record<string, 'input-folder' | 'input-file' | 'output-folder' | 'output-file'>> = {
  diffusion: { data_dir: 'input-folder', data_dir_val: 'input-folder', results_dir: 'output-folder', init_weights: 'input-file' },
  regressor: { data_dir: 'input-folder', data_dir_val: 'input-folder', results_dir: 'output-folder', init_weights: 'input-file' },
  segmenter: { data_dir: 'input-folder', data_dir_val: 'input-folder', results_dir: 'output-folder', init_weights: 'input-file' },
  validate: { checkpoint: 'input-file', data_dir: 'input-folder', out: 'output-file' },
  prepare: { input: 'input-folder', out: 'output-folder' },
};

/**
 * Usage errors (exit 2) for paths the user named that cannot work, before
 * anything is loaded: a missing input, a file where a folder is expected or
 * the other way round. Each message names the key, the path and what was
 * expected.
 */
export function checkPaths(command: string, cfg: Readonly<Record<string, unknown>>): void {
  const flag = (k: string) => `--${k.replace(/_/g, '-')}`;
  for (const [key, kind] of Object.entries(PATH_KEYS[command] ?? {})) {
    const v = cfg[key];
    // An empty init_weights clears one set in the config file (e.g. to resume a fine-tuning run from its config.json).
    const paths = (Array.isArray(v) ? v : [v]).filter((p): p is string => typeof p === 'string' && !(key === 'init_weights' && p === ''));
    for (const p of paths) {
      const st = statOf(p);
      if (kind === 'input-folder') {
        if (key.startsWith('data_dir') && !st?.isDirectory()) {
          const problem = st ? 'is a file, not a data set root folder' : 'data set root folder not found';
          throw new CliError(`${p}: ${problem} (${flag(key)} expects a folder with training/<pid>_<slice>/ slice folders)`);
        }
        if (!st) throw new CliError(`${flag(key)} ${p}: no such folder`);
        if (!st.isDirectory()) throw new CliError(`${flag(key)} ${p}: is a file, expected a folder`);
      } else if (kind === 'input-file') {
        if (!st) throw new CliError(`${flag(key)} ${p}: no such file`);
        if (!st.isFile()) throw new CliError(`${flag(key)} ${p}: is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, expected a file`);
      } else if (kind === 'output-folder') {
        if (st && !st.isDirectory()) throw new CliError(`${flag(key)} ${p}: is a file, expected a folder (or a path where one can be created)`);
      } else if (st && !st.isFile()) {
        throw new CliError(`${flag(key)} ${p}: is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, expected a file path to write`);
      }
    }
  }
  if (command === 'diffusion' || command === 'regressor' || command === 'segmenter') {
    const resume = cfg['resume_checkpoint'];
    const init = cfg['init_weights'];
    if (typeof init === 'string' && init && typeof resume === 'string' && resume) {
      throw new CliError(`--init-weights ${init} and --resume-checkpoint ${resume} cannot be combined: init weights start a new run at step 0, `
        + "a resume continues one; to continue a fine-tuning run, add --init-weights '' (its checkpoints keep naming the weights it started from)");
    }
    if (typeof resume === 'string' && resume && resume !== 'latest') {
      resolveResume(resume, '');
      const st = statOf(resume);
      if (!st) throw new CliError(`--resume-checkpoint ${resume}: no such file (give a modelNNNNNN.safetensors of an earlier run, or 'latest')`);
      if (!st.isFile()) throw new CliError(`--resume-checkpoint ${resume}: is not a file, expected a modelNNNNNN.safetensors`);
    }
  }
}

/** The keys every training command has. */
type TrainConfig = ConfigOf<typeof COMMON_SCHEMA>;

/**
 * Readies `results_dir` for a training run (@tumorcast/training's
 * `prepareResultsDir`: temporary files of a killed run removed, the config
 * saved as `config.json` with 'latest' as given, so that `--config
 * <dir>/config.json` resumes again later) and returns the config the command
 * runs with: `resume_checkpoint` resolved, or dropped to start from scratch.
 */
export function readyResultsDir<C extends TrainConfig>(cfg: C, log: (m: string) => void): C {
  const resume = prepareResultsDir({ resultsDir: cfg.results_dir, config: cfg, resumeCheckpoint: cfg.resume_checkpoint, log });
  const out = { ...cfg };
  if (resume) out.resume_checkpoint = resume;
  else delete out.resume_checkpoint;
  if (out.init_weights === '') delete out.init_weights;
  return out;
}
