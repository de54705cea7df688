// The web app in a real browser: Debian's chromium driven by puppeteer-core
// (no browser download), on the built site served as static files. Skipped,
// with a message saying how to run it, where chromium is not installed
// (.ci/run installs it). Screenshots go to apps/web/test-output/ (ignored by
// git; CI keeps them as artefacts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { readNifti, writeNifti } from '@tumorcast/nifti';
import { generatePhantomSlice } from '@tumorcast/phantom';
import { serveStatic } from './serve.js';
import type { StaticServer } from './serve.js';

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(APP, '../..');
const OUT = path.join(APP, 'test-output');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!CHROMIUM) {
  console.warn('apps/web browser test skipped: no chromium found (install Debian\'s chromium, or set CHROMIUM_PATH to a Chromium binary)');
}
const suite = CHROMIUM ? describe : describe.skip;

/** The tiny configuration: a 4-step guided sample plus a 2-run map on wasm (deterministic, quick on a CPU). */
const TINY = '?samples=2&respacing=ddim20&backend=wasm';

let tmp: string;
let site: string;
let server: StaticServer;
/** The same site served cross-origin isolated (where wasm could pick its multi-threaded binary). */
let isolatedServer: StaticServer;
let browser: Browser;

/** A page that records console errors and uncaught exceptions. */
async function openPage(query = '', on: StaticServer = server): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 1800 });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${on.url}${query}`);
  await page.waitForFunction(() => document.body.dataset['state'] === 'ready' || document.body.dataset['state'] === 'running' || document.body.dataset['state'] === 'predicted', { timeout: 30_000 });
  return { page, errors };
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '');

suite('the web app in chromium', () => {
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-web-'));
    site = path.join(tmp, 'site');
    // the production build, as `npm run web` serves it
    const vite = spawnSync(process.execPath, [path.join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', site, '--emptyOutDir', '--logLevel', 'error'], { cwd: APP, encoding: 'utf8' });
    if (vite.status !== 0) throw new Error(`vite build failed:\n${vite.stderr}\n${vite.stdout}`);
    server = await serveStatic(site);
    isolatedServer = await serveStatic(site, true);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // software WebGL (SwiftShader) for the viewer on machines without a GPU
      args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
    });
    fs.mkdirSync(OUT, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await isolatedServer?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('builds a static site with the demo networks and no request to another origin', () => {
    for (const f of ['index.html', 'models/diffusion.safetensors', 'models/regressor.safetensors', 'models/segmenter.safetensors']) expect(fs.existsSync(path.join(site, f))).toBe(true);
    expect(fs.readdirSync(path.join(site, 'assets')).some((f) => /^tfjs-backend-wasm-simd.*\.wasm$/.test(f))).toBe(true);
    const html = fs.readFileSync(path.join(site, 'index.html'), 'utf8');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('loads without console errors and states that nothing leaves the machine', async () => {
    const { page, errors } = await openPage();
    expect(await text(page, '#privacy')).toMatch(/never leave it\. Nothing is uploaded/);
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs the phantom patient end to end and shows the prediction in the viewer', async () => {
    const { page, errors } = await openPage(TINY);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.click('#phantom-button');
    await page.waitForFunction(() => (document.getElementById('growth-summary')?.dataset['relativeChange'] ?? '') !== '', { timeout: 60_000 });
    expect(await text(page, '#growth-summary')).toMatch(/^Predicted relative change from day 150 to day 210: /);
    expect(await text(page, '#growth-plot')).toContain('radiotherapy');
    // editing the follow-up day moves the prediction at once (no refit within the fitted horizon)
    const before = Number(await page.$eval('#growth-summary', (e) => (e as HTMLElement).dataset['relativeChange']));
    await page.$eval('#followup-day', (e) => {
      (e as HTMLInputElement).value = '180';
      e.dispatchEvent(new Event('input'));
    });
    const sooner = Number(await page.$eval('#growth-summary', (e) => (e as HTMLElement).dataset['relativeChange']));
    expect(sooner).not.toBe(before);
    await page.$eval('#followup-day', (e) => {
      (e as HTMLInputElement).value = '210';
      e.dispatchEvent(new Event('input'));
    });
    expect(Number(await page.$eval('#growth-summary', (e) => (e as HTMLElement).dataset['relativeChange']))).toBe(before);
    // editing the radiotherapy refits (seeded: the same RT gives the same fit again)
    const setRt = (day: string) => page.$eval('#rt-end-day', (e, v) => {
      (e as HTMLInputElement).value = v;
      e.dispatchEvent(new Event('input'));
    }, day);
    const settled = (not: number) => page.waitForFunction((b: number) => {
      const el = document.getElementById('growth-summary')!;
      return el.textContent!.startsWith('Predicted') && Number(el.dataset['relativeChange']) !== b;
    }, { timeout: 30_000 }, not);
    await setRt('77');
    await settled(before);
    expect(await text(page, '#growth-summary')).toContain('radiotherapy days 35-77');
    const later = Number(await page.$eval('#growth-summary', (e) => (e as HTMLElement).dataset['relativeChange']));
    await setRt('63');
    await settled(later);
    expect(Number(await page.$eval('#growth-summary', (e) => (e as HTMLElement).dataset['relativeChange']))).toBe(before);

    await page.click('#run-button');
    await page.waitForFunction(() => ['predicted', 'failed'].includes(document.body.dataset['state'] ?? ''), { timeout: 150_000, polling: 250 });
    expect(await text(page, '#messages')).not.toMatch(/failed/);
    expect(await page.evaluate(() => document.body.dataset['state'])).toBe('predicted');
    expect(await text(page, '#backend-name')).toBe('wasm');
    // the demo networks are guided as tuned for them: by the segmenter, r0 from its reading of the baseline
    expect(await text(page, '#prediction-summary')).toMatch(/^Target burden r\* = [\d.]+% \(baseline [\d.]+% from segmenter, .*; the segmenter that guided reads [\d.]+% on the predicted follow-up/);
    expect(await page.$eval('#progress', (p) => (p as HTMLProgressElement).value)).toBe(1);
    await page.waitForFunction(() => (document.body.dataset['viewer'] ?? '').includes('probability'), { timeout: 30_000 });
    expect(await page.evaluate(() => document.body.dataset['viewer'])).toBe('followup.nii.gz,probability.nii.gz');
    await new Promise((r) => setTimeout(r, 500)); // let the viewer draw its frame

    // the viewer's canvas shows an image: many distinct colours (a blank canvas has one)
    const canvas = (await page.$('#niivue-canvas'))!;
    const shot = await canvas.screenshot({ encoding: 'base64' });
    const colours = await page.evaluate(async (b64: string) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    }, shot as string);
    expect(colours).toBeGreaterThan(50);
    await page.screenshot({ path: path.join(OUT, 'phantom-prediction.png'), fullPage: true });

    // the downloads: NIfTI in the baseline's geometry, the numbers as CSV and JSON
    const downloads = path.join(tmp, 'downloads');
    fs.mkdirSync(downloads);
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    for (const id of ['#dl-followup', '#dl-probability', '#dl-csv', '#dl-json']) await page.click(id);
    const names = ['predicted_followup_t2f.nii.gz', 'probability_map.nii.gz', 'prediction.csv', 'prediction.json'];
    for (let i = 0; i < 100 && !names.every((n) => fs.existsSync(path.join(downloads, n))); i++) await new Promise((r) => setTimeout(r, 100));
    expect(fs.readdirSync(downloads).sort()).toEqual([...names].sort());
    const followup = readNifti(fs.readFileSync(path.join(downloads, names[0]!)));
    expect(followup.shape).toEqual([240, 240]);
    const map = Array.from(readNifti(fs.readFileSync(path.join(downloads, names[1]!))).data as Float32Array);
    expect(Math.min(...map)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...map)).toBeLessThanOrEqual(1);
    expect(Math.max(...map)).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(downloads, names[2]!), 'utf8')).toContain(`relative_change,${before}\n`);
    const json = JSON.parse(fs.readFileSync(path.join(downloads, names[3]!), 'utf8')) as {
      growth: { relativeChange: number }; backend: string; settings: { scale: number; baselineBurden: string; guidance: string; amplifyEarlyTarget: boolean; gradientTemperature: number; gradientMarginPixels: number; samples: number };
    };
    expect([json.growth.relativeChange, json.backend]).toEqual([before, 'wasm']);
    // the settings the worker used: the demo networks' tuning over the defaults, the page's own fields over both
    expect([json.settings.scale, json.settings.baselineBurden, json.settings.guidance, json.settings.amplifyEarlyTarget, json.settings.gradientTemperature, json.settings.gradientMarginPixels, json.settings.samples])
      .toEqual([1_000_000, 'regressor', 'segmenter', false, 2, 4, Number(await page.$eval('#samples', (e) => (e as HTMLInputElement).value))]);

    // every request the page made stayed on its own origin
    expect(requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('shows a visible message for a malformed NIfTI and a malformed CSV', async () => {
    const { page } = await openPage();
    const dir = path.join(tmp, 'bad');
    fs.mkdirSync(dir);
    const s = generatePhantomSlice({ seed: 1, width: 64, height: 64 });
    const files: string[] = [];
    for (const m of ['t1n', 't1c', 't2w'] as const) {
      const f = path.join(dir, `case_${m}.nii.gz`);
      fs.writeFileSync(f, writeNifti({ shape: [64, 64], data: s.modalities[m] }, { gzip: true }));
      files.push(f);
    }
    fs.writeFileSync(path.join(dir, 'case_t2f.nii.gz'), 'not a NIfTI file at all');
    fs.writeFileSync(path.join(dir, 'sizes.csv'), 'patient_id,day\nA,1\n');
    files.push(path.join(dir, 'case_t2f.nii.gz'), path.join(dir, 'sizes.csv'));
    const input = (await page.$('#file-input')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(...files);
    await page.waitForFunction(() => document.querySelectorAll('#messages .error').length >= 2, { timeout: 30_000 });
    const shown = await page.$$eval('#messages .error', (ps) => ps.filter((p) => (p as HTMLElement).offsetParent !== null).map((p) => p.textContent ?? ''));
    expect(shown).toEqual(expect.arrayContaining([
      expect.stringMatching(/^sizes\.csv has no 'size' column/),
      expect.stringMatching(/^case_t2f\.nii\.gz is not a readable NIfTI file/),
    ]));
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await page.screenshot({ path: path.join(OUT, 'malformed-inputs.png') });
    await page.close();
  }, 60_000);

  it('cancels a running prediction (on a cross-origin isolated page, where wasm still starts)', async () => {
    const { page, errors } = await openPage('?phantom=1&samples=4&respacing=ddim100&backend=wasm', isolatedServer);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.waitForFunction(() => !(document.getElementById('run-button') as HTMLButtonElement).disabled, { timeout: 60_000 });
    await page.click('#run-button');
    await page.waitForFunction(() => ((document.getElementById('progress') as HTMLProgressElement).value ?? 0) > 0, { timeout: 60_000, polling: 100 });
    await page.click('#cancel-button');
    expect(await page.evaluate(() => document.body.dataset['state'])).toBe('cancelled');
    expect(await text(page, '#progress-text')).toBe('cancelled');
    expect(await page.$eval('#run-button', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    expect(await text(page, '#backend-name')).toBe('wasm');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
