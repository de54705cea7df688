/** Atomic file writes (internal): temp file in the same folder, then rename. */

/** Writes `data` to `file` atomically, creating the parent folder. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
