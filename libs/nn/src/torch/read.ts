// Reading PyTorch `torch.save` files (zip archive + restricted pickle) into
// plain typed arrays. Pure and browser-safe; see load.ts for the Node loader.
import { DTYPE_SIZE, STORAGE_DTYPES, bfloat16ToFloat32, float16ToFloat32, typedView } from './dtypes.js';
import type { TorchDtype, TorchTensorData } from './dtypes.js';
import { TorchFileError } from './errors.js';
import { PickleOpaque, unpickle, unpickleAt } from './pickle.js';
import type { PickleGlobal, UnpickleOptions } from './pickle.js';
import { isZip, readZip } from './zip.js';

/** A tensor read from a PyTorch file: its elements copied out in row-major (C) order. */
export class TorchTensor {
  /**
   * @param dtype - element type of `data`
   * @param shape - dimensions (`[]` for a 0-d scalar)
   * @param data - `shape`'s product elements, row-major
   * @param storedDtype - element type in the file (differs from `dtype` after `toFloat32`)
   */
  constructor(
    readonly dtype: TorchDtype,
    readonly shape: number[],
    readonly data: TorchTensorData,
    readonly storedDtype: TorchDtype = dtype,
  ) {}
}

/** A dictionary key of a pickled dict: strings in a state dict, integers in an optimizer state. */
export type TorchKey = string | number | bigint | boolean | null;

/**
 * A value read from a PyTorch file: tensors and the plain Python values a
 * checkpoint holds. `None` → `null`; `int` → `number` (or `bigint` beyond
 * ±2^53-1); `bytes` → `Uint8Array`; `list` and `tuple` → arrays; `dict` and
 * `OrderedDict` → `Map`; objects of classes that are not allowed, with
 * `unknownGlobals: 'placeholder'` → {@link PickleOpaque}.
 */
export type TorchValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TorchTensor
  | PickleOpaque
  | TorchValue[]
  | Map<TorchKey, TorchValue>;

/** A state dict: parameter and buffer names (`conv.weight`, ...) to tensors, in file order. */
export type TorchStateDict = Map<string, TorchTensor>;

/** Options of {@link readTorchFile} and {@link loadTorchFile}. */
export interface TorchReadOptions {
  /**
   * Name used for the file in error messages (the path, for the loaders).
   * @defaultValue `'<bytes>'` (the path for {@link loadTorchFile})
   */
  fileName?: string;
  /**
   * Convert `float16`, `bfloat16` and `float64` tensors to `float32`
   * (`Float32Array`; float16/bfloat16 exactly, float64 rounded to nearest).
   * The original type stays in {@link TorchTensor.storedDtype}.
   * @defaultValue false
   */
  toFloat32?: boolean;
  /**
   * Check each zip entry read against the CRC-32 in the archive directory.
   * @defaultValue true
   */
  verifyChecksums?: boolean;
  /**
   * What to do with a pickled global (class or function) other than tensors,
   * storages, `OrderedDict` and bytes: `'error'` refuses the file naming the
   * global; `'placeholder'` reads it as an inert {@link PickleOpaque} (never
   * executed), so e.g. a checkpoint holding a numpy scalar next to its state
   * dict can still be read.
   * @defaultValue 'error'
   */
  unknownGlobals?: 'error' | 'placeholder';
}

