/**
 * Memory guard for the wasm backend, whose heap stops at about 3.84 GiB:
 * past that, allocations do not fail cleanly and tensors can be silently
 * corrupted, so work that would not fit is refused up front.
 */
import * as tf from '@tensorflow/tfjs';

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
 * not fit in the wasm heap next to what is already allocated. Does nothing on
 * other backends (their memory is the machine's or the GPU's).
 *
 * @param estimatedBytes - peak additional bytes the computation will allocate.
 * @param what - what is being planned, for the message (e.g. "training step of batch 8 at 256x256").
 */
export function assertFitsMemory(estimatedBytes: number, what: string, options: MemoryBudgetOptions = {}): void {
  if (!Number.isFinite(estimatedBytes) || estimatedBytes < 0) {
    throw new RangeError(`'estimatedBytes' passed to 'assertFitsMemory' must be a non-negative number, got ${estimatedBytes}`);
  }
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
