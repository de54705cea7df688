/**
 * The U-Net's forward pass on ONNX Runtime as the synchronous
 * `(x, t, y?) => Tensor4D` function the diffusion samplers call.
 *
 * ONNX Runtime's Node API only runs sessions asynchronously, while the
 * samplers call their model synchronously; so the session lives in a worker
 * thread and each call blocks the calling thread (Atomics.wait on shared
 * memory) until the worker has written the output. The blocked thread has
 * nothing else to do meanwhile: the denoiser's output is the next step's input.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { syncReadsAvailable } from '@tumorcast/nn';
import type { ResolvedUNetConfig, UNet } from '@tumorcast/unet';
import { OnnxRuntimeUnavailableError } from './errors.js';
import { unetToOnnx } from './unet-graph.js';

/** Options of {@link createOnnxDenoiser}. */
export interface OnnxDenoiserOptions {
  /**
   * Threads ONNX Runtime uses inside each operator (its `intraOpNumThreads`).
   * @defaultValue the machine's available parallelism
   */
  threads?: number;
  /**
   * Longest time one forward pass may take before the call throws (a worker
   * that died cannot answer), in milliseconds.
   * @defaultValue 600000 (10 minutes)
   */
  callTimeoutMs?: number;
  /**
   * The module that provides ONNX Runtime's Node API, resolved from this
   * package (another build of onnxruntime-node with the same API, or a
   * missing name in tests of the error path).
   * @defaultValue 'onnxruntime-node'
   */
  runtimeModule?: string;
}

/**
 * The U-Net's forward pass on ONNX Runtime: `(x, t, y?) => out`, NHWC, the
 * same contract as `UNet.apply` and the samplers' `DiffusionModel` (`t`
 * float32 timesteps, `y` int32 labels iff the model is class-conditional).
 * The returned tensor is new (the caller disposes it); no gradient flows
 * through it. Call {@link OnnxDenoiser.dispose} when done.
 */
export interface OnnxDenoiser {
  (x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D): tf.Tensor4D;
  /** The U-Net's resolved config. */
  readonly config: ResolvedUNetConfig;
  /** Size of the ONNX model the session was created from, in bytes. */
  readonly modelBytes: number;
  /** Ends the worker and frees the session; later calls throw. */
  dispose(): Promise<void>;
}

