import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import {
  CliError, Progress, decodePng, encodePng, encodePngUint8, lineChartSvg, overlay, parseArgs, resolveConfig, unexpectedArgumentError, tileImages, writeFileAtomicSync,
  type ConfigSchema,
} from './index.js';

const schema: ConfigSchema = {
  data_dir: { type: 'string[]', description: 'data folders' },
  lr: { type: 'number', description: 'learning rate', default: 1e-4, min: 0 },
  batch_size: { type: 'integer', description: 'batch', default: 2, min: 1 },
  class_cond: { type: 'boolean', description: 'class conditioning', default: true },
  schedule: { type: 'string', description: 'noise schedule', default: 'linear', choices: ['linear', 'cosine'] },
  resume_checkpoint: { type: 'string', description: 'resume from', optional: true },
};

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tc-cli-'));
}

describe('parseArgs', () => {
  it('understands --k v, --k=v, bare and negated booleans, and positionals', () => {
    const { positionals, flags } = parseArgs(['diffusion', '--lr', '2e-4', '--batch-size=4', '--class-cond', '--no-verbose', 'x', '--', '--y'], new Set(['class_cond', 'verbose']));
    expect(positionals).toEqual(['diffusion', 'x', '--y']);
    expect(flags.get('lr')).toBe('2e-4');
    expect(flags.get('batch_size')).toBe('4');
    expect(flags.get('class_cond')).toBe(true);
    expect(flags.get('verbose')).toBe('false');
  });

  it('names a word after a bare boolean flag as that flag\'s bad value; other words as unexpected arguments', () => {
    const bools = new Set(['soft_labels']);
    const bad = parseArgs(['--soft-labels', 'maybe', '--lr', '1'], bools);
    expect(bad.positionals).toEqual(['maybe']);
    expect(bad.afterBoolean).toEqual(['soft_labels']);
    const e = unexpectedArgumentError(bad);
    expect(e).toBeInstanceOf(CliError);
    expect(e?.exitCode).toBe(2);
    expect(e?.message).toBe("--soft-labels takes true or false (or nothing, for true), got 'maybe'");
    expect(unexpectedArgumentError(parseArgs(['--lr', '1', 'extra', '--soft-labels'], bools))?.message).toBe("unexpected argument 'extra' (options are --key value)");
    // a value after a flag that takes one is its value; true/false after a boolean flag is its value
    expect(unexpectedArgumentError(parseArgs(['--soft-labels', 'false', '--lr', '1'], bools))).toBeUndefined();
    expect(parseArgs(['--soft-labels', '--', 'x'], bools).afterBoolean).toEqual([undefined]);
  });
});

describe('resolveConfig', () => {
  it('applies defaults, then the YAML file, then flags, with types', () => {
    const dir = tmp();
    const f = path.join(dir, 'c.yaml');
    fs.writeFileSync(f, 'data_dir: a,b\nlr: 3e-4\nclass_cond: false\n');
    const c = resolveConfig<{ data_dir: string[]; lr: number; batch_size: number; class_cond: boolean }>(schema, {
      file: f, flags: new Map<string, string | true>([['batch_size', '8'], ['config', f]]), ignoreFlags: ['config'],
    });
    expect(c).toEqual({ data_dir: ['a', 'b'], lr: 3e-4, batch_size: 8, class_cond: false, schedule: 'linear' });
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['unknown YAML key lists the valid keys', () => {
      const f = path.join(tmp(), 'c.yaml'); fs.writeFileSync(f, 'data_dir: a\nlearning_rate: 1\n');
      return resolveConfig(schema, { file: f });
    }, /unknown key 'learning_rate'; valid keys: batch_size, class_cond, data_dir, lr, resume_checkpoint, schedule/],
    ['unknown flag', () => resolveConfig(schema, { flags: new Map([['data_dir', 'a'], ['bach_size', '2']]) }), /unknown option '--bach-size'/],
    ['wrong type', () => resolveConfig(schema, { flags: new Map([['data_dir', 'a'], ['batch_size', '2.5']]) }), /'batch_size' must be an integer, got "2.5"/],
    ['out of range', () => resolveConfig(schema, { flags: new Map([['data_dir', 'a'], ['lr', '-1']]) }), /'lr' must be >= 0/],
    ['bad choice', () => resolveConfig(schema, { flags: new Map([['data_dir', 'a'], ['schedule', 'sqrt']]) }), /one of linear, cosine/],
    ['missing required key', () => resolveConfig(schema, {}), /missing required config key\(s\): data_dir/],
    ['missing file', () => resolveConfig(schema, { file: '/nonexistent/c.yaml' }), /config file \/nonexistent\/c\.yaml: cannot read \(no such file or folder\)/],
    ['a folder as config file', () => resolveConfig(schema, { file: tmp() }), /config file \/.*: a folder, expected a file/],
    ['flag without a value', () => resolveConfig(schema, { flags: parseArgs(['--data-dir', 'a', '--lr']).flags }), /option --lr needs a value \(a number\), e\.g\. --lr 0\.0001/],
    ['flag followed by another flag', () => resolveConfig(schema, { flags: parseArgs(['--data-dir', '--lr', '1']).flags }), /option --data-dir needs a value \(a value or a comma-separated list\)/],
    ['invalid YAML', () => {
      const f = path.join(tmp(), 'c.yaml'); fs.writeFileSync(f, 'a: [1, 2\n');
      return resolveConfig(schema, { file: f });
    }, /invalid YAML/],
  ];
  it.each(bad)('%s', (_n, fn, re) => {
    expect(fn).toThrow(CliError);
    expect(fn).toThrow(re);
  });
});

describe('Progress', () => {
  it('prints plain lines with rate and ETA when not on a TTY', () => {
    const out: string[] = [];
    let t = 0;
    const p = new Progress(4, { label: 'train', stream: { write: (s: string) => (out.push(s), true) }, tty: false, logEvery: 2, now: () => t });
    for (let i = 0; i < 4; i++) {
      t += 500;
      p.tick({ loss: 0.25 });
    }
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^train 2\/4 50%\s+2\.00 it\/s\s+elapsed 00:01\s+ETA 00:01\s+loss 0\.2500\n$/);
  });

  it('redraws one line on a TTY', () => {
    const out: string[] = [];
    const p = new Progress(3, { stream: { write: (s: string) => (out.push(s), true) }, tty: true, intervalMs: 0 });
    p.tick(); p.tick(); p.tick(); p.done();
    expect(out.slice(0, 3).every((s) => s.startsWith('\r['))).toBe(true);
    expect(out[3]).toBe('\n');
  });
});