/** Options of {@link readTorchStateDict} and {@link loadTorchStateDict}. */
export interface TorchStateDictOptions extends TorchReadOptions {
  /**
   * Where the state dict is inside a checkpoint dict: a key (`'model'`) or a
   * path of keys (`['ema', 'state_dict']`). Without it the top-level object
   * must be the state dict; if it is a checkpoint, the error lists the keys
   * that hold dicts of tensors.
   * @defaultValue undefined (the top-level object)
   */
  key?: string | readonly string[];
  /**
   * Prefix removed from every name when every name starts with it
   * (`torch.nn.DataParallel` and DistributedDataParallel add `module.`);
   * `false` keeps names as they are.
   * @defaultValue 'module.'
   */
  stripPrefix?: string | false;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class StorageRef {
  constructor(readonly dtype: TorchDtype, readonly key: string, readonly numel: number, readonly bytes: Uint8Array) {}
}

class StorageType {
  constructor(readonly dtype: TorchDtype, readonly fullName: string) {}
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
}

interface Context {
  file: string;
  bigEndian: boolean;
  toFloat32: boolean;
  /**
   * The bytes of storage `key` (checked to hold `numel` elements), or
   * `undefined` in a dry run (the legacy format's first pass, before the
   * storages' positions are known: tensors are then not materialised).
   */
  storageBytes: (key: string, type: StorageType, numel: number) => Uint8Array | undefined;
  /** Storages read so far, by key. */
  storages: Map<string, StorageRef>;
  /** Storage types by key, as seen in persistent ids. */
  storageTypes: Map<string, StorageType>;
}

const DRY = new Uint8Array(0);

function rebuildTensor(ctx: Context, fn: string, args: unknown[]): TorchTensor {
  const fail = (problem: string): never => {
    throw new TorchFileError(ctx.file, `${fn}: ${problem}`);
  };
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) return fail('its first argument is not a storage');
  const st = storage;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) return fail(`invalid storage offset ${String(offset)}`);
  if (!isIntArray(size) || size.some((d) => d < 0)) return fail(`invalid size ${JSON.stringify(size)}`);
  if (!isIntArray(stride) || stride.length !== size.length) return fail(`invalid stride ${JSON.stringify(stride)}`);
  const numel = size.reduce((a, b) => a * b, 1);
  if (st.bytes === DRY) return new TorchTensor(st.dtype, [...size], typedView(st.dtype, new ArrayBuffer(0)));
  const b = DTYPE_SIZE[st.dtype];
  let out = new Uint8Array(0);
  if (numel > 0) {
    let last = offset;
    for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
    if (last >= st.numel || stride.some((s) => s < 0)) {
      fail(
        `tensor of size [${size.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} ` +
          `exceeds its storage '${st.key}' of ${st.numel} elements`,
      );
    }
    out = new Uint8Array(numel * b);
    copyStrided(st.bytes, out, b, offset, size, stride);
    if (ctx.bigEndian === LITTLE_ENDIAN_HOST && b > 1) swapBytes(out, b);
  }
  let data = typedView(st.dtype, out.buffer);
  let dtype = st.dtype;
  if (ctx.toFloat32) {
    if (dtype === 'float16') data = float16ToFloat32(data as Uint16Array);
    else if (dtype === 'bfloat16') data = bfloat16ToFloat32(data as Uint16Array);
    else if (dtype === 'float64') data = Float32Array.from(data as Float64Array);
    if (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64') dtype = 'float32';
  }
  return new TorchTensor(dtype, [...size], data, st.dtype);
}

