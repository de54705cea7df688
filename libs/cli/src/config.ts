/**
 * Typed configuration for the CLIs: a schema of keys (type, default,
 * description, range), values from a YAML file (a shipped preset or the user's own),
 * then from command-line flags (`--lr 2e-4`, `--data-dir a,b`), validated in
 * one place with errors that list the valid keys.
 */
import { parse as parseYaml } from 'yaml';
import { CliError } from './errors.js';
import { readTextFileChecked } from './files.js';

/** The largest YAML config file read (a config is a few kilobytes; this refuses devices and wrong files). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The value types a config key may have. */
export type ConfigFieldType = 'number' | 'integer' | 'string' | 'boolean' | 'string[]' | 'number[]' | 'integer[]';

/** One key of a {@link ConfigSchema}. */
export interface ConfigField {
  /** The value type; lists accept YAML lists or comma-separated strings. */
  type: ConfigFieldType;
  /** One line for `--help`. */
  description: string;
  /** The default; keys without one are required unless `optional`. */
  default?: unknown;
  /** The key may stay unset. @defaultValue false */
  optional?: boolean;
  /** Inclusive lower bound for numbers (each element of number lists). */
  min?: number;
  /** Inclusive upper bound for numbers. */
  max?: number;
  /** Allowed values for strings. */
  choices?: readonly string[];
}

/** A config schema: key name (snake_case, as in the YAML files) to field. */
export type ConfigSchema = Record<string, ConfigField>;

/**
 * Declares a schema keeping its literal types (key names, `type`, `choices`,
 * `optional: true`), so that {@link ConfigOf} and {@link resolveConfig} can
 * infer the resolved config's type from it. Returns `schema` unchanged.
 */
export function defineConfigSchema<const S extends ConfigSchema>(schema: S): S {
  return schema;
}

/**
 * The value type of a resolved field: numbers for `number`/`integer`, the
 * `choices` (when declared as literals) or `string` for `string`, arrays for
 * the list types. A field whose `type` is not a single literal gives `unknown`.
 */
export type ConfigValue<F extends ConfigField> =
  [F['type']] extends ['number' | 'integer'] ? number
  : [F['type']] extends ['boolean'] ? boolean
  : [F['type']] extends ['string'] ? (F extends { choices: readonly (infer C extends string)[] } ? C : string)
  : [F['type']] extends ['string[]'] ? string[]
  : [F['type']] extends ['number[]' | 'integer[]'] ? number[]
  : unknown;

/** Keys of `S` declared `optional: true` (they may stay unset). */
export type OptionalKeys<S extends ConfigSchema> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];

/**
 * The type of a config resolved from schema `S` (declared with
 * {@link defineConfigSchema}): every key, optional where the field is
 * `optional: true`. For a plain {@link ConfigSchema} this is a record of `unknown`.
 */
export type ConfigOf<S extends ConfigSchema> = {
  -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: ConfigValue<S[K]>;
} & {
  -readonly [K in OptionalKeys<S>]?: ConfigValue<S[K]> | undefined;
};

/** Flags and positionals parsed from a command line. */
export interface ParsedArgs {
  /** Arguments that are not flags, in order. */
  positionals: string[];
  /** Flag values by key (dashes normalised to underscores); a bare flag is `true`. */
  flags: Map<string, string | true>;
  /**
   * For each positional, the boolean flag right before it (whose value it
   * could not be), else undefined: `--soft-labels maybe` gives `soft_labels`
   * for `maybe`.
   */
  afterBoolean: (string | undefined)[];
}

/** Normalises `--data-dir` and `--data_dir` to `data_dir`. */
export function flagKey(flag: string): string {
  return flag.replace(/^-+/, '').replace(/-/g, '_');
}

/**
 * Splits a command line into positionals and flags. `--k v`, `--k=v`, a bare
 * `--k` (true) and `--no-k` (false) are understood; `booleanKeys` never take
 * the next token as their value unless it is true/false.
 */
