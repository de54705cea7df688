/**
 * The page: inputs (dropped files or the phantom patient), the growth fit,
 * the prediction in a worker with progress and cancel, the NiiVue viewer and
 * the downloads. Query options (for a quick look or a test): `phantom=1`
 * loads the phantom patient at once; `samples`, `respacing`, `noise`,
 * `seed` and `backend` preset the controls.
 */
import { Niivue, NVImage } from '@niivue/niivue';
import './style.css';
import { parseBackendChoice } from './backend-choice.js';
import type { BrowserBackend } from './backend-choice.js';
import { fitGrowth, growthBetween, growthSvg, parseSizeCsv } from './growth.js';
import type { GrowthFit, GrowthPrediction, SizeSeries } from './growth.js';
import { kindOfFile, sortInputFiles } from './layout.js';
import type { WeightsFile, WeightsFiles } from './models.js';
import { numbersToCsv, numbersToJson, outputVolumes } from './outputs.js';
import type { PredictionNumbers } from './outputs.js';
import { phantomInputs } from './phantom.js';
import type { PhantomInputs } from './phantom.js';
import type { FromWorker, ToWorker, WorkerResult } from './protocol.js';
import { loadBaselineSlice } from './slice.js';
import type { BaselineSlice, NamedBytes } from './slice.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};
const query = new URLSearchParams(location.search);

interface State {
  images: Partial<Record<'t1n' | 't1c' | 't2w' | 't2f', NamedBytes>>;
  seg?: NamedBytes;
  csv?: NamedBytes;
  series: SizeSeries[];
  phantom?: PhantomInputs;
  modelSize: number;
  baseline?: BaselineSlice;
  fit?: GrowthFit;
  growth?: GrowthPrediction;
  result?: WorkerResult;
  numbers?: PredictionNumbers;
  backend?: BrowserBackend;
  worker?: Worker;
  demoWeights?: WeightsFiles;
}
const state: State = { images: {}, series: [], modelSize: 64 };

// ---- messages -------------------------------------------------------------

function message(kind: 'error' | 'info', text: string): void {
  const box = $('messages');
  const p = document.createElement('p');
  p.className = `message ${kind}`;
  p.textContent = text;
  box.append(p);
  if (kind === 'error') console.warn(`tumorcast: ${text}`);
}
function clearMessages(): void {
  $('messages').replaceChildren();
}
function setState(s: string): void {
  document.body.dataset['state'] = s;
}

// ---- inputs ---------------------------------------------------------------

async function readFiles(files: readonly File[]): Promise<NamedBytes[]> {
  return Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
}

function listFiles(): void {
  const ul = $('file-list');
  ul.replaceChildren();
  const add = (what: string, f?: NamedBytes) => {
    const li = document.createElement('li');
    li.textContent = `${what}: ${f ? `${f.name} (${f.bytes.length < 1024 ? `${f.bytes.length} bytes` : `${(f.bytes.length / 1024).toFixed(0)} kB`})` : 'missing'}`;
    if (!f) li.className = 'missing';
    ul.append(li);
  };
  for (const m of ['t1n', 't1c', 't2w', 't2f'] as const) add(m, state.images[m]);
  add('segmentation (optional)', state.seg);
  add('sizes CSV', state.csv);
}

/** Takes dropped or chosen files: sorts them by name, then loads what is complete. */
async function takeFiles(files: NamedBytes[], fromPhantom?: PhantomInputs): Promise<void> {
  clearMessages();
  const sorted = sortInputFiles(files);
  for (const f of sorted.unknown) {
    message('error', `${f.name}: not recognised. Name NIfTI slices as in the BraTS slice layout (e.g. brats_test_00001000_t2f_80_w.nii.gz) or put the modality (t1n, t1c, t2w, t2f, seg) in the name; the sizes go in a .csv file`);
  }
  state.phantom = fromPhantom;
  Object.assign(state.images, sorted.images);
  if (sorted.seg) state.seg = sorted.seg;
  if (sorted.csv) state.csv = sorted.csv;
  listFiles();
  if (sorted.csv) loadCsv(sorted.csv, fromPhantom);
  if (Object.keys(sorted.images).length || sorted.seg) loadBaseline();
  if (state.baseline && !state.csv) message('info', 'now drop the CSV of tumour sizes (patient_id,day,size[,rt_end_day]): the growth model fitted to it sets the change to predict');
  refreshRunButton();
}