/** Gathers a strided view of `src` (element size `b`) into contiguous `out`. */
function copyStrided(src: Uint8Array, out: Uint8Array, b: number, offset: number, size: number[], stride: number[]): void {
  const rank = size.length;
  // Contiguous (row-major) view: one copy.
  let contiguous = true;
  for (let d = rank - 1, expect = 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= size[d]!;
  }
  if (contiguous) {
    out.set(src.subarray(offset * b, offset * b + out.length));
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const inner = size[rank - 1]!;
  const innerStride = stride[rank - 1]! * b;
  let base = offset;
  let o = 0;
  for (;;) {
    let s = base * b;
    for (let i = 0; i < inner; i++, s += innerStride) {
      for (let k = 0; k < b; k++) out[o++] = src[s + k]!;
    }
    // Advance the outer multi-index (all but the last dimension).
    let d = rank - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < size[d]!) break;
      base -= stride[d]! * size[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

function swapBytes(bytes: Uint8Array, b: number): void {
  for (let i = 0; i < bytes.length; i += b) {
    for (let lo = i, hi = i + b - 1; lo < hi; lo++, hi--) {
      const t = bytes[lo]!;
      bytes[lo] = bytes[hi]!;
      bytes[hi] = t;
    }
  }
}

function makeGlobals(ctx: Context): (module: string, name: string) => PickleGlobal | undefined {
  const tensorTypes = new Set(['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter', 'torch.nn.Parameter']);
  const marker = (fullName: string): PickleGlobal => ({ fullName });
  const rebuild = (fullName: string): PickleGlobal => ({ fullName, call: (args) => rebuildTensor(ctx, fullName, args) });
  const asTensor = (fullName: string, v: unknown): TorchTensor => {
    if (v instanceof TorchTensor) return v;
    throw new TorchFileError(ctx.file, `${fullName}: its first argument is not a tensor`);
  };
  const parameter = (fullName: string): PickleGlobal => ({ fullName, call: (args) => asTensor(fullName, args[0]) });
  const newDict = (fullName: string): PickleGlobal => ({
    fullName,
    call: (args) => dictFrom(ctx.file, fullName, args),
    create: () => new Map(),
  });
  return (module, name) => {
    const fullName = `${module}.${name}`;
    switch (fullName) {
      case 'collections.OrderedDict':
        return newDict(fullName);
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return rebuild(fullName);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return parameter(fullName);
      case 'torch._tensor._rebuild_from_type_v2':
        // (func, new_type, args, state): a plain Tensor/Parameter rebuilt by an allowed func;
        // the state (Python attributes) is dropped.
        return {
          fullName,
          call: ([func, type, args, state]) => {
            const t = type as PickleGlobal | undefined;
            if (!t || !tensorTypes.has(t.fullName)) {
              throw new TorchFileError(ctx.file, `${fullName}: unsupported tensor subclass '${t?.fullName ?? String(type)}'`);
            }
            // `state` holds the tensor's Python attributes: not needed for its data.
            void state;
            const f = func as PickleGlobal | undefined;
            if (!f?.call || !Array.isArray(args)) throw new TorchFileError(ctx.file, `${fullName}: invalid arguments`);
            return asTensor(fullName, f.call(args));
          },
        };
      case '_codecs.encode': // protocol-2 pickles of `bytes`: _codecs.encode(str, 'latin1')
        return {
          fullName,
          call: ([s, enc]) => {
            if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) {
              throw new TorchFileError(ctx.file, `${fullName}: only latin1 encoding of a string is supported`);
            }
            return Uint8Array.from(s, (c) => c.charCodeAt(0));
          },
        };
      case '__builtin__.bytes':
      case 'builtins.bytes':
      case '__builtin__.bytearray':
      case 'builtins.bytearray':
        return { fullName, call: (args) => bytesFrom(ctx.file, fullName, args) };
    }
    if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(STORAGE_DTYPES[name]!, fullName);
    if (tensorTypes.has(fullName)) return marker(fullName);
    if (module === 'torch' && name.endsWith('Storage')) {
      throw new TorchFileError(ctx.file, `unsupported tensor storage type '${fullName}' (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`);
    }
    return undefined;
  };
}

function dictFrom(file: string, fullName: string, args: unknown[]): Map<unknown, unknown> {
  const d = new Map<unknown, unknown>();
  if (args.length === 0) return d;
  const items = args[0];
  if (args.length === 1 && Array.isArray(items) && items.every((p) => Array.isArray(p) && p.length === 2)) {
    for (const [k, v] of items as unknown[][]) d.set(k, v);
    return d;
  }
  if (args.length === 1 && items instanceof Map) return new Map(items);
  throw new TorchFileError(file, `${fullName}: unsupported constructor arguments`);
}

function bytesFrom(file: string, fullName: string, args: unknown[]): Uint8Array {
  if (args.length === 0) return new Uint8Array(0);
  if (args[0] instanceof Uint8Array) return args[0].slice();
  if (Array.isArray(args[0]) && args[0].every((x) => typeof x === 'number')) return Uint8Array.from(args[0] as number[]);
  throw new TorchFileError(file, `${fullName}: unsupported constructor arguments`);
}

function persistentLoader(ctx: Context): (pid: unknown) => StorageRef {
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new TorchFileError(ctx.file, `unsupported persistent id ${describeShort(pid)} (expected a ('storage', ...) tuple)`);
    }
    // ('storage', type, key, location, numel[, view_metadata]): the legacy
    // format's view_metadata (view_key, offset, view_numel) selects a slice.
    const [, type, key, , numel, view] = pid as unknown[];
    if (!(type instanceof StorageType)) {
      throw new TorchFileError(ctx.file, `persistent id with storage type ${describeShort(type)} that is not a torch storage class`);
    }
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) {
      throw new TorchFileError(ctx.file, `invalid storage persistent id ${describeShort(pid)}`);
    }
    if (view !== undefined && view !== null && !(Array.isArray(view) && view.length === 3 && typeof view[0] === 'string' && isIntArray(view.slice(1)))) {
      throw new TorchFileError(ctx.file, `invalid storage view in persistent id ${describeShort(pid)}`);
    }
    let root = ctx.storages.get(key);
    if (!root) {
      ctx.storageTypes.set(key, type);
      const bytes = ctx.storageBytes(key, type, numel);
      root = new StorageRef(type.dtype, key, numel, bytes ?? DRY);
      ctx.storages.set(key, root);
    }
    if (!Array.isArray(view)) return root;
    const [viewKey, offset, viewNumel] = view as [string, number, number];
    let ref = ctx.storages.get(viewKey);
    if (!ref) {
      if (offset < 0 || viewNumel < 0 || offset + viewNumel > root.numel) {
        throw new TorchFileError(ctx.file, `storage view '${viewKey}' (${offset}+${viewNumel}) exceeds storage '${key}' of ${root.numel} elements`);
      }
      const b = DTYPE_SIZE[type.dtype];
      ref = new StorageRef(type.dtype, viewKey, viewNumel, root.bytes === DRY ? DRY : root.bytes.subarray(offset * b, (offset + viewNumel) * b));
      ctx.storages.set(viewKey, ref);
    }
    return ref;
  };
}