// The worker: CommonJS source run with `eval`, so that it needs no file of its own
// next to the compiled module (tests run the TypeScript sources).
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
let ort = null;
try {
  ort = require(workerData.modulePath);
} catch (e) {
  parentPort.postMessage({ type: 'error', stage: 'load', message: String((e && e.message) || e) });
}
if (ort) {
  parentPort.postMessage({ type: 'loaded' });
  parentPort.once('message', async (init) => {
    let session;
    try {
      session = await ort.InferenceSession.create(init.model, init.sessionOptions);
    } catch (e) {
      parentPort.postMessage({ type: 'error', stage: 'session', message: String((e && e.message) || e) });
      return;
    }
    parentPort.postMessage({ type: 'ready' });
    parentPort.on('message', async (m) => {
      const ctrl = new Int32Array(m.ctrl);
      try {
        const feeds = { x: new ort.Tensor('float32', m.x, m.xDims), t: new ort.Tensor('float32', m.t, [m.t.length]) };
        if (m.y) feeds.y = new ort.Tensor('int64', m.y, [m.y.length]);
        const out = (await session.run(feeds)).out;
        const dst = new Float32Array(m.out);
        if (out.data.length !== dst.length) throw new Error('output has ' + out.data.length + ' values, expected ' + dst.length);
        dst.set(out.data);
        Atomics.store(ctrl, 0, 1);
      } catch (e) {
        const msg = new TextEncoder().encode(String((e && e.message) || e)).slice(0, m.err.byteLength);
        new Uint8Array(m.err).set(msg);
        Atomics.store(ctrl, 1, msg.length);
        Atomics.store(ctrl, 0, 2);
      }
      Atomics.notify(ctrl, 0);
    });
  });
}
`;

type WorkerReply = { type: 'loaded' | 'ready' } | { type: 'error'; stage: 'load' | 'session'; message: string };

function nextReply(worker: Worker): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: WorkerReply) => {
      cleanup();
      resolve(m);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`the ONNX Runtime worker exited (code ${code}) before it was ready`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

function checkOptions(o: OnnxDenoiserOptions): Required<OnnxDenoiserOptions> {
  const threads = o.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`'options.threads' passed to 'createOnnxDenoiser' must be a positive integer, got ${o.threads}`);
  const callTimeoutMs = o.callTimeoutMs ?? 600_000;
  if (!(callTimeoutMs > 0)) throw new RangeError(`'options.callTimeoutMs' passed to 'createOnnxDenoiser' must be positive, got ${o.callTimeoutMs}`);
  const runtimeModule = o.runtimeModule ?? 'onnxruntime-node';
  if (typeof runtimeModule !== 'string' || !runtimeModule) throw new TypeError(`'options.runtimeModule' passed to 'createOnnxDenoiser' must be a module name, got ${String(o.runtimeModule)}`);
  return { threads, callTimeoutMs, runtimeModule };
}

/** Checks a call's inputs as `UNet.apply` does, naming the argument. */
function checkCall(c: ResolvedUNetConfig, x: tf.Tensor4D, t: tf.Tensor1D, y: tf.Tensor1D | undefined): void {
  const fn = 'OnnxDenoiser';
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new TypeError(`'x' passed to '${fn}' must be a 4-D NHWC tensor, got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
  const [b, h, w, ch] = x.shape;
  if (ch !== c.inChannels) throw new RangeError(`'x' passed to '${fn}' must have ${c.inChannels} channels, got shape [${x.shape}]`);
  const m = 2 ** (c.channelMult.length - 1);
  if (h % m !== 0 || w % m !== 0) throw new RangeError(`'x' passed to '${fn}' must have height and width divisible by ${m} (the U-Net's ${c.channelMult.length} levels), got [${h}, ${w}]`);
  if (!(t instanceof tf.Tensor) || t.rank !== 1 || t.shape[0] !== b) throw new RangeError(`'t' passed to '${fn}' must be a 1-D tensor with one timestep per image (${b}), got ${t instanceof tf.Tensor ? `shape [${t.shape}]` : typeof t}`);
  if (c.numClasses !== null && y === undefined) throw new Error(`'y' passed to '${fn}' is required: the model is class-conditional (${c.numClasses} classes)`);
  if (c.numClasses === null && y !== undefined) throw new Error(`'y' passed to '${fn}' must be omitted: the model is not class-conditional`);
  if (y !== undefined && (!(y instanceof tf.Tensor) || y.rank !== 1 || y.shape[0] !== b)) throw new RangeError(`'y' passed to '${fn}' must be a 1-D tensor with one label per image (${b})`);
}

/**
 * Converts `unet` to ONNX ({@link unetToOnnx}) and opens an ONNX Runtime CPU
 * session on it in a worker thread; resolves to the synchronous forward
 * function ({@link OnnxDenoiser}) to pass as the samplers' `model`. The
 * weights are copied: later changes to `unet`'s weights are not seen, and
 * `unet` may be disposed.
 *
 * @example
 * ```ts
 * const model = await createOnnxDenoiser(unet);
 * const out = await guidedSampleKnown({ diffusion, model, regressor, image, ... });
 * await model.dispose();
 * ```
 *
 * @param unet - the U-Net of `@tumorcast/unet`.
 * @param options - see {@link OnnxDenoiserOptions}.
 * @throws OnnxRuntimeUnavailableError when onnxruntime-node cannot be loaded; an
 *   Error on the `webgpu` backend in Node, where the synchronous reads it needs are impossible.
 */
