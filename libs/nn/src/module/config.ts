/**
 * Network configurations: presets, defaults and validation, with errors that
 * name the function and the `config.<key>` at fault. Each network package
 * keeps its own option interface, defaults and presets, and resolves them with
 * {@link configResolver}; the checks every network needs (positive integers,
 * a dropout rate, channel multipliers against GroupNorm groups, an image size
 * the levels can halve) live in {@link ConfigCheck}.
 */

/** A value as error messages show it: numbers plainly, other values as JSON. */
function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
}

/**
 * Validation of one `config` argument; every error names the function and
 * the key: `'config.<key>' passed to '<fn>' ...`.
 */
export class ConfigCheck {
  /** The function whose `config` argument is checked (named in errors). */
  readonly fn: string;

  /** @param fn - the function whose `config` argument is checked, e.g. `'createUNet'`. */
  constructor(fn: string) {
    this.fn = fn;
  }

  /**
   * A RangeError `'config.<key>' passed to '<fn>' <problem>`.
   *
   * @param key - the config key at fault.
   * @param problem - what is wrong and what is expected, e.g. `"must be 'a' or 'b', got 'c'"`.
   */
  error(key: string, problem: string): RangeError {
    return new RangeError(`'config.${key}' passed to '${this.fn}' ${problem}`);
  }

  /**
   * `value` if it is a positive integer, else a RangeError naming `key`.
   *
   * @param value - the value to check.
   * @param key - the config key.
   */
  positiveInt(value: unknown, key: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw this.error(key, `must be a positive integer, got ${show(value)}`);
    return value;
  }

  /**
   * `value` if it is a dropout rate in [0, 1), else a RangeError naming `key`.
   *
   * @param value - the value to check.
   * @param key - the config key.
   * @defaultValue key: 'dropout'
   */
  dropout(value: unknown, key = 'dropout'): number {
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw this.error(key, `must be in [0, 1), got ${show(value)}`);
    return value;
  }

  /**
   * `value` if it is one of `allowed`, else a RangeError listing them.
   *
   * @param value - the value to check.
   * @param allowed - the accepted values.
   * @param key - the config key.
   * @param describe - the accepted values as the message should list them.
   * @defaultValue describe: the values quoted, joined with "or"
   */
  oneOf<T extends string>(value: unknown, allowed: readonly T[], key: string, describe?: string): T {
    if (!allowed.includes(value as T)) {
      const list = describe ?? allowed.map((a) => `'${a}'`).join(' or ');
      throw this.error(key, `must be ${list}, got ${typeof value === 'string' ? `'${value}'` : show(value)}`);
    }
    return value as T;
  }

  /**
   * Checks channel multipliers: a non-empty array of positive numbers whose
   * channel counts `trunc(m * base)` are positive multiples of `groups`
   * (GroupNorm splits every level's channels into that many groups).
   *
   * @param mult - the multipliers (config key `channelMult`).
   * @param base - the base channel count.
   * @param baseKey - the config key of `base` (e.g. `'modelChannels'`).
   * @param groups - the GroupNorm group count.
   * @param groupsWhat - how the message names the groups (e.g. `'normGroups 32'`).
   * @returns a copy of `mult`.
   */
  channelMult(mult: unknown, base: number, baseKey: string, groups: number, groupsWhat: string): number[] {
    if (!Array.isArray(mult) || mult.length === 0) throw this.error('channelMult', `must be a non-empty array, got ${show(mult)}`);
    for (const m of mult as unknown[]) {
      if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw this.error('channelMult', `must hold positive numbers, got ${show(mult)}`);
      const ch = Math.trunc(m * base);
      if (ch < 1 || ch % groups !== 0) {
        throw this.error('channelMult', `gives ${ch} channels at multiplier ${m} (${baseKey} ${base}), not a positive multiple of ${groupsWhat}`);
      }
    }
    return [...(mult as number[])];
  }

  /**
   * Checks that an image size can be halved at each of `levels - 1` downsamplings.
   *
   * @param size - the image size.
   * @param levels - the number of levels (`channelMult.length`).
   * @param key - the config key of `size`.
   * @defaultValue key: 'imageSize'
   */
  divisibleByLevels(size: number, levels: number, key = 'imageSize'): void {
    const factor = 2 ** (levels - 1);
    if (size % factor !== 0) throw this.error(key, `must be divisible by ${factor} (2^(levels-1) with ${levels} levels), got ${size}`);
  }
}