function describeShort(v: unknown): string {
  if (v instanceof StorageType) return v.fullName;
  if (v && typeof v === 'object' && 'fullName' in v) return `'${String((v as PickleGlobal).fullName)}'`;
  if (Array.isArray(v)) return `(${v.map(describeShort).join(', ')})`;
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}

function describeValue(v: unknown): string {
  if (v instanceof TorchTensor) return `tensor ${v.storedDtype}[${v.shape.join(', ')}]`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (v instanceof PickleOpaque) return `object '${v.global}'`;
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v === null) return 'None';
  return typeof v;
}

/**
 * Reads a file written by `torch.save` (the zip format of PyTorch >= 1.6, or
 * the legacy format before it) into
 * plain values: tensors become {@link TorchTensor}s with their elements
 * copied out in row-major order (any strides, offsets and shared storages of
 * the saved views resolved), dicts become `Map`s.
 *
 * Only tensors, storages, `OrderedDict`, `nn.Parameter` and plain Python
 * values are accepted; any other pickled class or function is refused (see
 * {@link TorchReadOptions.unknownGlobals}) and nothing in the file is ever
 * executed.
 *
 * @param bytes - the file's contents
 * @param options - see {@link TorchReadOptions}
 * @returns the saved object (a `Map` for a state dict or checkpoint)
 * @throws {@link TorchFileError} when the file is truncated, corrupt, or
 *   holds something other than tensors and plain values
 */
export function readTorchFile(bytes: Uint8Array | ArrayBuffer, options: TorchReadOptions = {}): TorchValue {
  const file = options.fileName ?? '<bytes>';
  const toFloat32 = options.toFloat32 ?? false;
  const verify = options.verifyChecksums ?? true;
  const unknownGlobals = options.unknownGlobals ?? 'error';
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    throw new TypeError(`'bytes' passed to 'readTorchFile' must be a Uint8Array or an ArrayBuffer, got ${describeValue(bytes)}`);
  }
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ctx: Context = {
    file,
    bigEndian: false,
    toFloat32,
    storageBytes: () => undefined,
    storages: new Map(),
    storageTypes: new Map(),
  };
  const unpickleOptions = (entry: string): UnpickleOptions => ({
    file,
    entry,
    resolveGlobal: makeGlobals(ctx),
    persistentLoad: persistentLoader(ctx),
    unknownGlobals,
  });
  if (!isZip(u8)) {
    if (u8.length >= 2 && u8[0] === 0x80 && u8[1]! <= 5) return readLegacy(u8, ctx, unpickleOptions);
    if (u8.length >= 262 && latinAt(u8, 257, 5) === 'ustar') {
      throw new TorchFileError(file, 'this is the tar-based torch.save format of PyTorch < 0.4, which is not supported: re-save it with PyTorch >= 1.6');
    }
    throw new TorchFileError(file, `not a PyTorch zip archive (it does not start with 'PK\\x03\\x04'; ${u8.length} bytes)`);
  }
  const zip = readZip(u8, file);
  const pkl = [...zip.entries.keys()].find((k) => /^[^/]*\/data\.pkl$/.test(k)) ?? [...zip.entries.keys()].find((k) => k.endsWith('/data.pkl') || k === 'data.pkl');
  if (pkl === undefined) {
    throw new TorchFileError(file, `the zip archive has no 'data.pkl' entry, so it is not a torch.save file (entries: ${[...zip.entries.keys()].slice(0, 5).join(', ')})`);
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order) {
    const text = new TextDecoder().decode(zip.read(order.name, verify)).trim();
    if (text !== 'little' && text !== 'big') throw new TorchFileError(file, `unknown byteorder record '${text}'`);
    ctx.bigEndian = text === 'big';
  }
  ctx.storageBytes = (key, type, numel) => {
    const entry = `${prefix}data/${key}`;
    if (!zip.entries.has(entry)) {
      throw new TorchFileError(file, `storage '${key}' (${type.fullName}) has no entry '${entry}' in the zip archive`);
    }
    const data = zip.read(entry, verify);
    const need = numel * DTYPE_SIZE[type.dtype];
    if (data.length < need) {
      throw new TorchFileError(file, `storage entry '${entry}' has ${data.length} bytes, ${numel} ${type.dtype} elements need ${need}`);
    }
    return data;
  };
  return unpickle(zip.read(pkl, verify), unpickleOptions(pkl)) as TorchValue;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * The legacy (PyTorch < 1.6) format: five pickles in a row (magic number,
 * protocol version, system info, the object, the storage keys), then each
 * storage as an int64 element count and its little-endian bytes.
 */
