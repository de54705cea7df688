/**
 * The prediction worker: loads the networks and runs `predictSlice` of
 * `@tumorcast/pipeline` off the page's thread, so that the page stays
 * responsive and shows progress; cancelling terminates the worker.
 */
import { checkSettingsFit, DEFAULT_SAMPLE_SETTINGS, DEMO_NETWORK_SETTINGS, predictSlice, samplingDiffusion, samplingPlan, sliceProgress } from '@tumorcast/pipeline';
import type { PredictionNetworks, SampleSettings, SliceImages } from '@tumorcast/pipeline';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { selectBackend } from './backend.js';
import type { BackendChoice, BackendSelection } from './backend.js';
import { networksFromWeights } from './models.js';
import type { WeightsFiles } from './models.js';
import type { ToWorker, FromWorker } from './protocol.js';

// The samplers yield to the event loop between steps with Node's setImmediate, which browsers lack.
const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
g.setImmediate ??= (fn: () => void) => setTimeout(fn, 0);

let backend: BackendSelection | undefined;
let loaded: { key: string; networks: PredictionNetworks } | undefined;

function post(m: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, { transfer });
}

function keyOf(w: WeightsFiles): string {
  const files = [w.diffusion, w.regressor, w.segmenter].map((f) => (f ? `${f.name}:${f.bytes.length}` : '-'));
  return [...files, JSON.stringify(w.diffusionArchitecture ?? null), JSON.stringify(w.regressorArchitecture ?? null)].join('|');
}

async function ensureBackend(choice: BackendChoice): Promise<BackendSelection> {
  if (!backend) {
    backend = await selectBackend(choice, {
      'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
    });
  }
  return backend;
}

async function run(m: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const b = await ensureBackend(m.backend);
  post({ type: 'backend', name: b.name, skipped: b.skipped });
  const key = keyOf(m.weights);
  if (!loaded || loaded.key !== key) {
    loaded?.networks.dispose();
    loaded = undefined;
    post({ type: 'status', message: 'loading the networks' });
    loaded = { key, networks: networksFromWeights(m.weights) };
  }
  const networks = loaded.networks;
  if (networks.imageSize !== m.modelSize) {
    // the page resized the slice for other networks: ask it again at this size
    post({ type: 'resize', imageSize: networks.imageSize });
    return;
  }
  // The demo networks are guided as tuned for them (as the command line's demo); other networks get the defaults.
  const settings: SampleSettings = { ...DEFAULT_SAMPLE_SETTINGS, ...(m.demoNetworks ? DEMO_NETWORK_SETTINGS : {}), ...m.settings };
  checkSettingsFit(networks, settings, m.weights.diffusion.name);
  const diffusion = samplingDiffusion(networks, settings);
  const plan = samplingPlan(diffusion, settings, 1);
  post({ type: 'status', message: 'sampling' });
  const onProgress = sliceProgress({
    update: (done, status) => post({ type: 'progress', what: String(Object.values(status)[0] ?? ''), done, total: plan.units }),
  }, plan, 0);
  const p = await predictSlice(networks, m.slice as SliceImages, m.relativeChange, { settings, diffusion, onProgress });
  post({
    type: 'result',
    result: {
      relativeChange: p.relativeChange, baselineBurden: p.baselineBurden, baselineBurdenSource: p.baselineBurdenSource, targetBurden: p.targetBurden,
      predictedBurden: p.predictedBurden, trajectory: p.trajectory, settings,
      followup: p.followupNative, probability: p.probabilityNative, followupMask: p.followupMaskNative, baselineMask: p.baselineMaskNative,
    },
  }, [p.followupNative.buffer, p.probabilityNative.buffer, p.followupMaskNative.buffer]);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'run') {
    run(m).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : 'Error' }));
  }
};
