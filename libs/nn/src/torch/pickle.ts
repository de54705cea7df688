// A restricted unpickler: the subset of Python's pickle (protocols 0-5) that
// torch.save uses for state dicts and training checkpoints. It never executes
// anything: a GLOBAL resolves only through an allowlist supplied by the caller,
// and calling (REDUCE/NEWOBJ) is only possible on those allowlisted handlers.
import { TorchFileError } from './errors.js';

/** A dictionary key as it can appear in a pickled dict (tuples are compared by identity). */
export type PickleKey = string | number | bigint | boolean | null | object;

/**
 * What a pickled GLOBAL (`module.name`) resolves to. Handlers are plain
 * TypeScript: nothing from the pickle is ever executed.
 */
export interface PickleGlobal {
  /** `module.name`, for error messages. */
  readonly fullName: string;
  /** Called by REDUCE with the argument tuple; absent: the global is not callable. */
  readonly call?: (args: unknown[]) => unknown;
  /** Called by NEWOBJ (`cls.__new__(cls, *args)`); absent: not constructible. */
  readonly create?: (args: unknown[]) => unknown;
}

/**
 * An object built from a global that is not on the allowlist, when the
 * `unknownGlobals` option of `readTorchFile` is `'placeholder'`. Nothing was
 * called to make it; it only records the global's name.
 */
export class PickleOpaque {
  /**
   * @param global - the `module.name` of the global (or of the class it instantiates)
   */
  constructor(readonly global: string) {}
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Name of the file, for error messages. */
  file: string;
  /**
   * Name of the pickle inside the file (a zip entry), for error messages.
   * @defaultValue 'pickle'
   */
  entry?: string;
  /**
   * Resolves `module` + `name` of a GLOBAL/STACK_GLOBAL opcode to a handler,
   * or returns `undefined` for a global that is not allowed.
   */
  resolveGlobal: (module: string, name: string) => PickleGlobal | undefined;
  /**
   * Resolves a persistent id (BINPERSID/PERSID); absent: persistent ids are refused.
   */
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * What to do with a global that `resolveGlobal` does not allow: `'error'`
   * throws a {@link TorchFileError} naming it; `'placeholder'` pushes an inert
   * {@link PickleOpaque} (never called) so the rest of the file can be read.
   * @defaultValue 'error'
   */
  unknownGlobals?: 'error' | 'placeholder';
}

const decoder = new TextDecoder('utf-8');

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Converts a bigint to a number when it is exactly representable as a safe integer. */
function normInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's-complement integer of arbitrary length (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return normInt(v);
}

function opName(op: number): string {
  return op >= 0x20 && op < 0x7f ? `0x${op.toString(16).padStart(2, '0')} ('${String.fromCharCode(op)}')` : `0x${op.toString(16).padStart(2, '0')}`;
}

/**
 * Unpickles bytes written by Python's `pickle` (protocols 0-5, without
 * out-of-band buffers), with every GLOBAL resolved through
 * {@link UnpickleOptions.resolveGlobal}.
 *
 * Python values map to: `None` → `null`, `bool` → `boolean`, `int` → `number`
 * (or `bigint` beyond ±2^53-1), `float` → `number`, `str` → `string`,
 * `bytes` → `Uint8Array`, `list` and `tuple` → arrays, `dict` → `Map`.
 *
 * @param data - the pickle bytes
 * @param options - global resolution, persistent ids, file name for errors
 * @returns the unpickled value
 * @throws {@link TorchFileError} on truncated data, an unsupported opcode
 *   (with its byte value and offset) or a global that is not allowed
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  return unpickleAt(data, 0, options).value;
}

/**
 * Unpickles one pickle that starts at `offset` of `data` (several pickles can
 * follow each other, as in the legacy torch.save format), like {@link unpickle}.
 *
 * @param data - bytes holding the pickle
 * @param offset - where the pickle starts
 * @param options - global resolution, persistent ids, file name for errors
 * @returns the value and the offset just after the pickle's STOP opcode
 * @throws {@link TorchFileError} as {@link unpickle}
 */
