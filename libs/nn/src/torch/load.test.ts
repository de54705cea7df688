import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TorchFileError } from './errors.js';
import { loadTorchFile, loadTorchStateDict } from './load.js';
import { readTorchStateDict } from './read.js';

const dir = fileURLToPath(new URL('../../test/fixtures/torch/', import.meta.url));

describe('loadTorchStateDict / loadTorchFile (Node)', () => {
  it('reads a file from disk like readTorchStateDict', async () => {
    const sd = await loadTorchStateDict(dir + 'dataparallel.pt', { toFloat32: true });
    const direct = readTorchStateDict(readFileSync(dir + 'dataparallel.pt'), { toFloat32: true });
    expect([...sd.keys()]).toEqual([...direct.keys()]);
    expect(sd.get('conv.weight')).toEqual(direct.get('conv.weight'));
    const ckpt = await loadTorchFile(dir + 'checkpoint.pt');
    expect((ckpt as Map<string, unknown>).get('step')).toBe(10);
  });

  it('names the path in its errors', async () => {
    await expect(loadTorchStateDict(dir + 'truncated.pt')).rejects.toThrow(new RegExp(`'${dir}truncated\\.pt'.*truncated`));
    await expect(loadTorchStateDict(dir + 'checkpoint.pt', { key: 'nope' })).rejects.toThrow(/checkpoint\.pt'.*no key 'nope'/);
    const missing = dir + 'does-not-exist.pt';
    await expect(loadTorchStateDict(missing)).rejects.toThrow(TorchFileError);
    await expect(loadTorchStateDict(missing)).rejects.toThrow(/does-not-exist\.pt'.*cannot be read.*ENOENT/);
    await expect(loadTorchFile('')).rejects.toThrow(/'path' passed to 'loadTorchFile' must be a non-empty string/);
  });
});