export function parseArgs(argv: readonly string[], booleanKeys: ReadonlySet<string> = new Set()): ParsedArgs {
  const positionals: string[] = [];
  const afterBoolean: (string | undefined)[] = [];
  const flags = new Map<string, string | true>();
  let bareBoolean: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const previousBoolean = bareBoolean;
    bareBoolean = undefined;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      afterBoolean.push(...argv.slice(i + 1).map(() => undefined));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      positionals.push(a);
      afterBoolean.push(previousBoolean);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(flagKey(a.slice(0, eq)), a.slice(eq + 1));
      continue;
    }
    const key = flagKey(a);
    if (key.startsWith('no_') && booleanKeys.has(key.slice(3))) {
      flags.set(key.slice(3), 'false');
      continue;
    }
    const next = argv[i + 1];
    const isBool = booleanKeys.has(key);
    if (next !== undefined && !next.startsWith('--') && (!isBool || /^(true|false|yes|no|1|0)$/i.test(next))) {
      flags.set(key, next);
      i++;
    } else {
      flags.set(key, true);
      if (isBool) bareBoolean = key;
    }
  }
  return { positionals, flags, afterBoolean };
}

/**
 * The usage error (exit 2) for the first argument of `parsed` that is not an
 * option, for commands that take only `--key value` options; undefined when
 * there is none. A word right after a boolean flag is named as that flag's
 * bad value.
 *
 * @param parsed - what {@link parseArgs} returned.
 */
export function unexpectedArgumentError(parsed: ParsedArgs): CliError | undefined {
  const word = parsed.positionals[0];
  if (word === undefined) return undefined;
  const flag = parsed.afterBoolean[0];
  if (flag !== undefined) return new CliError(`--${flag.replace(/_/g, '-')} takes true or false (or nothing, for true), got '${word}'`);
  return new CliError(`unexpected argument '${word}' (options are --key value)`);
}

/** What a value of `type` looks like, for "needs a value" messages. */
function expected(field: ConfigField): string {
  switch (field.type) {
    case 'number': return 'a number';
    case 'integer': return 'an integer';
    case 'boolean': return 'true or false';
    case 'string': return field.choices ? `one of ${field.choices.join(', ')}` : 'a value';
    case 'string[]': return 'a value or a comma-separated list';
    case 'number[]': return 'a comma-separated list of numbers';
    case 'integer[]': return 'a comma-separated list of integers';
  }
}

function validKeys(schema: ConfigSchema): string {
  return Object.keys(schema).sort().join(', ');
}

function coerce(key: string, field: ConfigField, raw: unknown, source: string): unknown {
  const bad = (what: string): never => {
    throw new CliError(`${source}: '${key}' must be ${what}, got ${JSON.stringify(raw)}`);
  };
  const num = (v: unknown, integer: boolean): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    if (!Number.isFinite(n)) bad(integer ? 'an integer' : 'a number');
    if (integer && !Number.isInteger(n)) bad('an integer');
    if (field.min !== undefined && n < field.min) bad(`>= ${field.min}`);
    if (field.max !== undefined && n > field.max) bad(`<= ${field.max}`);
    return n;
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : typeof v === 'string' ? (v.trim() === '' ? [] : v.split(',').map((s) => s.trim())) : typeof v === 'number' ? [v] : bad('a list (YAML list or comma-separated)'));
  switch (field.type) {
    case 'number': return num(raw, false);
    case 'integer': return num(raw, true);
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === true) return true;
      const s = String(raw).toLowerCase();
      if (['true', 'yes', '1'].includes(s)) return true;
      if (['false', 'no', '0'].includes(s)) return false;
      return bad('true or false');
    }
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') bad('a string');
      const s = String(raw);
      if (field.choices && !field.choices.includes(s)) bad(`one of ${field.choices.join(', ')}`);
      return s;
    }
    case 'string[]': return list(raw).map(String);
    case 'number[]': return list(raw).map((v) => num(v, false));
    case 'integer[]': return list(raw).map((v) => num(v, true));
  }
}

/** Sources of a {@link resolveConfig} call, applied in order: defaults, preset, file, flags. */
export interface ConfigSources {
  /** Values of a named preset (e.g. the shipped `small` config). */
  preset?: Record<string, unknown>;
  /** A YAML file path. */
  file?: string;
  /** Flag values (strings from the command line). */
  flags?: ReadonlyMap<string, string | true>;
  /** Flags that are not config keys (e.g. `config`, `backend`) and must be ignored here. */
  ignoreFlags?: readonly string[];
}

