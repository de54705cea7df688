/**
 * Atomic file output: write to a temporary file in the same folder, then
 * rename, so that a crash or Ctrl-C never leaves a half-written output.
 */
import fs from 'node:fs';
import path from 'node:path';

let counter = 0;

/** A temporary path beside `target` (same folder, so rename is atomic). */
export function tempPathFor(target: string): string {
  counter++;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${counter}`);
}

/** Writes `data` to `target` atomically, creating the folder if needed. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Asynchronous {@link writeFileAtomicSync}. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Appends a line to a text file (creating it with `header` first when new). */
export function appendLine(file: string, line: string, header?: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (header !== undefined && !fs.existsSync(file)) fs.writeFileSync(file, `${header}\n`);
  fs.appendFileSync(file, `${line}\n`);
}
