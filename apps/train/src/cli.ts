/**
 * `tumorcast-train`: command dispatch, config resolution and help.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, describeSchema, parseArgs, resolveConfig, writeFileAtomicSync } from '@tumorcast/cli';
import type { ConfigSchema } from '@tumorcast/cli';
import { initBackend } from '@tumorcast/nn';
import type { BackendRequest } from '@tumorcast/nn';
import { DIFFUSION_SCHEMA, PREPARE_SCHEMA, REGRESSOR_SCHEMA, SEGMENTER_SCHEMA, VALIDATE_SCHEMA } from './schema.js';

/** Folder of the shipped YAML configs (`small-*.yaml`, `paper-*.yaml`). */
export const CONFIG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../configs');

const COMMANDS: Record<string, { schema: ConfigSchema; summary: string; trains: boolean }> = {
  diffusion: { schema: DIFFUSION_SCHEMA, summary: 'train the diffusion U-Net (hybrid loss, AdamW, EMA)', trains: true },
  regressor: { schema: REGRESSOR_SCHEMA, summary: 'train the tumour-burden regressor on noised slices', trains: true },
  segmenter: { schema: SEGMENTER_SCHEMA, summary: 'train a tumour segmenter (Dice + BCE) for probability maps', trains: true },
  validate: { schema: VALIDATE_SCHEMA, summary: 'validation MSE of a diffusion or regressor checkpoint on a data folder', trains: false },
  prepare: { schema: PREPARE_SCHEMA, summary: 'turn 3-D BraTS volumes into the 2-D slice layout', trains: false },
};

const EXAMPLES = `Examples:
  tumorcast-train diffusion --config small --data-dir ../shared/data/brats-sample --results-dir runs/diff
  tumorcast-train diffusion --config runs/diff/config.json --resume-checkpoint latest
  tumorcast-train regressor --config small --data-dir data/a,data/b --data-dir-val data/val --lr 2e-4
  tumorcast-train segmenter --config small --data-dir data --iterations 500
  tumorcast-train validate --checkpoint runs/diff/model002000.safetensors --data-dir data/val
  tumorcast-train prepare --input BraTS2023/ --out data --slices tumour`;

/** The top-level help text. */
export function helpText(command?: string): string {
  if (command && COMMANDS[command]) {
    const c = COMMANDS[command]!;
    return `tumorcast-train ${command}: ${c.summary}

Usage: tumorcast-train ${command} [--config small|paper|FILE.yaml] [--KEY VALUE ...]
Every config key can be given as a flag (--data-dir or --data_dir); flags override the YAML file.
${c.trains ? `Ctrl-C saves a checkpoint and exits 0; resume with --resume-checkpoint latest.\n` : ''}
Options:
  --config NAME|FILE           ${c.trains ? "shipped preset 'paper', 'small' (64x64, CPU) or 'demo' (tiny), or a YAML file" : 'a YAML file with the keys below'}
  --backend auto|wasm|tensorflow|cpu   compute backend (default auto)
${describeSchema(c.schema)}

${EXAMPLES}`;
  }
  return `tumorcast-train: train tumorcast's networks.

Usage: tumorcast-train <command> [options]     (tumorcast-train <command> --help for its options)

Commands:
${Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join('\n')}

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
    if (!fs.existsSync(f)) {
      const shipped = fs.readdirSync(CONFIG_DIR).filter((n) => n.endsWith(`-${command}.yaml`)).map((n) => n.split('-')[0]);
      throw new CliError(`no shipped '${value}' config for '${command}' (shipped: ${shipped.join(', ')}); to use a file, give its path`);
    }
    return f;
  }
  return value;
}

/** Runs `tumorcast-train` with `argv` (without node and the script); returns the exit code. */
export async function trainCli(argv: readonly string[], log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<number> {
  const command = argv[0];
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return command ? 0 : 2;
  }
  const spec = COMMANDS[command];
  if (!spec) throw new CliError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  const { positionals, flags } = parseArgs(argv.slice(1), booleanKeys(spec.schema));
  if (flags.has('help')) {
    process.stdout.write(`${helpText(command)}\n`);
    return 0;
  }
  if (positionals.length) throw new CliError(`unexpected argument '${positionals[0]}' (options are --key value)`);
  const file = configFile(command, flags.get('config'));
  const cfg = resolveConfig<Record<string, unknown>>(spec.schema, { file, flags, ignoreFlags: ['config', 'backend'] });
  const backend = flags.get('backend');
  if (backend === true) throw new CliError('--backend needs a value: auto, wasm, tensorflow or cpu');
  await initBackend({ backend: (backend ?? 'auto') as BackendRequest, log });
  switch (command) {
    case 'diffusion': {
      const { trainDiffusion } = await import('./commands-diffusion.js');
      writeResolvedConfig(cfg);
      const r = await trainDiffusion(cfg as never, log);
      log(`${r.interrupted ? 'interrupted' : 'done'} after ${r.stepsDone} steps; checkpoint ${r.lastCheckpoint}`);
      return 0;
    }
    case 'regressor': {
      const { trainRegressor } = await import('./commands-regressor.js');
      writeResolvedConfig(cfg);
      const r = await trainRegressor(cfg as never, log);
      log(`${r.interrupted ? 'interrupted' : 'done'} after ${r.stepsDone} steps; checkpoint ${r.lastCheckpoint}`);
      return 0;
    }
    case 'segmenter': {
      const { trainSegmenter } = await import('./commands-segmenter.js');
      writeResolvedConfig(cfg);
      const r = await trainSegmenter(cfg as never, log);
      log(`${r.interrupted ? 'interrupted' : 'done'} after ${r.stepsDone} steps; checkpoint ${r.lastCheckpoint}`);
      return 0;
    }
    case 'validate': {
      const { validateCheckpoint } = await import('./commands-validate.js');
      const result = await validateCheckpoint(cfg as never, log);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    case 'prepare': {
      const { prepareSlices } = await import('./commands-prepare.js');
      await prepareSlices(cfg as never, log);
      return 0;
    }
  }
  return 2;
}

/** Saves the resolved config beside the checkpoints (YAML-compatible JSON), so a run can be repeated or resumed. */
function writeResolvedConfig(cfg: Record<string, unknown>): void {
  const dir = cfg['results_dir'] as string;
  writeFileAtomicSync(path.join(dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
}