function loadBaseline(): void {
  state.baseline = undefined;
  state.result = undefined;
  if (['t1n', 't1c', 't2w', 't2f'].some((m) => !state.images[m as 't1n'])) return;
  try {
    state.baseline = loadBaselineSlice(state.images, state.seg, state.modelSize);
  } catch (e) {
    message('error', (e as Error).message);
    return;
  }
  const b = state.baseline;
  message('info', `baseline slice ${b.width}×${b.height}${b.burden !== undefined ? `, tumour burden ${(100 * b.burden).toFixed(2)}% (from the segmentation)` : ', no segmentation (the baseline tumour is segmented)'}`);
  void showViewer();
}

function loadCsv(f: NamedBytes, phantom?: PhantomInputs): void {
  state.series = [];
  state.fit = undefined;
  state.growth = undefined;
  try {
    state.series = parseSizeCsv(new TextDecoder().decode(f.bytes), f.name);
  } catch (e) {
    message('error', (e as Error).message);
    $('growth-plot').replaceChildren();
    $('growth-summary').textContent = '';
    return;
  }
  const sel = $<HTMLSelectElement>('series-select');
  sel.replaceChildren(...state.series.map((s, i) => new Option(`${s.id} (${s.times.length} sizes)`, String(i))));
  const s = state.series[0]!;
  if (s.rtEndDay !== undefined) $<HTMLInputElement>('rt-end-day').value = String(s.rtEndDay);
  const last = s.times[s.times.length - 1]!;
  const follow = $<HTMLInputElement>('followup-day');
  follow.value = String(phantom ? phantom.followupDay : Math.max(Number(follow.value) || 0, last + 60));
  refit();
}

// ---- growth ---------------------------------------------------------------

function currentSeries(): SizeSeries | undefined {
  return state.series[Number($<HTMLSelectElement>('series-select').value) || 0];
}

/** Refits the growth model (series or RT changed), then redraws. */
function refit(): void {
  const s = currentSeries();
  if (!s) return;
  state.fit = undefined;
  const rtEndDay = Number($<HTMLInputElement>('rt-end-day').value);
  const rtCourseDays = Number($<HTMLInputElement>('rt-course').value);
  const followupDay = Number($<HTMLInputElement>('followup-day').value);
  try {
    state.fit = fitGrowth(s, { rtEndDay, rtCourseDays, horizon: Math.max(followupDay, s.times[s.times.length - 1]!) + 60, seed: 0 });
  } catch (e) {
    message('error', (e as Error).message);
  }
  redrawGrowth();
}

/** Reads the fitted curve at the follow-up day (refits only past the fit's horizon). */
function redrawGrowth(): void {
  const fit = state.fit;
  const summary = $('growth-summary');
  state.growth = undefined;
  if (!fit) {
    refreshRunButton();
    return;
  }
  const baselineDay = fit.series.times[fit.series.times.length - 1]!;
  $('baseline-day').textContent = String(baselineDay);
  const followupDay = Number($<HTMLInputElement>('followup-day').value);
  if (followupDay > fit.horizon) return refit();
  try {
    state.growth = growthBetween(fit, baselineDay, followupDay);
  } catch (e) {
    summary.textContent = (e as Error).message;
    summary.className = 'summary error';
    refreshRunButton();
    return;
  }
  const g = state.growth;
  $('growth-plot').innerHTML = growthSvg(fit, g);
  const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;
  const truth = state.phantom && state.phantom.followupDay === followupDay
    ? `; the phantom's true size on day ${followupDay} is ${state.phantom.trueFollowupSize.toFixed(0)} (${pct(state.phantom.trueFollowupSize / g.sizeBaseline - 1)} of the fitted baseline)` : '';
  summary.className = 'summary';
  summary.textContent = `Predicted relative change from day ${g.baselineDay} to day ${g.followupDay}: ${pct(g.relativeChange)} `
    + `(5-95% band ${pct(g.relativeChangeBand[0])} to ${pct(g.relativeChangeBand[1])}); size ${g.sizeBaseline.toFixed(1)} → ${g.sizeFollowup.toFixed(1)}; `
    + `radiotherapy days ${fit.rtEndDay - fit.rtCourseDays}-${fit.rtEndDay}${truth}.`;
  summary.dataset['relativeChange'] = String(g.relativeChange);
  refreshRunButton();
}

// ---- prediction -------------------------------------------------------------

function refreshRunButton(): void {
  $<HTMLButtonElement>('run-button').disabled = !(state.baseline && state.growth) || state.worker !== undefined && document.body.dataset['state'] === 'running';
}

