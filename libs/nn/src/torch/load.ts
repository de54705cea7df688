// Node-only loaders. node:fs is imported dynamically so that importing
// @tumorcast/nn in a browser bundle never pulls it in.
import { TorchFileError } from './errors.js';
import { readTorchFile, readTorchStateDict } from './read.js';
import type { TorchReadOptions, TorchStateDict, TorchStateDictOptions, TorchValue } from './read.js';

async function readBytes(path: string, fn: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`'path' passed to '${fn}' must be a non-empty string`);
  }
  const fs = await import('node:fs/promises');
  try {
    // Read in chunks into one buffer: fs.readFile refuses files over 2 GiB.
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const bytes = new Uint8Array(size);
      let pos = 0;
      while (pos < size) {
        const { bytesRead } = await handle.read(bytes, pos, Math.min(CHUNK, size - pos), pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
      }
      return pos === size ? bytes : bytes.subarray(0, pos);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new TorchFileError(path, `the file cannot be read (${(err as Error).message})`, { cause: err });
  }
}

const CHUNK = 1 << 28;

/**
 * Reads a PyTorch `state_dict` file from disk (Node only; in a browser use
 * {@link readTorchStateDict} on the file's bytes).
 *
 * @example
 * ```ts
 * const sd = await loadTorchStateDict('checkpoint.pt', { key: 'model', toFloat32: true });
 * ```
 *
 * @param path - path of a `.pt`/`.pth` file written by `torch.save`
 * @param options - see {@link TorchStateDictOptions}; `fileName` defaults to `path`
 * @returns parameter and buffer names to tensors, in file order
 * @throws {@link TorchFileError} when the file cannot be read or is not a state dict
 */
export async function loadTorchStateDict(path: string, options: TorchStateDictOptions = {}): Promise<TorchStateDict> {
  const bytes = await readBytes(path, 'loadTorchStateDict');
  return readTorchStateDict(bytes, { ...options, fileName: options.fileName ?? path });
}

/**
 * Reads any file written by `torch.save` from disk, e.g. a
 * whole training checkpoint (Node only; in a browser use {@link readTorchFile}).
 *
 * @param path - path of the file
 * @param options - see {@link TorchReadOptions}; `fileName` defaults to `path`
 * @returns the saved object, tensors as `TorchTensor`s and dicts as `Map`s
 * @throws {@link TorchFileError} when the file cannot be read
 */
export async function loadTorchFile(path: string, options: TorchReadOptions = {}): Promise<TorchValue> {
  const bytes = await readBytes(path, 'loadTorchFile');
  return readTorchFile(bytes, { ...options, fileName: options.fileName ?? path });
}