function readLegacy(u8: Uint8Array, ctx: Context, unpickleOptions: (entry: string) => UnpickleOptions): TorchValue {
  const { file } = ctx;
  const plain = (entry: string): UnpickleOptions => ({ file, entry, resolveGlobal: () => undefined });
  const notTorch = (): never => {
    throw new TorchFileError(file, 'not a torch.save file: it is a pickle, but not one in the legacy torch.save format (no magic number)');
  };
  let r: { value: unknown; end: number };
  try {
    r = unpickleAt(u8, 0, plain('magic number'));
  } catch {
    return notTorch();
  }
  if (r.value !== LEGACY_MAGIC) return notTorch();
  r = unpickleAt(u8, r.end, plain('protocol version'));
  if (r.value !== 1001) throw new TorchFileError(file, `unsupported legacy torch.save protocol version ${String(r.value)}`);
  r = unpickleAt(u8, r.end, plain('system info'));
  const info = r.value;
  if (info instanceof Map && info.get('little_endian') === false) {
    throw new TorchFileError(file, 'legacy torch.save files written on big-endian machines are not supported');
  }
  const objectStart = r.end;
  // First pass (dry): find where the object pickle ends and the storages' types.
  r = unpickleAt(u8, objectStart, unpickleOptions('legacy object pickle'));
  r = unpickleAt(u8, r.end, plain('storage keys'));
  const keys = r.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new TorchFileError(file, 'legacy storage key list is corrupt');
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = r.end;
  for (const key of keys as string[]) {
    const type = ctx.storageTypes.get(key);
    if (!type) throw new TorchFileError(file, `legacy storage '${key}' is not referenced by any tensor`);
    if (pos + 8 > u8.length) throw new TorchFileError(file, `the file is truncated (storage '${key}' at offset ${pos} is missing)`);
    const numel = Number(view.getBigInt64(pos, true));
    const length = numel * DTYPE_SIZE[type.dtype];
    if (numel < 0 || pos + 8 + length > u8.length) {
      throw new TorchFileError(file, `the file is truncated (storage '${key}' needs ${length} bytes at offset ${pos + 8}, the file has ${u8.length})`);
    }
    data.set(key, u8.subarray(pos + 8, pos + 8 + length));
    pos += 8 + length;
  }
  // Second pass, with the storages' bytes.
  ctx.storages.clear();
  ctx.storageBytes = (key, type, numel) => {
    const bytes = data.get(key);
    if (!bytes) throw new TorchFileError(file, `storage '${key}' (${type.fullName}) is missing from the legacy file`);
    if (bytes.length < numel * DTYPE_SIZE[type.dtype]) {
      throw new TorchFileError(file, `legacy storage '${key}' has ${bytes.length / DTYPE_SIZE[type.dtype]} elements, its tensor says ${numel}`);
    }
    return bytes;
  };
  return unpickleAt(u8, objectStart, unpickleOptions('legacy object pickle')).value as TorchValue;
}

