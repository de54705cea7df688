/**
 * A parameter store: tfjs variables registered under PyTorch `state_dict`
 * names, with the layout conversion between PyTorch's and tfjs's tensor
 * conventions, initialisation, and weight loading / saving.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@tumorcast/random';
import type { Seed } from '@tumorcast/random';
import { loadSafetensors, saveSafetensors } from '../safetensors.js';
import type { SafetensorsInput } from '../safetensors.js';
import { loadTorchStateDict } from '../torch/index.js';

/**
 * How a parameter's PyTorch tensor maps to its tfjs variable.
 *
 * - `conv2d`: PyTorch OIHW `[out, in, kh, kw]` <-> tfjs HWIO `[kh, kw, in, out]`.
 * - `conv1d`: PyTorch `[out, in, 1]` (a 1x1 Conv1d) <-> tfjs matrix `[in, out]`.
 * - `linear`: PyTorch `[out, in]` <-> tfjs matrix `[in, out]`.
 * - `transpose`: a 2-D PyTorch `[a, b]` <-> tfjs `[b, a]`.
 * - `same`: identical shape and order (biases, norms, embeddings).
 */
export type ParamLayout = 'conv2d' | 'conv1d' | 'linear' | 'transpose' | 'same';

/** How a parameter is initialised (values are drawn from the store's seeded {@link Rng}). */
export type ParamInit =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** Uniform in [-bound, bound] (PyTorch's default for conv / linear weights and biases: bound = 1/sqrt(fan_in)). */
  | { kind: 'uniform'; bound: number }
  /** Normal with mean 0 and standard deviation `std`. */
  | { kind: 'normal'; std: number };

/** One registered parameter. */
export interface ParamEntry {
  /** The PyTorch `state_dict` name (e.g. `input_blocks.1.0.in_layers.2.weight`). */
  readonly name: string;
  /** The shape of the PyTorch tensor. */
  readonly torchShape: readonly number[];
  /** The shape of the tfjs variable. */
  readonly shape: readonly number[];
  /** How the two are related. */
  readonly layout: ParamLayout;
  /** The tfjs variable (trainable, float32). */
  readonly variable: tf.Variable;
}

/** A tensor of a PyTorch-convention state dict: shape plus row-major values. */
export interface StateTensor {
  /** PyTorch shape. */
  shape: readonly number[];
  /**
   * Values in PyTorch (row-major) order. Integer or float64 arrays are
   * converted to float32; a Uint16Array (raw float16/bfloat16 bits) is refused: widen it first.
   */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array | Uint16Array | readonly number[];
}

/** A state dict: PyTorch names to tensors. */
export type StateDict = Map<string, StateTensor> | Record<string, StateTensor>;

/** Options of {@link ParamStore.loadStateDict}. */
export interface LoadStateDictOptions {
  /**
   * Refuse (throw a {@link WeightsMismatchError}) when the dict lacks a
   * parameter of the model or has keys the model does not know. Shape
   * mismatches are always refused.
   * @defaultValue true
   */
  strict?: boolean;
  /**
   * Leading prefixes removed from every key before matching (DataParallel
   * saves `module.`-prefixed names).
   * @defaultValue ['module.']
   */
  stripPrefixes?: readonly string[];
  /**
   * Where the weights come from, used in error messages.
   * @defaultValue 'state dict'
   */
  source?: string;
}

/** Options of {@link ParamStore.loadWeights}. */
export interface LoadWeightsOptions extends Omit<LoadStateDictOptions, 'source'> {
  /**
   * File format: `'safetensors'`, `'torch'` (a `torch.save` file holding a
   * state dict, e.g. a guided-diffusion `.pt` checkpoint), or `'auto'`: torch
   * for the extensions `.pt`, `.pth`, `.ckpt`, `.bin`, else safetensors.
   * @defaultValue 'auto'
   */
  format?: 'auto' | 'safetensors' | 'torch';
  /**
   * For torch files: where the state dict is inside a checkpoint dict (a key
   * such as `'model'`, or a path of keys).
   * @defaultValue the top-level object
   */
  key?: string | readonly string[];
}

/** Options of {@link ParamStore.saveWeights}. */
export interface SaveWeightsOptions {
  /**
   * String metadata stored in the safetensors header (e.g. the model config).
   * @defaultValue none
   */
  metadata?: Record<string, string>;
  /**
   * Element type of the stored weights (F16 halves the file and rounds).
   * @defaultValue 'F32'
   */
  dtype?: 'F32' | 'F16';
}

/** The weights do not match the model: the message lists the offending keys. */
export class WeightsMismatchError extends Error {
  /** Keys the model needs that the weights lack. */
  readonly missing: string[];
  /** Keys in the weights that the model does not have. */
  readonly unexpected: string[];
  /** Keys present in both whose shapes differ. */
  readonly shapeMismatches: { name: string; expected: number[]; got: number[] }[];
  /**
   * @param source - where the weights came from.
   * @param missing - see {@link WeightsMismatchError.missing}.
   * @param unexpected - see {@link WeightsMismatchError.unexpected}.
   * @param shapeMismatches - see {@link WeightsMismatchError.shapeMismatches}.
   */
  constructor(
    source: string,
    missing: string[],
    unexpected: string[],
    shapeMismatches: { name: string; expected: number[]; got: number[] }[],
  ) {
    const list = (xs: string[]) => (xs.length > 20 ? `${xs.slice(0, 20).join(', ')}, ... (${xs.length - 20} more)` : xs.join(', '));
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${list(unexpected)}`);
    if (shapeMismatches.length) {
      parts.push(
        `shape mismatches (${shapeMismatches.length}): ${list(
          shapeMismatches.map((m) => `${m.name} expected [${m.expected.join(',')}] got [${m.got.join(',')}]`),
        )}`,
      );
    }
    super(`${source} does not match the model: ${parts.join('; ')}`);
    this.name = 'WeightsMismatchError';
    this.missing = missing;
    this.unexpected = unexpected;
    this.shapeMismatches = shapeMismatches;
  }
}

/** The tfjs shape of a parameter with PyTorch shape `torchShape` and `layout`. */
export function tfShapeOf(torchShape: readonly number[], layout: ParamLayout): number[] {
  const s = [...torchShape];
  switch (layout) {
    case 'conv2d':
      if (s.length !== 4) throw new RangeError(`'torchShape' passed to 'tfShapeOf' must have 4 axes for layout conv2d, got [${s}]`);
      return [s[2]!, s[3]!, s[1]!, s[0]!];
    case 'conv1d':
      if (s.length !== 3 || s[2] !== 1) throw new RangeError(`'torchShape' passed to 'tfShapeOf' must be [out, in, 1] for layout conv1d, got [${s}]`);
      return [s[1]!, s[0]!];
    case 'linear':
    case 'transpose':
      if (s.length !== 2) throw new RangeError(`'torchShape' passed to 'tfShapeOf' must have 2 axes for layout ${layout}, got [${s}]`);
      return [s[1]!, s[0]!];
    case 'same':
      return s;
  }
}

/** Converts row-major values of PyTorch shape `torchShape` to the tfjs layout (a new array). */
export function torchToTf(data: Float32Array, torchShape: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'same') return Float32Array.from(data);
  if (layout === 'conv2d') {
    const [o, i, kh, kw] = torchShape as [number, number, number, number];
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x]!;
    return out;
  }
  const [r, c] = torchShape as [number, number];
  return transpose2d(data, r, c);
}

/** Converts row-major values of a tfjs variable back to the PyTorch layout (a new array). */
export function tfToTorch(data: Float32Array, torchShape: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'same') return Float32Array.from(data);
  if (layout === 'conv2d') {
    const [o, i, kh, kw] = torchShape as [number, number, number, number];
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = data[((y * kw + x) * i + b) * o + a]!;
    return out;
  }
  const [r, c] = torchShape as [number, number];
  return transpose2d(data, c, r);
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < rows; a++) for (let b = 0; b < cols; b++) out[b * rows + a] = data[a * cols + b]!;
  return out;
}

function toFloat32(data: StateTensor['data'], name: string, source: string): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) throw new TypeError(`${source}: '${name}' holds raw 16-bit float bits; read it widened to float32`);
  if (data instanceof BigInt64Array) return Float32Array.from(data, (v) => Number(v));
  return Float32Array.from(data as ArrayLike<number>);
}

/** Options of {@link ParamStore}. */
export interface ParamStoreOptions {
  /**
   * Seed of the initialisation (values are drawn from a {@link Rng}).
   * @defaultValue 0
   */
  seed?: Seed;
}

/**
 * Holds a model's parameters as tfjs variables under their PyTorch
 * `state_dict` names, in registration order (which follows PyTorch's
 * module order).
 */
export class ParamStore {
  private readonly byName = new Map<string, ParamEntry>();
  private readonly rng: Rng;
  private disposed = false;

  /** @param options - see {@link ParamStoreOptions}. */
  constructor(options: ParamStoreOptions = {}) {
    this.rng = new Rng(options.seed ?? 0);
  }

  /**
   * Registers a parameter and returns its variable.
   *
   * @param name - the PyTorch `state_dict` name; must be new.
   * @param torchShape - the PyTorch shape.
   * @param layout - how the PyTorch tensor maps to the tfjs variable.
   * @param init - the initialisation.
   */
  add(name: string, torchShape: readonly number[], layout: ParamLayout, init: ParamInit): tf.Variable {
    this.assertLive('add');
    if (this.byName.has(name)) throw new Error(`'name' passed to 'ParamStore.add' is already registered: ${name}`);
    if (!torchShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(`'torchShape' passed to 'ParamStore.add' must be positive integers, got [${torchShape}] for ${name}`);
    }
    const shape = tfShapeOf(torchShape, layout);
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    switch (init.kind) {
      case 'zeros':
        break;
      case 'ones':
        values.fill(1);
        break;
      case 'uniform':
        for (let i = 0; i < n; i++) values[i] = (2 * this.rng.uniform() - 1) * init.bound;
        break;
      case 'normal':
        for (let i = 0; i < n; i++) values[i] = this.rng.normal(0, init.std);
        break;
    }
    // tf.variable copies its initial value: dispose the temporary, or every parameter leaks a tensor.
    const initial = tf.tensor(values, shape, 'float32');
    const variable = tf.variable(initial, true);
    initial.dispose();
    this.byName.set(name, { name, torchShape: [...torchShape], shape, layout, variable });
    return variable;
  }

  /** The entry named `name`; throws when there is none. */
  get(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`'name' passed to 'ParamStore.get' is not a parameter: ${name}`);
    return e;
  }

  /** All entries in registration order. */
  entries(): ParamEntry[] {
    return [...this.byName.values()];
  }

  /** All parameter names in registration order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The trainable variables, in registration order (for a tfjs optimizer's `varList`). */
  get variables(): tf.Variable[] {
    return this.entries().map((e) => e.variable);
  }

  /** The total number of scalar parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const e of this.byName.values()) n += e.variable.size;
    return n;
  }

  /**
   * The parameters as a PyTorch-convention state dict (conv weights OIHW,
   * linear weights [out, in]). Reads synchronously (wasm, cpu, webgl); on the
   * `webgpu` backend in Node use {@link ParamStore.stateDictAsync}.
   */
  stateDict(): Map<string, { shape: number[]; data: Float32Array }> {
    this.assertLive('stateDict');
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const e of this.byName.values()) {
      const data = e.variable.dataSync() as Float32Array;
      out.set(e.name, { shape: [...e.torchShape], data: tfToTorch(data, e.torchShape, e.layout) });
    }
    return out;
  }

  /** As {@link ParamStore.stateDict}, reading asynchronously (works on every backend). */
  async stateDictAsync(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    this.assertLive('stateDictAsync');
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const e of [...this.byName.values()]) {
      const data = (await e.variable.data()) as Float32Array;
      out.set(e.name, { shape: [...e.torchShape], data: tfToTorch(data, e.torchShape, e.layout) });
    }
    return out;
  }

  /**
   * Assigns every parameter from a PyTorch-convention state dict (transposing
   * conv and linear weights). All keys and shapes are checked before anything
   * is assigned: on a mismatch nothing changes and a
   * {@link WeightsMismatchError} lists the offending keys.
   */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): void {
    this.assertLive('loadStateDict');
    const strict = options.strict ?? true;
    const prefixes = options.stripPrefixes ?? ['module.'];
    const source = options.source ?? 'state dict';
    const items = dict instanceof Map ? [...dict.entries()] : Object.entries(dict);
    const given = new Map<string, StateTensor>();
    for (const [rawKey, t] of items) {
      let key = rawKey;
      for (let again = true; again; ) {
        again = false;
        for (const p of prefixes) {
          if (p && key.startsWith(p)) {
            key = key.slice(p.length);
            again = true;
          }
        }
      }
      given.set(key, t);
    }
    const missing: string[] = [];
    const shapeMismatches: { name: string; expected: number[]; got: number[] }[] = [];
    for (const e of this.byName.values()) {
      const t = given.get(e.name);
      if (!t) {
        missing.push(e.name);
        continue;
      }
      const got = [...t.shape];
      const n = got.reduce((a, b) => a * b, 1);
      if (got.length !== e.torchShape.length || got.some((d, i) => d !== e.torchShape[i]) || t.data.length !== n) {
        shapeMismatches.push({ name: e.name, expected: [...e.torchShape], got });
      }
    }
    const unexpected = [...given.keys()].filter((k) => !this.byName.has(k));
    if (shapeMismatches.length || (strict && (missing.length || unexpected.length))) {
      throw new WeightsMismatchError(source, strict ? missing : [], strict ? unexpected : [], shapeMismatches);
    }
    const converted: [ParamEntry, Float32Array][] = [];
    for (const e of this.byName.values()) {
      const t = given.get(e.name);
      if (t) converted.push([e, torchToTf(toFloat32(t.data, e.name, source), e.torchShape, e.layout)]);
    }
    for (const [e, values] of converted) {
      tf.tidy(() => e.variable.assign(tf.tensor(values, e.shape as number[], 'float32')));
    }
  }

  /** Writes the parameters to a safetensors file (PyTorch names and layouts), atomically. */
  async saveWeights(path: string, options: SaveWeightsOptions = {}): Promise<void> {
    const tensors = new Map<string, SafetensorsInput>();
    for (const [k, v] of await this.stateDictAsync()) tensors.set(k, v);
    await saveSafetensors(path, tensors, { metadata: options.metadata, floatDtype: options.dtype ?? 'F32' });
  }

  /**
   * Reads weights with PyTorch names and layouts from a safetensors file (F32,
   * F16, BF16 or F64) or a PyTorch `torch.save` state dict (`.pt`/`.pth`,
   * float16/bfloat16/float64 widened) and assigns the parameters; see
   * {@link ParamStore.loadStateDict}. Returns the safetensors metadata (empty for torch files).
   */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<Record<string, string>> {
    const { format = 'auto', key, ...rest } = options;
    if (format !== 'auto' && format !== 'safetensors' && format !== 'torch') {
      throw new RangeError(`'options.format' passed to 'loadWeights' must be 'auto', 'safetensors' or 'torch', got '${String(format)}'`);
    }
    const torch = format === 'torch' || (format === 'auto' && /\.(pt|pth|ckpt|bin)$/i.test(path));
    if (torch) {
      const sd = await loadTorchStateDict(path, { toFloat32: true, key, stripPrefix: false });
      this.loadStateDict(sd, { ...rest, source: path });
      return {};
    }
    const file = await loadSafetensors(path, { widenToFloat32: true });
    this.loadStateDict(file.tensors, { ...rest, source: path });
    return file.metadata;
  }

  /** Disposes every variable; the store is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const e of this.byName.values()) e.variable.dispose();
    this.disposed = true;
  }

  private assertLive(method: string): void {
    if (this.disposed) throw new Error(`'ParamStore.${method}' called after 'dispose'`);
  }
}
