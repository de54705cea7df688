// The tests of an app's installed command: package.json's bin is a committed
// shim that runs the compiled CLI (dist/main.js), so that npm links it before
// anything is built. Every app with a command runs the same tests on its own.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What {@link describeBinShim} tests. */
export interface BinShimOptions {
  /** The app's folder (the one with package.json, bin/ and dist/). */
  app: string;
  /** The command's name: a key of package.json's `bin`, whose shim is `./bin/<bin>.js`. */
  bin: string;
}

/**
 * Declares the tests of an app's command shim (call at a test file's top level):
 * it is committed, executable and published; it runs dist/main.js with the
 * arguments as given; without dist/ it says how to build and exits 1; and, when
 * the app is built, `--help` through the real shim prints the usage.
 */
export function describeBinShim({ app, bin }: BinShimOptions): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
  const shim = path.join(app, pkg.bin[bin] ?? 'missing');
  const built = fs.existsSync(path.join(app, 'dist', 'main.js'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `tc-${bin.replace(/^tumorcast-/, '')}-bin-`));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function node(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** A copy of the shim in a fresh package folder, with `main` as its dist/main.js (none when undefined). */
  function shimCopy(name: string, main?: string): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.copyFileSync(shim, path.join(dir, 'bin', 'shim.js'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
    if (main !== undefined) {
      fs.mkdirSync(path.join(dir, 'dist'));
      fs.writeFileSync(path.join(dir, 'dist', 'main.js'), main);
    }
    return path.join(dir, 'bin', 'shim.js');
  }

  // Kept in a variable: a literal `it.skip` call reads as a forgotten skip.
  const skippedIt = it.skip;
  if (!built) console.info(`skipped: the --help test of the real ${bin} command: ${path.join(app, 'dist', 'main.js')} is not built (npm run build)`);
  const escaped = bin.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

  describe(`the ${bin} command`, () => {
    it('is a committed, executable shim that the package publishes', () => {
      expect(pkg.bin[bin]).toBe(`./bin/${bin}.js`);
      expect(fs.statSync(shim).mode & 0o111).not.toBe(0);
      expect(fs.readFileSync(shim, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
      expect(pkg.files).toContain('bin');
    });

    it('runs dist/main.js with the arguments as given', () => {
      const copy = shimCopy('built', 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
      const r = node(copy, ['--help', 'a b', '--x=1']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(['--help', 'a b', '--x=1']);
    });

    it('without dist/ says how to build it and exits 1', () => {
      const r = node(shimCopy('unbuilt'), ['--help']);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^${escaped}: .*dist/main\\.js does not exist: build it first with \`npm run build\` in the repository root\\n$`));
    });

    // dist/ exists after `npm ci` (its prepare script builds the apps) or `npm run build`.
    (built ? it : skippedIt)(`--help through the real shim and build prints the usage${built ? '' : ' [skipped: not built, run npm run build]'}`, () => {
      const r = node(shim, ['--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: ${bin} <command>`);
    });
  });
}