/**
 * Reads a YAML (or JSON) config file into a plain object, with errors naming
 * the file; folders, devices, pipes and files over {@link MAX_CONFIG_BYTES}
 * are refused before reading (see {@link readTextFileChecked}).
 */
export function readYamlConfig(file: string): Record<string, unknown> {
  const text = readTextFileChecked(file, { what: 'config file', maxBytes: MAX_CONFIG_BYTES });
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new CliError(`config file ${file}: invalid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`config file ${file}: must be a YAML mapping of key: value`);
  return value as Record<string, unknown>;
}

/**
 * Resolves a config: schema defaults, then the preset, then the YAML file,
 * then flags. Unknown keys and wrong types are {@link CliError}s listing the
 * valid keys; required keys without a value are errors too.
 *
 * @returns the config, typed {@link ConfigOf} the schema (declare it with
 *   {@link defineConfigSchema} to keep its key and value types).
 */
export function resolveConfig<const S extends ConfigSchema>(schema: S, sources?: ConfigSources): ConfigOf<S>;
/**
 * Resolves a config into a type `T` the caller states (for schemas typed
 * only as {@link ConfigSchema}); the other overload infers it from the schema.
 */
export function resolveConfig<T extends Record<string, unknown>>(schema: ConfigSchema, sources?: ConfigSources): T;
export function resolveConfig(schema: ConfigSchema, sources: ConfigSources = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(schema)) if (f.default !== undefined) out[k] = f.default;
  const apply = (values: Record<string, unknown>, source: string) => {
    for (const [rawKey, v] of Object.entries(values)) {
      const k = flagKey(rawKey);
      const field = schema[k];
      if (!field) throw new CliError(`${source}: unknown key '${rawKey}'; valid keys: ${validKeys(schema)}`);
      if (v === null || v === undefined) {
        if (field.optional) delete out[k];
        continue;
      }
      out[k] = coerce(k, field, v, source);
    }
  };
  if (sources.preset) apply(sources.preset, 'preset');
  if (sources.file) apply(readYamlConfig(sources.file), `config file ${sources.file}`);
  if (sources.flags) {
    const ignore = new Set(sources.ignoreFlags ?? []);
    const fromFlags: Record<string, unknown> = {};
    for (const [k, v] of sources.flags) {
      if (ignore.has(k)) continue;
      const field = schema[k];
      if (!field) throw new CliError(`unknown option '--${k.replace(/_/g, '-')}'; valid config keys: ${validKeys(schema)}`);
      // parseArgs gives `true` for a flag followed by nothing or by another flag.
      if (v === true && field.type !== 'boolean') throw new CliError(`option --${k.replace(/_/g, '-')} needs a value (${expected(field)}), e.g. --${k.replace(/_/g, '-')} ${exampleValue(field)}`);
      fromFlags[k] = v;
    }
    apply(fromFlags, 'command line');
  }
  const missing = Object.entries(schema).filter(([k, f]) => out[k] === undefined && !f.optional).map(([k]) => k);
  if (missing.length) throw new CliError(`missing required config key(s): ${missing.join(', ')} (set them in the YAML file or as --${missing[0]!.replace(/_/g, '-')} ...)`);
  return out;
}

function exampleValue(field: ConfigField): string {
  if (field.default !== undefined && !(Array.isArray(field.default) && field.default.length === 0)) {
    return Array.isArray(field.default) ? field.default.join(',') : String(field.default);
  }
  if (field.choices?.length) return field.choices[0]!;
  return { number: '0.5', integer: '1', boolean: 'true', string: 'VALUE', 'string[]': 'a,b', 'number[]': '1,2', 'integer[]': '1,2' }[field.type];
}

/** Formats a schema as `--help` text lines. */
export function describeSchema(schema: ConfigSchema): string {
  return Object.entries(schema)
    .map(([k, f]) => {
      const def = f.default === undefined ? (f.optional ? '' : ' (required)') : ` (default ${JSON.stringify(f.default)})`;
      const choices = f.choices ? ` [${f.choices.join('|')}]` : '';
      return `  --${k.replace(/_/g, '-').padEnd(28)} ${f.type}${choices}  ${f.description}${def}`;
    })
    .join('\n');
}