async function fetchWeights(name: string): Promise<WeightsFile> {
  const res = await fetch(`./models/${name}`);
  if (!res.ok) throw new Error(`the demo network ./models/${name} could not be loaded (HTTP ${res.status}): serve the built site (npm run web)`);
  return { name, bytes: new Uint8Array(await res.arrayBuffer()) };
}

async function weights(): Promise<WeightsFiles> {
  if ($<HTMLSelectElement>('model-source').value === 'demo') {
    state.demoWeights ??= {
      diffusion: await fetchWeights('diffusion.safetensors'), regressor: await fetchWeights('regressor.safetensors'), segmenter: await fetchWeights('segmenter.safetensors'),
    };
    return state.demoWeights;
  }
  const pick = async (id: string, what: string, optional = false): Promise<WeightsFile | undefined> => {
    const f = $<HTMLInputElement>(id).files?.[0];
    if (!f) {
      if (optional) return undefined;
      throw new Error(`choose the ${what} weights (.safetensors from tumorcast-train, or the reference code's .pt)`);
    }
    if (kindOfFile(f.name) !== 'weights') throw new Error(`${f.name}: the ${what} weights must be a .safetensors, .pt or .pth file`);
    return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
  };
  const segmenter = await pick('w-segmenter', 'segmenter', true);
  // safetensors files carry their architecture; .pt files take the chosen preset
  const arch = $<HTMLSelectElement>('w-architecture').value as 'paper' | 'small';
  return {
    diffusion: (await pick('w-diffusion', 'diffusion'))!, regressor: (await pick('w-regressor', 'regressor'))!, ...(segmenter ? { segmenter } : {}),
    diffusionArchitecture: arch, regressorArchitecture: arch,
  };
}

function settings(): ToWorker['settings'] {
  const samples = Number($<HTMLInputElement>('samples').value);
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`runs for the map must be a whole number >= 1, got '${$<HTMLInputElement>('samples').value}'`);
  const seed = Number($<HTMLInputElement>('seed').value);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`the seed must be a whole number >= 0, got '${$<HTMLInputElement>('seed').value}'`);
  const noise = query.get('noise');
  return { samples, seed, respacing: $<HTMLInputElement>('respacing').value.trim(), ...(noise ? { noiseLevel: Number(noise) } : {}) };
}

function endRun(s: string): void {
  setState(s);
  $<HTMLButtonElement>('cancel-button').disabled = true;
  refreshRunButton();
}