function latinAt(b: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...b.subarray(at, at + len));
}

/** Key paths (string keys only, at most `depth` deep) of nested dicts that are state dicts. */
function findStateDicts(v: Map<unknown, unknown>, path: string[], depth: number): string[][] {
  const found: string[][] = [];
  if (depth === 0) return found;
  for (const [k, x] of v) {
    if (typeof k !== 'string' || !(x instanceof Map) || x.size === 0) continue;
    if ([...x].every(([kk, t]) => typeof kk === 'string' && t instanceof TorchTensor)) found.push([...path, k]);
    else found.push(...findStateDicts(x, [...path, k], depth - 1));
  }
  return found;
}

/**
 * Reads a PyTorch `state_dict` file (`torch.save(model.state_dict(), path)`,
 * zip format of PyTorch >= 1.6 or the legacy format) into a map from parameter names to tensors, in
 * file order. Works in browsers and Node (see {@link loadTorchStateDict} to
 * read a path in Node).
 *
 * For a checkpoint that nests the state dict (`{'model': state_dict, 'step': 10}`)
 * pass {@link TorchStateDictOptions.key}; names prefixed by DataParallel's
 * `module.` are stripped by default.
 *
 * @example
 * ```ts
 * const sd = readTorchStateDict(bytes, { key: 'model', toFloat32: true });
 * const w = sd.get('conv.weight'); // { dtype: 'float32', shape: [4, 3, 3, 3], data: Float32Array }
 * ```
 *
 * @param bytes - the file's contents
 * @param options - see {@link TorchStateDictOptions}
 * @returns parameter and buffer names to tensors
 * @throws {@link TorchFileError} when the file cannot be read, `key` is
 *   missing, or the selected object is not a dict of tensors (the message
 *   lists the keys of a checkpoint that hold state dicts)
 */
export function readTorchStateDict(bytes: Uint8Array | ArrayBuffer, options: TorchStateDictOptions = {}): TorchStateDict {
  const file = options.fileName ?? '<bytes>';
  const stripPrefix = options.stripPrefix ?? 'module.';
  const path = options.key === undefined ? [] : typeof options.key === 'string' ? [options.key] : [...options.key];
  const root = readTorchFile(bytes, options);
  let value: unknown = root;
  const where = (i: number): string => (i === 0 ? 'the top-level object' : `key ${path.slice(0, i).map((k) => `'${k}'`).join(' → ')}`);
  for (let i = 0; i < path.length; i++) {
    if (!(value instanceof Map)) throw new TorchFileError(file, `${where(i)} is a ${describeValue(value)}, not a dict, so it has no key '${path[i]}'`);
    if (!value.has(path[i])) {
      const keys = [...value.keys()].map((k) => `'${String(k)}'`);
      throw new TorchFileError(file, `${where(i)} has no key '${path[i]}' (keys: ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', ...' : ''})`);
    }
    value = value.get(path[i]);
  }
  if (!(value instanceof Map)) throw new TorchFileError(file, `${where(path.length)} is a ${describeValue(value)}, not a state dict`);
  const out: TorchStateDict = new Map();
  const bad: string[] = [];
  for (const [k, v] of value) {
    if (typeof k !== 'string' || !(v instanceof TorchTensor)) bad.push(`'${String(k)}': ${describeValue(v)}`);
    else out.set(k, v);
  }
  if (bad.length > 0) {
    const candidates = findStateDicts(value, [], 3).map((p) => (p.length === 1 ? `'${p[0]}'` : `[${p.map((k) => `'${k}'`).join(', ')}]`));
    const hint = candidates.length > 0
      ? `; it looks like a checkpoint: pass the option key: ${candidates.join(' or ')}`
      : '';
    throw new TorchFileError(
      file,
      `${where(path.length)} is not a state dict: it holds values that are not tensors ` +
        `(${bad.slice(0, 5).join(', ')}${bad.length > 5 ? `, and ${bad.length - 5} more` : ''})${hint}`,
    );
  }
  if (stripPrefix !== false && stripPrefix !== '' && out.size > 0 && [...out.keys()].every((k) => k.startsWith(stripPrefix))) {
    return new Map([...out].map(([k, v]) => [k.slice(stripPrefix.length), v]));
  }
  return out;
}