/**
 * How a network package describes its configuration to {@link configResolver}.
 *
 * @typeParam C - the options a caller passes (some optional).
 * @typeParam P - the preset names.
 * @typeParam M - the options with every default applied.
 */
export interface ConfigSpec<C extends object, P extends string, M extends object> {
  /** The function named in errors when the caller of the resolver names none (e.g. `'createUNet'`). */
  fn: string;
  /** The named configurations. */
  presets: Readonly<Record<P, Readonly<C>>>;
  /** Every key of the resolved config, in the order the resolved object (and its JSON) lists them. */
  keys: readonly (keyof M & string)[];
  /** Keys without a default: checked as positive integers before `defaults` sees the config. */
  required: readonly (keyof M & keyof C & string)[];
  /** The defaults of the other keys; may depend on the given config (its required keys are valid by then). */
  defaults: (config: Readonly<C>) => Partial<M>;
  /**
   * Refuse keys that are not in `keys` (for configs read from files, where a
   * misspelt key would otherwise be ignored silently).
   * @defaultValue false
   */
  strictKeys?: boolean;
  /** Checks the merged config; throws with `check`'s errors. */
  validate?: (config: M, check: ConfigCheck) => void;
}

/**
 * Resolves a config or a preset name: defaults applied, validated.
 *
 * @param config - a config or a preset name.
 * @param fn - the function named in errors.
 * @defaultValue fn: the spec's `fn`
 */
export type ConfigResolver<C extends object, P extends string, M extends object> = (config: C | P, fn?: string) => M;

/**
 * Builds a network package's config resolver: a preset name is looked up
 * (unknown names refused with the list), the required keys are checked,
 * every other key takes the given value or its default (`undefined` and
 * `null` both select the default; arrays are copied, so the result never
 * aliases a frozen preset), and `validate` checks the result.
 *
 * @param spec - see {@link ConfigSpec}.
 *
 * @example
 * ```ts
 * const resolve = configResolver<MyConfig, 'small', Required<MyConfig>>({
 *   fn: 'createMyNet', presets: { small: { imageSize: 64, width: 32 } },
 *   keys: ['imageSize', 'width', 'depth'], required: ['imageSize', 'width'],
 *   defaults: () => ({ depth: 2 }),
 *   validate: (c, check) => { check.positiveInt(c.depth, 'depth'); },
 * });
 * resolve('small'); // { imageSize: 64, width: 32, depth: 2 }
 * ```
 */
export function configResolver<C extends object, P extends string, M extends object>(spec: ConfigSpec<C, P, M>): ConfigResolver<C, P, M> {
  const presetNames = Object.keys(spec.presets);
  const known = new Set<string>(spec.keys);
  const resolve = (config: C | P, fn: string = spec.fn): M => {
    if (typeof config === 'string') {
      const preset = Object.prototype.hasOwnProperty.call(spec.presets, config) ? (spec.presets as Record<string, C>)[config] : undefined;
      if (!preset) throw new RangeError(`'config' passed to '${fn}' must be a config object or a preset name (${presetNames.join(', ')}), got '${config}'`);
      return resolve(preset, fn);
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new TypeError(`'config' passed to '${fn}' must be an object or a preset name (${presetNames.join(', ')}), got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config}`);
    }
    if (spec.strictKeys) {
      const unknown = Object.keys(config).filter((k) => !known.has(k));
      if (unknown.length) throw new RangeError(`'config' passed to '${fn}' has unknown keys: ${unknown.join(', ')} (valid: ${spec.keys.join(', ')})`);
    }
    const check = new ConfigCheck(fn);
    const given = config as Record<string, unknown>;
    for (const k of spec.required) check.positiveInt(given[k], k);
    const defaults = spec.defaults(config) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of spec.keys) {
      const v = given[k] ?? defaults[k];
      out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
    }
    const resolved = out as M;
    spec.validate?.(resolved, check);
    return resolved;
  };
  return resolve;
}