export async function createOnnxDenoiser(unet: UNet, options: OnnxDenoiserOptions = {}): Promise<OnnxDenoiser> {
  if (!unet || typeof unet.stateDict !== 'function' || !unet.config) throw new TypeError(`'unet' passed to 'createOnnxDenoiser' must be a UNet of @tumorcast/unet`);
  const o = checkOptions(options);
  if (!syncReadsAvailable()) {
    // The samplers call their model synchronously, and ONNX Runtime runs on the CPU: each call must
    // read x from the GPU synchronously, which WebGPU in Node cannot (tfjs reads it through an OffscreenCanvas).
    throw new Error(
      `the OnnxDenoiser cannot run on the '${tf.getBackend()}' backend in Node: the samplers call their model synchronously, so it must read `
        + 'its inputs synchronously to hand them to ONNX Runtime on the CPU, which WebGPU cannot do in Node. '
        + "Run the U-Net with tfjs on the GPU instead (no ONNX denoiser), or use the ONNX denoiser with the wasm, tensorflow or cpu backend",
    );
  }
  let modulePath: string;
  try {
    modulePath = createRequire(import.meta.url).resolve(o.runtimeModule);
  } catch (e) {
    throw new OnnxRuntimeUnavailableError(o.runtimeModule, e);
  }
  const config = unet.config;
  const model = unetToOnnx(unet);
  const modelBytes = model.length;
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { modulePath } });
  worker.unref(); // a forgotten dispose() must not keep the process alive
  const loaded = await nextReply(worker).catch((e: unknown) => ({ type: 'error', stage: 'load', message: (e as Error).message }) as const);
  if (loaded.type === 'error') {
    await worker.terminate();
    throw new OnnxRuntimeUnavailableError(o.runtimeModule, new Error(loaded.message));
  }
  const ready = nextReply(worker);
  worker.postMessage({
    model,
    sessionOptions: {
      intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      // no busy-waiting between operators: on a machine shared with tfjs (the regressor) and other
      // processes, spinning threads burn the cores the others need (measured: ~20% less CPU per forward)
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    },
  }, [model.buffer as ArrayBuffer]);
  const r = await ready.catch((e: unknown) => ({ type: 'error', stage: 'session', message: (e as Error).message }) as const);
  if (r.type === 'error') {
    await worker.terminate();
    throw new Error(`ONNX Runtime could not open the U-Net's ONNX model: ${r.message}`);
  }

  const ctrlBuf = new SharedArrayBuffer(8);
  const ctrl = new Int32Array(ctrlBuf);
  const errBuf = new SharedArrayBuffer(4096);
  let outBuf = new SharedArrayBuffer(4);
  let disposed = false;

  const forward = (x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D): tf.Tensor4D => {
    if (disposed) throw new Error(`the OnnxDenoiser was disposed`);
    checkCall(config, x, t, y);
    const [b, h, w] = x.shape;
    const size = b * h * w * config.outChannels;
    if (outBuf.byteLength !== 4 * size) outBuf = new SharedArrayBuffer(4 * size);
    let xData: Float32Array<ArrayBuffer>;
    let tData: Float32Array<ArrayBuffer>;
    let yData: BigInt64Array<ArrayBuffer> | undefined;
    try {
      xData = Float32Array.from(x.dataSync());
      tData = Float32Array.from(t.dataSync());
      yData = y === undefined ? undefined : BigInt64Array.from(y.dataSync(), (v) => BigInt(Math.trunc(v)));
    } catch (e) {
      // the samplers call their model synchronously, so the inputs must be readable synchronously
      throw new Error(`the OnnxDenoiser reads its inputs synchronously, which the '${tf.getBackend()}' backend cannot (${(e as Error).message}); use it with the wasm, cpu or tensorflow backend`, { cause: e });
    }
    Atomics.store(ctrl, 0, 0);
    worker.postMessage({ x: xData, xDims: x.shape, t: tData, y: yData, out: outBuf, ctrl: ctrlBuf, err: errBuf }, [xData.buffer, tData.buffer, ...(yData ? [yData.buffer] : [])]);
    const waited = Atomics.wait(ctrl, 0, 0, o.callTimeoutMs);
    if (waited === 'timed-out') throw new Error(`the ONNX Runtime forward pass did not finish within ${o.callTimeoutMs} ms (options.callTimeoutMs)`);
    if (Atomics.load(ctrl, 0) === 2) {
      const msg = new TextDecoder().decode(new Uint8Array(errBuf).slice(0, Atomics.load(ctrl, 1)));
      throw new Error(`the ONNX Runtime forward pass failed: ${msg}`);
    }
    return tf.tensor4d(new Float32Array(outBuf).slice(), [b, h, w, config.outChannels]);
  };
  return Object.assign(forward, {
    config,
    modelBytes,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await worker.terminate();
    },
  });
}