async function run(): Promise<void> {
  clearMessages();
  const growth = state.growth;
  if (!state.baseline || !growth) return;
  let request: ToWorker;
  try {
    request = {
      type: 'run', backend: parseBackendChoice($<HTMLSelectElement>('backend-select').value), weights: await weights(),
      modelSize: state.modelSize, slice: state.baseline, relativeChange: growth.relativeChange, settings: settings(),
      demoNetworks: $<HTMLSelectElement>('model-source').value === 'demo',
    };
  } catch (e) {
    message('error', (e as Error).message);
    return;
  }
  setState('running');
  $<HTMLButtonElement>('run-button').disabled = true;
  $<HTMLButtonElement>('cancel-button').disabled = false;
  $<HTMLProgressElement>('progress').value = 0;
  $('progress-text').textContent = 'starting';
  const t0 = performance.now();
  state.worker ??= new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  const worker = state.worker;
  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === 'backend') {
      state.backend = m.name;
      $('backend-name').textContent = m.name;
      for (const s of m.skipped) console.info(`tumorcast: backend ${s}`);
    } else if (m.type === 'status') {
      $('progress-text').textContent = m.message;
    } else if (m.type === 'progress') {
      $<HTMLProgressElement>('progress').value = m.done / m.total;
      const eta = m.done > 0 ? ((performance.now() - t0) / 1000) * (m.total / m.done - 1) : NaN;
      $('progress-text').textContent = `${m.what}${Number.isFinite(eta) ? `, about ${Math.ceil(eta)} s left` : ''}`;
    } else if (m.type === 'resize') {
      state.modelSize = m.imageSize;
      loadBaseline();
      if (state.baseline) worker.postMessage({ ...request, modelSize: state.modelSize, slice: state.baseline } satisfies ToWorker);
    } else if (m.type === 'result') {
      $<HTMLProgressElement>('progress').value = 1;
      $('progress-text').textContent = `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      finish(m.result, growth);
      endRun('predicted');
    } else if (m.type === 'error') {
      message('error', `prediction failed: ${m.message}`);
      $('progress-text').textContent = 'failed';
      endRun('failed');
    }
  };
  worker.onerror = (e) => {
    message('error', `the prediction worker failed: ${e.message}`);
    state.worker?.terminate();
    state.worker = undefined;
    endRun('failed');
  };
  worker.postMessage(request);
}

function cancel(): void {
  // terminating the worker stops the sampling at once and frees its memory; the next run starts a fresh one
  state.worker?.terminate();
  state.worker = undefined;
  $('progress-text').textContent = 'cancelled';
  message('info', 'prediction cancelled');
  endRun('cancelled');
}

function count(m: Uint8Array): number {
  let n = 0;
  for (const v of m) n += v;
  return n;
}

function finish(r: WorkerResult, growth: GrowthPrediction): void {
  state.result = r;
  state.numbers = {
    growth, baselineBurden: r.baselineBurden, baselineBurdenSource: r.baselineBurdenSource, targetBurden: r.targetBurden, predictedBurden: r.predictedBurden,
    baselineTumourPixels: count(r.baselineMask), followupTumourPixels: count(r.followupMask), settings: { ...r.settings }, backend: state.backend ?? 'unknown',
  };
  const n = state.numbers;
  $('prediction-summary').textContent = `Target burden r* = ${(100 * n.targetBurden).toFixed(2)}% (baseline ${(100 * n.baselineBurden).toFixed(2)}% from ${n.baselineBurdenSource}, `
    + `relative change ${(100 * growth.relativeChange).toFixed(1)}%); the ${r.settings.guidance ?? 'regressor'} that guided reads ${(100 * n.predictedBurden).toFixed(2)}% on the predicted follow-up; `
    + `tumour pixels ${n.baselineTumourPixels} → ${n.followupTumourPixels}.`;
  for (const id of ['dl-followup', 'dl-probability', 'dl-difference', 'dl-csv', 'dl-json']) $<HTMLButtonElement>(id).disabled = false;
  void showViewer();
}

// ---- viewer -----------------------------------------------------------------

let nv: Niivue | undefined;
let viewerQueue: Promise<void> = Promise.resolve();

function volumesNow(): { name: string; bytes: Uint8Array; colormap: string; colormapNegative?: string; range?: [number, number] }[] {
  const b = state.baseline;
  if (!b) return [];
  const channel = Number($<HTMLSelectElement>('channel-select').value);
  const r = state.result;
  if (!r) {
    const v = outputVolumes(b, { followup: b.native, probability: new Float32Array(b.width * b.height), followupMask: new Uint8Array(0), baselineMask: new Uint8Array(0) }, channel);
    return [{ name: 'baseline.nii.gz', bytes: v.baseline, colormap: 'gray' }];
  }
  const v = outputVolumes(b, r, channel);
  const bg = $<HTMLSelectElement>('background-select').value as 'baseline' | 'followup' | 'difference';
  const ov = $<HTMLSelectElement>('overlay-select').value;
  const list: ReturnType<typeof volumesNow> = [
    bg === 'difference'
      ? { name: 'difference.nii.gz', bytes: v.difference, colormap: 'warm', colormapNegative: 'winter', range: [0.01, 0.5] }
      : { name: `${bg}.nii.gz`, bytes: v[bg], colormap: 'gray' },
  ];
  if (ov === 'probability') list.push({ name: 'probability.nii.gz', bytes: v.probability, colormap: 'hot', range: [0.05, 1] });
  if (ov === 'difference' && bg !== 'difference') list.push({ name: 'difference.nii.gz', bytes: v.difference, colormap: 'warm', colormapNegative: 'winter', range: [0.02, 0.5] });
  return list;
}

async function renderViewer(): Promise<void> {
  const list = volumesNow();
  if (!list.length) return;
  if (!nv) {
    nv = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: false, isColorbar: true, crosshairWidth: 0, isRadiologicalConvention: false });
    try {
      await nv.attachToCanvas($<HTMLCanvasElement>('niivue-canvas'));
    } catch (e) {
      nv = undefined;
      message('error', `the viewer needs WebGL2, which this browser did not give: ${(e as Error).message}`);
      return;
    }
    nv.setSliceType(nv.sliceTypeAxial);
  }
  while (nv.volumes.length) nv.removeVolume(nv.volumes[0]!);
  const opacity = Number($<HTMLInputElement>('opacity').value);
  for (const [i, v] of list.entries()) {
    const img = await NVImage.loadFromUrl({
      url: v.name, name: v.name, buffer: v.bytes.slice().buffer, colormap: v.colormap, opacity: i === 0 ? 1 : opacity,
      colorbarVisible: true, ...(v.colormapNegative ? { colormapNegative: v.colormapNegative } : {}),
      ...(v.range ? { cal_min: v.range[0], cal_max: v.range[1], trustCalMinMax: true } : {}),
    });
    nv.addVolume(img);
  }
  nv.updateGLVolume();
  document.body.dataset['viewer'] = list.map((v) => v.name).join(',');
}

function showViewer(): Promise<void> {
  viewerQueue = viewerQueue.then(renderViewer).catch((e: unknown) => message('error', `viewer: ${(e as Error).message}`));
  return viewerQueue;
}

// ---- downloads --------------------------------------------------------------

function download(name: string, data: Uint8Array | string, type: string): void {
  const blob = new Blob([typeof data === 'string' ? data : data.slice().buffer], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function outputs() {
  if (!state.baseline || !state.result) throw new Error('no prediction yet');
  return outputVolumes(state.baseline, state.result, Number($<HTMLSelectElement>('channel-select').value));
}
const channelName = () => ['t1n', 't1c', 't2w', 't2f'][Number($<HTMLSelectElement>('channel-select').value)]!;

// ---- wiring -----------------------------------------------------------------

function wire(): void {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void readFiles([...(e.dataTransfer?.files ?? [])]).then((f) => takeFiles(f));
  });
  const input = $<HTMLInputElement>('file-input');
  input.addEventListener('change', () => {
    void readFiles([...(input.files ?? [])]).then((f) => takeFiles(f));
    input.value = '';
  });
  $('phantom-button').addEventListener('click', () => loadPhantom());
  $('series-select').addEventListener('change', () => refit());
  $('followup-day').addEventListener('input', () => redrawGrowth());
  // a refit takes about a second: wait until the typing pauses
  let refitTimer: ReturnType<typeof setTimeout> | undefined;
  for (const id of ['rt-end-day', 'rt-course']) {
    $(id).addEventListener('input', () => {
      clearTimeout(refitTimer);
      $('growth-summary').textContent = 'fitting the growth model…';
      refitTimer = setTimeout(refit, 300);
    });
  }
  $<HTMLSelectElement>('model-source').addEventListener('change', (e) => {
    $('own-weights').hidden = (e.target as HTMLSelectElement).value !== 'own';
  });
  $('backend-select').addEventListener('change', () => {
    // the backend is chosen when a worker starts: start a fresh one next time
    state.worker?.terminate();
    state.worker = undefined;
    $('backend-name').textContent = 'not started';
  });
  $('run-button').addEventListener('click', () => void run());
  $('cancel-button').addEventListener('click', () => cancel());
  for (const id of ['channel-select', 'background-select', 'overlay-select']) $(id).addEventListener('change', () => void showViewer());
  $<HTMLInputElement>('opacity').addEventListener('input', (e) => {
    if (nv && nv.volumes.length > 1) nv.setOpacity(1, Number((e.target as HTMLInputElement).value));
  });
  $('dl-followup').addEventListener('click', () => download(`predicted_followup_${channelName()}.nii.gz`, outputs().followup, 'application/gzip'));
  $('dl-probability').addEventListener('click', () => download('probability_map.nii.gz', outputs().probability, 'application/gzip'));
  $('dl-difference').addEventListener('click', () => download(`difference_${channelName()}.nii.gz`, outputs().difference, 'application/gzip'));
  $('dl-csv').addEventListener('click', () => state.numbers && download('prediction.csv', numbersToCsv(state.numbers), 'text/csv'));
  $('dl-json').addEventListener('click', () => state.numbers && download('prediction.json', numbersToJson(state.numbers), 'application/json'));
}

function loadPhantom(): void {
  const p = phantomInputs(Number(query.get('seed') ?? 0) || 0);
  $<HTMLInputElement>('followup-day').value = String(p.followupDay);
  void takeFiles([...p.files, p.csv], p);
}

function applyQuery(): void {
  const set = (id: string, key: string) => {
    const v = query.get(key);
    if (v !== null) $<HTMLInputElement>(id).value = v;
  };
  set('samples', 'samples');
  set('respacing', 'respacing');
  set('seed', 'seed');
  try {
    $<HTMLSelectElement>('backend-select').value = parseBackendChoice(query.get('backend'));
  } catch (e) {
    message('error', (e as Error).message);
  }
}

wire();
applyQuery();
listFiles();
setState('ready');
if (query.get('phantom') === '1') loadPhantom();
