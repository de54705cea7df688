/**
 * The entry of a probability-map worker thread (see `parallel-map.ts`): it
 * starts its own TensorFlow.js backend (tfjs wasm runs on one thread, so a
 * worker is one more core), loads the networks from the files once, and then
 * computes map runs one at a time, each exactly as `predictSlice` computes
 * that run (the same options, the run's own noise stream).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { toModelRange } from '@tumorcast/diffusion';
import type { Diffusion } from '@tumorcast/diffusion';
import { growthProbabilityMap } from '@tumorcast/guided-sampler';
import type { Segmenter } from '@tumorcast/guided-sampler';
import { initBackend } from '@tumorcast/nn';
import { loadModels } from './models.js';
import type { PredictionNetworks } from './networks.js';
import { segmenterOf } from './networks.js';
import { brainCount, sliceSamplerOptions } from './predict.js';
import { samplingDiffusion } from './settings.js';
import type { MapWorkerData, ToWorker, FromWorker } from './parallel-protocol.js';

const port = parentPort;
if (!port) throw new Error('map-worker.ts is the entry of a worker thread (see MapPool of @tumorcast/pipeline/node), not a module to import');
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const data = workerData as MapWorkerData;

let networks: PredictionNetworks;
let segmenter: Segmenter;
// One sampling process per respacing (every slice of a run has the same).
const processes = new Map<string, Diffusion>();

async function start(): Promise<void> {
  // One thread: the pool's parallelism is its workers (its environment also says TUMORCAST_WASM_THREADS=1).
  await initBackend({ backend: data.backend, threads: 1, log: false });
  networks = await loadModels(data.models, data.loadOptions);
  segmenter = segmenterOf(networks);
}

/** Run `run` of a map: the mask of that one run (a one-run map is its mask). */
async function computeRun(m: Extract<ToWorker, { type: 'run' }>): Promise<Float32Array> {
  const { request: r, run } = m;
  const S = networks.imageSize;
  if (r.imageSize !== S) throw new RangeError(`the slice is ${r.imageSize}x${r.imageSize} but this worker's networks take ${S}x${S} images`);
  let diffusion = processes.get(r.settings.respacing);
  if (!diffusion) {
    diffusion = samplingDiffusion(networks, r.settings);
    processes.set(r.settings.respacing, diffusion);
  }
  const image = tf.tidy(() => toModelRange(tf.tensor4d(r.image, [1, S, S, 4]), networks.dataRange));
  const baselineMask = tf.tensor4d(r.baselineMask, [1, S, S, 1]);
  try {
    const map = await growthProbabilityMap({
      ...sliceSamplerOptions(networks, diffusion, r.settings, image, r.baselineBurden, r.relativeChange, brainCount(r.image, 4)),
      samples: 1, firstRun: run, segmenter, baselineMask,
    });
    // A copy of its own: its buffer is transferred to the main thread.
    const mask = Float32Array.from(await map.probability.data()); // asynchronous: works on webgpu in Node too
    tf.dispose([map.probability, map.meanSample]);
    return mask;
  } finally {
    tf.dispose([image, baselineMask]);
  }
}

const describe = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { name: 'Error', message: String(e) });

const ready = start().then(
  () => post({ type: 'ready', imageSize: networks.imageSize }),
  (e: unknown) => post({ type: 'init-failed', error: describe(e) }),
);

port.on('message', (m: ToWorker) => {
  void ready.then(async () => {
    if (m.type !== 'run') return;
    try {
      const mask = await computeRun(m);
      post({ type: 'done', task: m.task, mask }, [mask.buffer as ArrayBuffer]);
    } catch (e) {
      post({ type: 'failed', task: m.task, error: describe(e) });
    }
  });
});