export function unpickleAt(data: Uint8Array, offset: number, options: UnpickleOptions): { value: unknown; end: number } {
  const { file, resolveGlobal, persistentLoad } = options;
  const unknownGlobals = options.unknownGlobals ?? 'error';
  const entryName = options.entry === undefined ? 'the pickle' : `'${options.entry}'`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.length;
  let pos = offset;
  let opPos = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail: (problem: string) => never = (problem) => {
    throw new TorchFileError(file, `${problem} (at offset ${opPos} of ${entryName})`);
  };
  const need = (k: number): void => {
    if (pos + k > n) fail(`the pickle is truncated (needs ${k} more bytes at offset ${pos}, has ${n - pos})`);
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const b = data.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const u8 = (): number => { need(1); return data[pos++]!; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a length of ${v} bytes is too large`);
    return Number(v);
  };
  const rawLine = (): Uint8Array => {
    let end = pos;
    while (end < n && data[end] !== 0x0a) end++;
    if (end >= n) fail('the pickle is truncated (unterminated text line)');
    const b = data.subarray(pos, end);
    pos = end + 1;
    return b;
  };
  const line = (): string => {
    const s = decoder.decode(rawLine());
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('the pickle is corrupt (stack underflow)');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('the pickle is corrupt (stack underflow)');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('the pickle is corrupt (no MARK)');
    stack = prev as unknown[];
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`the pickle is corrupt (memo key ${i} is not set)`);
    return memo.get(i);
  };
  const global = (module: string, name: string): unknown => {
    const g = resolveGlobal(module, name);
    if (g) return g;
    if (unknownGlobals === 'placeholder') {
      const fullName = `${module}.${name}`;
      return { fullName, call: () => new PickleOpaque(fullName), create: () => new PickleOpaque(fullName) } satisfies PickleGlobal;
    }
    return fail(
      `unsupported pickled global '${module}.${name}': only tensors, storages and plain containers ` +
        `(a state_dict or a checkpoint dict) can be read, and nothing in the file is ever executed` +
        (module.startsWith('__torch__') ? '; TorchScript archives (torch.jit.save) are not supported, save model.state_dict() with torch.save' : ''),
    );
  };
  const asGlobal = (f: unknown, what: string): PickleGlobal => {
    if (typeof f === 'object' && f !== null && 'fullName' in f) return f as PickleGlobal;
    return fail(`${what} applied to a value that is not a pickled global`);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) return fail('SETITEM(S) applied to a value that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) return fail('APPEND(S) applied to a value that is not a list');
    for (const x of items) list.push(x);
  };

  for (;;) {
    opPos = pos;
    if (pos >= n) fail('the pickle is truncated (no STOP opcode)');
    const op = data[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail(`unsupported pickle protocol ${data[pos - 1]}`);
        break;
      case 0x95: // FRAME (framing is only a hint for buffered readers)
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0) popMark();
        else stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: { // LONG4
        need(4);
        const k = view.getInt32(pos, true);
        pos += 4;
        if (k < 0) fail('LONG4 with a negative length');
        stack.push(decodeLong(take(k)));
        break;
      }
      case 0x49: { // INT (text; protocol 0 also spells booleans I00/I01)
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else if (/^[-+]?\d+$/.test(s)) stack.push(normInt(BigInt(s)));
        else fail(`INT with invalid text '${s}'`);
        break;
      }
      case 0x4c: { // LONG (text)
        const s = line().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`LONG with invalid text '${s}'`);
        stack.push(normInt(BigInt(s)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: { // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) fail(`FLOAT with invalid text '${s}'`);
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(decoder.decode(take(u32())));
        break;
      case 0x56: // UNICODE (protocol 0: raw-unicode-escape text)
        stack.push(
          latin1(rawLine()).replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u: string | undefined, w: string | undefined) =>
            String.fromCodePoint(parseInt(u ?? w ?? '0', 16)),
          ),
        );
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(decoder.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(decoder.decode(take(u64())));
        break;
      case 0x54: { // BINSTRING (Python 2 str; read as latin-1 text)
        need(4);
        const k = view.getInt32(pos, true);
        pos += 4;
        if (k < 0) fail('BINSTRING with a negative length');
        stack.push(latin1(take(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: { // LIST
        const items = popMark(); // (popMark replaces `stack`: read it first)
        stack.push(items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: { // TUPLE
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: { // PUT (text)
        const s = line();
        if (!/^\d+$/.test(s)) fail(`PUT with invalid text '${s}'`);
        memo.set(Number(s), top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: { // GET (text)
        const s = line();
        if (!/^\d+$/.test(s)) fail(`GET with invalid text '${s}'`);
        stack.push(memoGet(Number(s)));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with non-string module or name');
        stack.push(global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const g = asGlobal(pop(), 'REDUCE');
        if (!Array.isArray(args)) fail(`REDUCE of '${g.fullName}' with arguments that are not a tuple`);
        if (!g.call) fail(`'${g.fullName}' cannot be called (REDUCE) in a state_dict file`);
        stack.push(g.call(args as unknown[]));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const g = asGlobal(pop(), 'NEWOBJ');
        if (!Array.isArray(args)) fail(`NEWOBJ of '${g.fullName}' with arguments that are not a tuple`);
        if (!g.create) fail(`'${g.fullName}' cannot be instantiated (NEWOBJ) in a state_dict file`);
        stack.push(g.create(args as unknown[]));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const g = asGlobal(pop(), 'NEWOBJ_EX');
        if (!Array.isArray(args) || !(kwargs instanceof Map) || kwargs.size > 0) {
          fail(`NEWOBJ_EX of '${g.fullName}' with keyword arguments is not supported`);
        }
        if (!g.create) fail(`'${g.fullName}' cannot be instantiated (NEWOBJ_EX) in a state_dict file`);
        stack.push(g.create(args as unknown[]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        // Attributes on a dict (OrderedDict's `_metadata` in a state_dict) are
        // not needed; opaque placeholders ignore their state too.
        if (obj instanceof Map || obj instanceof PickleOpaque) break;
        void state;
        fail('BUILD (setting object state) on a value that is not a dict');
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!persistentLoad) fail('persistent ids (BINPERSID) are not allowed here');
        stack.push(persistentLoad(pid));
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (!persistentLoad) fail('persistent ids (PERSID) are not allowed here');
        stack.push(persistentLoad(pid));
        break;
      }
      default:
        fail(`unsupported pickle opcode ${opName(op)}`);
    }
  }
}