describe('PNG output', () => {
  it('round-trips gray values through PNG (8-bit quantisation)', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i / 11);
    const back = decodePng(encodePng({ width: 4, height: 3, data }));
    expect(back.width).toBe(4);
    for (let i = 0; i < 12; i++) expect(Math.abs(back.data[3 * i]! - data[i]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  it('encodes 8-bit gray and RGB pixels as colour types 0 and 2, values unchanged', () => {
    // Oracle: pngjs's own decoder, not this package's decodePng.
    const rgb = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256);
    const gray = Uint8Array.from({ length: 5 * 3 }, (_, i) => (i * 53) % 256);
    for (const [channels, pixels] of [[3, rgb], [1, gray]] as const) {
      const png = encodePngUint8(5, 3, channels, pixels);
      expect(png[25]).toBe(channels === 1 ? 0 : 2); // IHDR colour type
      expect(png[24]).toBe(8); // bit depth
      const back = PNG.sync.read(Buffer.from(png));
      expect([back.width, back.height]).toEqual([5, 3]);
      for (let i = 0; i < 15; i++) {
        const px = Array.from(back.data.subarray(4 * i, 4 * i + 3));
        expect(px).toEqual(channels === 3 ? Array.from(rgb.subarray(3 * i, 3 * i + 3)) : [gray[i], gray[i], gray[i]]);
      }
    }
    expect(() => encodePngUint8(2, 2, 3, new Uint8Array(11))).toThrow(/'pixels' passed to 'encodePngUint8' must have 2x2x3 = 12 bytes, got 11/);
    expect(() => encodePngUint8(0, 2, 1, new Uint8Array(0))).toThrow(/'width' and 'height' passed to 'encodePngUint8'/);
    expect(() => encodePngUint8(1, 1, 4 as 3, new Uint8Array(4))).toThrow(/'channels' passed to 'encodePngUint8' must be 1 or 3/);
    expect(() => encodePngUint8(1, 1, 1, [0] as unknown as Uint8Array)).toThrow(/must be a Uint8Array/);
  });

  it('overlays and tiles', () => {
    const base = { width: 2, height: 1, data: [0, 1] };
    const o = overlay(base, [1, 0], [255, 0, 0], 1);
    expect(Array.from(o.data)).toEqual([1, 0, 0, 1, 1, 1]);
    const t = tileImages([base, base], 2, 1);
    expect([t.width, t.height]).toEqual([5, 1]);
    expect(() => encodePng({ width: 2, height: 2, data: [0] })).toThrow(/has 1 values, expected 2x2x1/);
  });
});

describe('files and charts', () => {
  it('writes atomically, leaving no temporary file', () => {
    const dir = tmp();
    writeFileAtomicSync(path.join(dir, 'sub/out.txt'), 'hello');
    expect(fs.readdirSync(path.join(dir, 'sub'))).toEqual(['out.txt']);
  });

  it('draws a line chart with escaped labels', () => {
    const svg = lineChartSvg([{ label: 'loss <train>', x: [0, 1, 2], y: [1, 0.5, 0.25] }], { title: 'Loss', logY: true });
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('loss &lt;train&gt;');
    expect(svg).toMatch(/<polyline[^>]+points="[\d.,\s]+"/);
  });
});
