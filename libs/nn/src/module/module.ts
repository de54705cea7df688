/**
 * The base class of tumorcast's networks: one place that owns the weights
 * (a {@link ParamStore} under PyTorch `state_dict` names), their
 * serialisation (safetensors with the config in the metadata, PyTorch
 * `.pt`/`.pth` state dicts) and their disposal, in the manner of a tfjs-layers
 * `LayersModel`. A network subclass only builds its layers and computes.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Seed } from '@tumorcast/random';
import { loadSafetensors } from '../safetensors.js';
import { ParamStore } from '../layers/params.js';
import type { LoadStateDictOptions, LoadWeightsOptions, SaveWeightsOptions, StateDict } from '../layers/params.js';

/** Options of a {@link Module}'s construction. */
export interface ModuleOptions {
  /**
   * Seed of the random initialisation.
   * @defaultValue 0
   */
  seed?: Seed;
}

/**
 * A network whose parameters live in one {@link ParamStore}, with its
 * resolved configuration. Subclasses register their layers' parameters in
 * {@link Module.build} and implement the forward pass; this class saves,
 * loads, counts and frees the parameters.
 *
 * @typeParam C - the resolved configuration (stored as JSON with the weights).
 *
 * @example
 * ```ts
 * class Tiny extends Module<{ channels: number }> {
 *   private readonly conv: Conv2d;
 *   constructor(config: { channels: number }) {
 *     super(config, 'my.tiny.config');
 *     this.conv = this.build((store) => new Conv2d(store, 'conv', 4, config.channels, 3));
 *   }
 * }
 * ```
 */
export abstract class Module<C extends object = object> {
  /** The configuration, defaults applied. */
  readonly config: C;
  /** The parameters under their PyTorch names. */
  readonly params: ParamStore;
  /** The safetensors metadata key under which {@link Module.saveWeights} stores the config (JSON). */
  readonly configKey: string;

  /**
   * @param config - the resolved configuration.
   * @param configKey - the metadata key of the config in weights files (e.g. `'tumorcast.unet.config'`).
   * @param options - see {@link ModuleOptions}.
   */
  protected constructor(config: C, configKey: string, options: ModuleOptions = {}) {
    this.config = config;
    this.configKey = configKey;
    this.params = new ParamStore({ seed: options.seed ?? 0 });
  }

  /**
   * Runs `layers` with the parameter store and returns what it builds; when it
   * throws (a bad config found while building), the parameters registered so
   * far are freed before the error propagates, so a failed constructor leaks nothing.
   *
   * @param layers - registers the network's parameters (in PyTorch module order) and returns its layers.
   */
  protected build<T>(layers: (store: ParamStore) => T): T {
    try {
      return layers(this.params);
    } catch (e) {
      this.params.dispose();
      throw e;
    }
  }

  /** The trainable variables, in registration order (for a tfjs optimizer's `varList` or `tf.variableGrads`). */
  get trainableVariables(): tf.Variable[] {
    return this.params.variables;
  }

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return this.params.parameterCount;
  }

  /** The parameters as a PyTorch state dict (PyTorch names and layouts: conv weights OIHW, linear weights `[out, in]`). */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    return this.params.stateDict();
  }

  /** As {@link Module.stateDict}, reading asynchronously: works on the `webgpu` backend in Node too. */
  stateDictAsync(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    return this.params.stateDictAsync();
  }

  /**
   * Assigns the parameters from a PyTorch state dict, all or nothing; see
   * {@link ParamStore.loadStateDict}. A mismatch throws a
   * `WeightsMismatchError` (possibly with a network-specific hint; see
   * {@link Module.explainWeightsError}).
   *
   * @param dict - PyTorch names to tensors (`module.` prefixes stripped by default).
   * @param options - see {@link LoadStateDictOptions}.
   */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): void {
    try {
      this.params.loadStateDict(dict, options);
    } catch (e) {
      throw this.explainWeightsError(e);
    }
  }

  /**
   * Saves the weights as safetensors with PyTorch names and layouts,
   * atomically, with the config as JSON under {@link Module.configKey}
   * (entries of `options.metadata` come after it and win on the same key).
   *
   * @param path - the file to write.
   * @param options - see {@link SaveWeightsOptions}.
   */
  async saveWeights(path: string, options: SaveWeightsOptions = {}): Promise<void> {
    const fn = `${this.constructor.name}.saveWeights`;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`'path' passed to '${fn}' must be a non-empty string`);
    const dtype = options.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'F16') throw new RangeError(`'options.dtype' passed to '${fn}' must be 'F32' or 'F16', got ${String(dtype)}`);
    await this.params.saveWeights(path, { ...options, dtype, metadata: { [this.configKey]: JSON.stringify(this.config), ...options.metadata } });
  }

  /**
   * Loads weights with PyTorch names from a safetensors file or a PyTorch
   * `.pt`/`.pth` state dict (`module.` prefixes stripped); see
   * {@link ParamStore.loadWeights}. The config in the file, if any, is not
   * applied: the network must already have the file's architecture (use
   * {@link loadModule} to build it from the file).
   *
   * @param path - the weights file.
   * @param options - see {@link LoadWeightsOptions}.
   * @returns the safetensors metadata (empty for torch files).
   */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<Record<string, string>> {
    try {
      return await this.params.loadWeights(path, options);
    } catch (e) {
      throw this.explainWeightsError(e);
    }
  }

  /** Frees the variables; the network is unusable afterwards (calling it again is harmless). */
  dispose(): void {
    this.params.dispose();
  }

  /**
   * Maps an error raised while loading weights to the one reported (default:
   * unchanged). Networks override it to add a hint, e.g. which config option
   * the file's architecture needs.
   *
   * @param e - the error from {@link ParamStore.loadStateDict} or {@link ParamStore.loadWeights}.
   */
  protected explainWeightsError(e: unknown): unknown {
    return e;
  }
}

/** How {@link loadModule} recognises and builds a network from its weights file. */
export interface LoadModuleSpec<M extends Module> {
  /** The function named in errors (e.g. `'loadSegmenter'`). */
  fn: string;
  /** The metadata key holding the config as JSON. */
  configKey: string;
  /** What the file should hold, for errors (e.g. `'segmenter'`). */
  what: string;
  /** The function that writes such files, for the hint when the config is missing (e.g. `'saveSegmenter'`). */
  writer: string;
  /** Builds the network from the parsed config (validating it; errors should name `fn`). */
  create: (config: unknown) => M;
}

/**
 * Recreates a network from a safetensors file written by
 * {@link Module.saveWeights}: the config comes from the metadata, the
 * weights must match it exactly (otherwise a `WeightsMismatchError` lists the
 * offending keys, and the half-built network is freed).
 *
 * @param path - the safetensors file.
 * @param spec - see {@link LoadModuleSpec}.
 * @returns the network (dispose it when done).
 */
export async function loadModule<M extends Module>(path: string, spec: LoadModuleSpec<M>): Promise<M> {
  const { fn, configKey: key } = spec;
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`'path' passed to '${fn}' must be a non-empty string`);
  const file = await loadSafetensors(path, { widenToFloat32: true });
  const raw = file.metadata[key];
  if (raw === undefined) {
    throw new Error(`'path' passed to '${fn}' is not a ${spec.what} file: ${path} has no '${key}' metadata (was it written by ${spec.writer}?)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`'path' passed to '${fn}': the '${key}' metadata of ${path} is not valid JSON (${(e as Error).message})`);
  }
  const net = spec.create(parsed);
  try {
    net.loadStateDict(file.tensors, { source: path });
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}
