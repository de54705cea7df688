/**
 * Memory guard for the wasm backend, whose heap stops at about 3.84 GiB:
 * past that, allocations do not fail cleanly and tensors can be silently
 * corrupted, so work that would not fit is refused up front.
 */
import * as tf from '@tensorflow/tfjs';
import { clearWebGPUDeviceError, webgpuDeviceError, webgpuMemory } from './webgpu.js';

/** Usable bytes of the wasm heap (WebAssembly's 4 GiB minus what the runtime reserves). */
export const WASM_HEAP_LIMIT_BYTES = Math.floor(3.84 * 1024 ** 3);

/** Thrown when a planned computation would not fit in the backend's memory. */
export class MemoryBudgetError extends Error {
  /** @param message - what would not fit and what to reduce. */
  constructor(message: string) {
    super(message);
    this.name = 'MemoryBudgetError';
  }
}

/** Options of {@link assertFitsMemory}. */
export interface MemoryBudgetOptions {
  /**
   * Fraction of the heap the computation may plan to use (the rest is
   * headroom for fragmentation and tensors already alive).
   * @defaultValue 0.8
   */
  fraction?: number;
  /**
   * Advice appended to the error, e.g. "reduce --batch-size".
   * @defaultValue 'reduce the batch size or the image size'
   */
  hint?: string;
}

/**
 * Throws a {@link MemoryBudgetError} when `estimatedBytes` more bytes would
 * not fit in the wasm heap next to what is already allocated. On the webgpu
 * backend, whose device memory WebGPU does not report, it throws when the
 * GPU has reported running out of memory (or another error, or losing the
 * device) since the last check, with the GPU memory in use: WebGPU reports that after the fact,
 * and results computed since are invalid. Does nothing on other backends
 * (their memory is the machine's).
 *
 * @param estimatedBytes - peak additional bytes the computation will allocate.
 * @param what - what is being planned, for the message (e.g. "training step of batch 8 at 256x256").
 */
export function assertFitsMemory(estimatedBytes: number, what: string, options: MemoryBudgetOptions = {}): void {
  if (!Number.isFinite(estimatedBytes) || estimatedBytes < 0) {
    throw new RangeError(`'estimatedBytes' passed to 'assertFitsMemory' must be a non-negative number, got ${estimatedBytes}`);
  }
  if (tf.getBackend() === 'webgpu') return assertWebGPUHealthy(what, options.hint ?? 'reduce the batch size or the image size');
  if (tf.getBackend() !== 'wasm') return;
  const fraction = options.fraction ?? 0.8;
  const hint = options.hint ?? 'reduce the batch size or the image size';
  const inUse = tf.memory().numBytes;
  const budget = WASM_HEAP_LIMIT_BYTES * fraction;
  if (inUse + estimatedBytes > budget) {
    const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
    throw new MemoryBudgetError(
      `${what} needs about ${gib(estimatedBytes)} GiB on top of ${gib(inUse)} GiB in use, ` +
        `more than the wasm backend can hold safely (${gib(budget)} GiB of its ${gib(WASM_HEAP_LIMIT_BYTES)} GiB heap); ${hint}, ` +
        'or install @tensorflow/tfjs-node(-gpu)',
    );
  }
}

function assertWebGPUHealthy(what: string, hint: string): void {
  const error = webgpuDeviceError();
  if (!error) return;
  clearWebGPUDeviceError();
  const m = webgpuMemory();
  const gib = (b: number) => (b / 1024 ** 3).toFixed(2);
  const held = m ? ` (tensors held ${gib(m.tensorBytes)} GiB, the backend's buffers ${gib(m.allocatedBytes)} GiB)` : '';
  const what2 = error.kind === 'out-of-memory' ? 'ran out of memory' : error.kind === 'lost' ? 'was lost' : 'reported an error';
  throw new MemoryBudgetError(
    `the GPU ${what2} before ${what}${held}: ${error.message}; results since then are invalid; ${hint}, or use another backend`,
  );
}

/**
 * The current size of the wasm heap in bytes, or null on other backends.
 * The heap only grows, so this is the high-water mark of everything the wasm
 * backend has held in this process: tensors, the backend's own buffers
 * (XNNPACK's prepared weights), and the allocator's fragmentation.
 */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? heap.buffer.byteLength : null;
}

/** What {@link trackPeakMemory} measured, in bytes of distinct tensor buffers (a buffer shared by several tensors counts once). */
export interface PeakMemory {
  /** Held when the computation started. */
  startBytes: number;
  /** The most held at any moment during it. */
  peakBytes: number;
  /** Held when it returned. */
  endBytes: number;
}

/** tfjs's engine record of tensor buffers: one entry per buffer (its `bytes`), added and removed as buffers come and go. */
interface BufferRecord {
  set(key: object, value: { bytes: number }): unknown;
  delete(key: object): boolean;
  has(key: object): boolean;
  get(key: object): { bytes: number } | undefined;
}

/**
 * Runs `fn` and measures the high-water mark of tensor memory during it, on
 * any backend: the bytes of distinct tensor buffers (tf.memory().numBytes
 * counts a buffer again for each tensor that shares it, e.g. each reshape or
 * each tensor saved for a gradient), followed through tfjs's engine record
 * of buffers (tfjs-core 4). Nested calls each measure their own span.
 *
 * @param fn - the computation (synchronous).
 * @returns `fn`'s result and the measured {@link PeakMemory}.
 */
export function trackPeakMemory<T>(fn: () => T): { result: T } & PeakMemory {
  if (typeof fn !== 'function') throw new TypeError(`'fn' passed to 'trackPeakMemory' must be a function`);
  const record = (tf.engine().state as unknown as { tensorInfo?: BufferRecord }).tensorInfo;
  const startBytes = tf.memory().numBytes;
  if (!record || typeof record.set !== 'function' || typeof record.delete !== 'function') {
    // Not the engine this was written for: numBytes before and after only.
    const result = fn();
    const endBytes = tf.memory().numBytes;
    return { result, startBytes, peakBytes: Math.max(startBytes, endBytes), endBytes };
  }
  // Distinct buffers held at the start are not enumerable; count from the
  // numBytes baseline (equal unless buffers are shared at that moment).
  let current = startBytes;
  let peakBytes = startBytes;
  const own = Object.prototype.hasOwnProperty;
  const hadSet = own.call(record, 'set');
  const hadDelete = own.call(record, 'delete');
  const prevSet = record.set;
  const prevDelete = record.delete;
  record.set = function (key, value) {
    if (!record.has(key)) {
      current += value.bytes;
      if (current > peakBytes) peakBytes = current;
    }
    return prevSet.call(this, key, value);
  };
  record.delete = function (key) {
    const v = record.get(key);
    if (v) current -= v.bytes;
    return prevDelete.call(this, key);
  };
  try {
    const result = fn();
    return { result, startBytes, peakBytes, endBytes: current };
  } finally {
    if (hadSet) record.set = prevSet;
    else delete (record as Partial<BufferRecord>).set;
    if (hadDelete) record.delete = prevDelete;
    else delete (record as Partial<BufferRecord>).delete;
  }
}
