/**
 * Kernels that fill the gaps of `@tensorflow/tfjs-backend-wasm` for training
 * and guidance, built by composing the wasm backend's own registered kernels
 * (so the arithmetic runs in XNNPACK/SIMD, never in JavaScript loops).
 *
 * Each fill is a plain `KernelConfig`, registered by
 * {@link registerWasmKernelFills} and removable again, so that faster native
 * kernels can be swapped in later without touching callers.
 */
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type Backend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean; incRef(dataId: object): void };

/** The arguments tfjs passes to a kernel function (as `KernelFunc` receives them). */
export interface KernelFillArgs {
  /** Input tensor infos by the kernel's input names (e.g. `x`, `dy`). */
  inputs: Record<string, tf.TensorInfo>;
  /** The wasm backend instance. */
  backend: tf.KernelBackend;
  /** The kernel's attributes (strides, pad, ...). */
  attrs: Record<string, unknown>;
}

/** Runs another registered wasm kernel on tensor infos. */
function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: Attrs = {}): TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`tumorcast: the wasm backend has no '${name}' kernel, needed by a kernel fill`);
  const out = k.kernelFunc({ inputs, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]);
  return Array.isArray(out) ? (out[0] as TensorInfo) : (out as TensorInfo);
}

/** Frees intermediate tensor infos created inside a kernel. */
function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const i of infos) backend.disposeData(i.dataId);
}

function reshape(backend: Backend, x: TensorInfo, shape: number[]): TensorInfo {
  return run('Reshape', backend, { x }, { shape });
}

function transpose(backend: Backend, x: TensorInfo, perm: number[]): TensorInfo {
  return run('Transpose', backend, { x }, { perm });
}

function slice(backend: Backend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return run('Slice', backend, { x }, { begin, size });
}

function convInfoOf(xShape: number[], filterShape: number[], attrs: Attrs): tf.backend_util.Conv2DInfo {
  const dataFormat = (attrs['dataFormat'] as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') throw new Error(`tumorcast wasm kernel fills support NHWC only, got dataFormat '${dataFormat}'`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
}

/** The inputs, shapes, strides and leading pads of a `Conv2DBackpropFilter` call. */
function filterGradArgs(args: KernelFillArgs) {
  const { inputs, attrs } = args;
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const filterShape = attrs['filterShape'] as number[];
  const info = convInfoOf(x.shape, filterShape, attrs);
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [kh, kw, , co] = filterShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  return {
    backend: args.backend as Backend, x, dy, n, h, w, ci, kh, kw, co, oh, ow,
    sH: info.strideHeight, sW: info.strideWidth, pt: info.padInfo.top, pl: info.padInfo.left,
  };
}

const DEFAULT_FILTER_GRAD_WINDOW_BYTES = 32 * 1024 * 1024;
/** Bytes of windows the matrix-product weight gradient may build at once; set by {@link registerWasmKernelFills}. */
let filterGradWindowBytes = DEFAULT_FILTER_GRAD_WINDOW_BYTES;

/** A new float32 tensor info on the wasm heap, written in JavaScript by `fill` (no kernel call). */
function fillNew(backend: Backend, shape: number[], fill: (dst: Float32Array) => void): TensorInfo {
  const b = backend as unknown as {
    makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  };
  const out = b.makeOutput(shape, 'float32');
  // Views are taken after the allocation: growing the heap detaches older ones.
  fill(heapView(backend, out));
  return out;
}

function heapView(backend: Backend, t: TensorInfo): Float32Array {
  return (backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(t);
}

/**
 * `Conv2DBackpropFilter` (the weight gradient of conv2d) for wasm as plain
 * matrix products, which tfjs runs in XNNPACK at its full speed:
 * `dW[ky, kx] = X(ky, kx) · dy`, where `X(ky, kx)` is the padded input
 * shifted by the filter offset, laid out channels-first (`[ci, pixels]`).
 *
 * The padded input is transposed once to `[ci, batch, rows, cols]` (split by
 * stride phase for strides > 1, so that every offset reads a contiguous run
 * per channel and image, all in one pass), and `dy` is padded with zero
 * columns to the same row length: a window is then a few long copies, its
 * extra columns meet zeros of `dy`, and the products of a chunk share one
 * right operand, which XNNPACK packs once. Windows of several offsets are stacked into one
 * product, up to a byte budget; above it the pixels are split into chunks
 * (images, or rows of one image) whose products are summed, so the extra
 * memory stays bounded whatever the image size. One difference from an
 * exact sum: an infinite or NaN input value can also turn the gradient of
 * weights it does not touch into NaN (it meets a zero of the padded `dy`).
 */
export function conv2dBackpropFilterWasm(args: KernelFillArgs): tf.TensorInfo {
  const { backend, x, dy, n, h, w, ci, kh, kw, co, oh, ow, sH, sW, pt, pl } = filterGradArgs(args);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || n * oh * ow * ci * co === 0) return conv2dBackpropFilterAsConvWasm(args);

  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  // Rows and columns of the stride-phase grid: offset ky reads phase ky % sH, shifted by floor(ky / sH).
  const hp = Math.ceil(((oh - 1) * sH + kh) / sH);
  const wp = Math.ceil(((ow - 1) * sW + kw) / sW);
  const hs = hp * sH;
  const ws = wp * sW;
  const cn = ci * n;
  const plane = hp * wp;
  // One pass over x: zero padding, channels-first transpose and stride-phase split at once,
  // [n, h, w, ci] -> [sH, sW, ci, n, hp, wp]. Rows/columns past the last window ('valid'
  // with a remainder) are never read and are left out. A JavaScript loop: the wasm
  // backend's PadV2 + Transpose take about twice as long for the same result.
  const hUse = Math.min(h, hs - pt);
  const wUse = Math.min(w, ws - pl);
  const phases = keep(
    fillNew(backend, [sH * sW * cn * plane], (dst) => {
      const src = heapView(backend, x);
      dst.fill(0);
      for (let b = 0; b < n; b++) {
        for (let y = 0; y < hUse; y++) {
          const ry = (y + pt) % sH;
          const yq = (y + pt - ry) / sH;
          const rowBase = (b * h + y) * w * ci;
          for (let rx = 0; rx < sW; rx++) {
            const x0 = (((rx - pl) % sW) + sW) % sW; // first column of phase rx
            if (x0 >= wUse) continue;
            const xq0 = (x0 + pl - rx) / sW;
            const step = sW * ci;
            for (let c = 0; c < ci; c++) {
              let d = ((ry * sW + rx) * cn + c * n + b) * plane + yq * wp + xq0;
              for (let xx = x0, si = rowBase + x0 * ci + c; xx < wUse; xx += sW, si += step) dst[d++] = src[si] as number;
            }
          }
        }
      }
    }),
  );
  // dy with zero columns up to the phase row length: its pixels line up with the windows'.
  const dyp = wp === ow ? dy : keep(run('PadV2', backend, { x: dy }, { paddings: [[0, 0], [0, 0], [0, wp - ow], [0, 0]], constantValue: 0 }));

  // Chunks of pixels: whole images while one offset's window of them fits the budget, else rows of one image.
  const rowBytes = ci * wp * 4;
  const rowsFit = Math.max(1, Math.floor(filterGradWindowBytes / rowBytes));
  const chunks: { b0: number; nb: number; y0: number; rows: number }[] = [];
  // Chunks of even size: a 2-row remainder would be a product too thin for XNNPACK.
  if (rowsFit >= oh) {
    const perChunk = Math.max(1, Math.floor(rowsFit / oh));
    const nb = Math.ceil(n / Math.ceil(n / perChunk));
    for (let b0 = 0; b0 < n; b0 += nb) chunks.push({ b0, nb: Math.min(nb, n - b0), y0: 0, rows: oh });
  } else {
    const rows = Math.ceil(oh / Math.ceil(oh / rowsFit));
    for (let b0 = 0; b0 < n; b0++) for (let y0 = 0; y0 < oh; y0 += rows) chunks.push({ b0, nb: 1, y0, rows: Math.min(rows, oh - y0) });
  }
  const taps = kh * kw;
  let acc: TensorInfo | undefined;
  for (const { b0, nb, y0, rows } of chunks) {
    const len = rows * wp;
    const pixels = nb * len;
    const group = Math.max(1, Math.min(taps, Math.floor(filterGradWindowBytes / (ci * pixels * 4))));
    const whole = chunks.length === 1;
    const b = whole ? reshape(backend, dyp, [1, pixels, co]) : copyRange(backend, dyp, (b0 * oh + y0) * wp * co, [1, pixels, co]);
    const parts: TensorInfo[] = [];
    for (let t0 = 0; t0 < taps; t0 += group) {
      const g = Math.min(group, taps - t0);
      // A 1x1, stride-1, unpadded kernel's only window is the transposed input itself.
      const win = taps === 1 && sH === 1 && sW === 1 && whole && hp === oh ? reshape(backend, phases, [1, ci, pixels]) : fillNew(backend, [1, g * ci, pixels], (dst) => {
        const src = heapView(backend, phases);
        const total = src.length;
        let d = 0;
        for (let t = t0; t < t0 + g; t++) {
          const ky = Math.floor(t / kw);
          const kx = t % kw;
          const base = ((ky % sH) * sW + (kx % sW)) * cn * plane + (Math.floor(ky / sH) + y0) * wp + Math.floor(kx / sW);
          for (let c = 0; c < ci; c++) {
            for (let bi = b0; bi < b0 + nb; bi++, d += len) {
              const s0 = base + (c * n + bi) * plane;
              // The last run can end a few columns past the buffer: those meet zero columns of dy.
              const end = Math.min(s0 + len, total);
              dst.set(src.subarray(s0, end), d);
              if (end < s0 + len) dst.fill(0, d + end - s0, d + len);
            }
          }
        }
      });
      const prod = run('BatchMatMul', backend, { a: win, b }, { transposeA: false, transposeB: false });
      free(backend, win);
      parts.push(reshape(backend, prod, [g * ci, co]));
      free(backend, prod);
    }
    free(backend, b);
    const part = parts.length === 1 ? (parts[0] as TensorInfo) : run('Concat', backend, parts as unknown as Record<string, TensorInfo>, { axis: 0 });
    if (parts.length > 1) free(backend, ...parts);
    if (acc === undefined) acc = part;
    else {
      const sum = run('Add', backend, { a: acc, b: part });
      free(backend, acc, part);
      acc = sum;
    }
  }
  const out = reshape(backend, acc as TensorInfo, [kh, kw, ci, co]);
  free(backend, acc as TensorInfo, ...temps);
  return out;
}

/** A copy of `size` consecutive values of `src` from `offset`, shaped `shape` (Slice would copy all of `src` first). */
function copyRange(backend: Backend, src: TensorInfo, offset: number, shape: number[]): TensorInfo {
  const size = shape.reduce((p, q) => p * q, 1);
  return fillNew(backend, shape, (dst) => dst.set(heapView(backend, src).subarray(offset, offset + size)));
}

/**
 * `Conv2DBackpropFilter` for wasm as one convolution of transposed tensors:
 * the batch axis becomes the channel axis, `dy` becomes the filter, and the
 * forward stride becomes a dilation. The earlier formulation, kept as an
 * alternative (`conv2dBackpropFilter: 'convolution'` in
 * {@link WasmKernelFillOptions}): XNNPACK runs it with only `batch` channels
 * per filter tap, a third to a half of its matrix-product speed.
 */
export function conv2dBackpropFilterAsConvWasm(args: KernelFillArgs): tf.TensorInfo {
  const { backend, x, dy, n, h, w, ci, kh, kw, co, oh, ow, sH, sW, pt, pl } = filterGradArgs(args);

  if (kh === 1 && kw === 1 && sH === 1 && sW === 1 && pt === 0 && pl === 0 && oh === h && ow === w) {
    const x3 = reshape(backend, x, [1, n * h * w, ci]);
    const dy3 = reshape(backend, dy, [1, n * h * w, co]);
    const prod = run('BatchMatMul', backend, { a: x3, b: dy3 }, { transposeA: true, transposeB: false });
    const out = reshape(backend, prod, [1, 1, ci, co]);
    free(backend, x3, dy3, prod);
    return out;
  }

  // Rows of the (padded) input that the dilated dy-filter covers: kh + (oh-1)*sH.
  let pb = kh + (oh - 1) * sH - h - pt;
  let pr = kw + (ow - 1) * sW - w - pl;
  let xt = transpose(backend, x, [3, 1, 2, 0]); // [ci, H, W, n]
  if (pb < 0 || pr < 0) {
    const hh = h + Math.min(pb, 0);
    const ww = w + Math.min(pr, 0);
    const cropped = slice(backend, xt, [0, 0, 0, 0], [ci, hh, ww, n]);
    free(backend, xt);
    xt = cropped;
    pb = Math.max(pb, 0);
    pr = Math.max(pr, 0);
  }
  const dyt = transpose(backend, dy, [1, 2, 0, 3]); // [oh, ow, n, co]
  const conv = run('Conv2D', backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [sH, sW],
  }); // [ci, kh, kw, co]
  const out = transpose(backend, conv, [1, 2, 0, 3]);
  free(backend, xt, dyt, conv);
  return out;
}

/** One axis of one stride phase of the input gradient (see {@link conv2dBackpropInputByPhase}). */
interface PhaseAxis {
  /** First filter tap of the phase (taps `first`, `first + stride`, ...). */
  first: number;
  /** Number of taps. */
  taps: number;
  /** Input-gradient pixels of the phase along this axis. */
  size: number;
  /** Leading `dy` pixels skipped (a pad larger than the kernel). */
  skip: number;
  /** Zero padding before and after `dy` for the stride-1 convolution. */
  before: number;
  after: number;
}

/** Phase `r` of one axis: input pixels `s*a + r` read `dy[a + q - m]` with tap `first + s*m`. */
function phaseAxis(r: number, s: number, k: number, pad: number, size: number, dySize: number): PhaseAxis {
  const first = (((r + pad) % s) + s) % s;
  const taps = Math.max(0, Math.ceil((k - first) / s));
  const count = Math.max(0, Math.ceil((size - r) / s));
  const q = Math.floor((r + pad) / s);
  const lead = taps - 1 - q; // dy pixels of zeros before output 0 reads dy[0]
  const skip = Math.max(0, -lead);
  const before = Math.max(0, lead);
  const after = Math.max(0, count + taps - 1 - before - (dySize - skip));
  return { first, taps, size: count, skip, before, after };
}

/**
 * `Conv2DBackpropInput` for strides > 1 by stride phase (the sub-pixel form
 * of a transposed convolution): the input-gradient pixels
 * `dx[n, sH*i + ry, sW*j + rx, :]` are a stride-1 convolution of `dy` (no
 * zeros inserted) with the filter taps of that phase, flipped and with in/out
 * channels swapped. Each phase is one XNNPACK convolution, and one pass in
 * JavaScript interleaves them; zero insertion would spend `sH*sW - 1` of
 * every `sH*sW` multiply-adds on zeros.
 */
function conv2dBackpropInputByPhase(
  backend: Backend, dy: TensorInfo, filter: TensorInfo,
  n: number, h: number, w: number, ci: number, kh: number, kw: number, co: number,
  sH: number, sW: number, padTop: number, padLeft: number,
): TensorInfo {
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const rows = Array.from({ length: sH }, (_, r) => phaseAxis(r, sH, kh, padTop, h, oh));
  const cols = Array.from({ length: sW }, (_, r) => phaseAxis(r, sW, kw, padLeft, w, ow));
  const phases: { ry: number; rx: number; t: TensorInfo }[] = [];
  const temps: TensorInfo[] = [];
  try {
    for (let ry = 0; ry < sH; ry++) {
      const py = rows[ry] as PhaseAxis;
      if (py.taps === 0 || py.size === 0 || py.skip >= oh) continue; // all zeros
      for (let rx = 0; rx < sW; rx++) {
        const px = cols[rx] as PhaseAxis;
        if (px.taps === 0 || px.size === 0 || px.skip >= ow) continue;
        // Sub-filter [taps_y, taps_x, co, ci]: flipped taps of this phase, channels swapped.
        const sub = fillNew(backend, [py.taps, px.taps, co, ci], (dst) => {
          const f = heapView(backend, filter);
          let o = 0;
          for (let jy = 0; jy < py.taps; jy++) {
            const ky = py.first + sH * (py.taps - 1 - jy);
            for (let jx = 0; jx < px.taps; jx++) {
              const base = (ky * kw + px.first + sW * (px.taps - 1 - jx)) * ci * co;
              for (let c2 = 0; c2 < co; c2++) {
                for (let c1 = 0; c1 < ci; c1++) dst[o++] = f[base + c1 * co + c2] as number;
              }
            }
          }
        });
        temps.push(sub);
        let src = dy;
        if (py.skip > 0 || px.skip > 0) {
          src = slice(backend, dy, [0, py.skip, px.skip, 0], [n, oh - py.skip, ow - px.skip, co]);
          temps.push(src);
        }
        const t = run('Conv2D', backend, { x: src, filter: sub }, {
          strides: [1, 1],
          pad: [[0, 0], [py.before, py.after], [px.before, px.after], [0, 0]],
          dataFormat: 'NHWC',
          dilations: [1, 1],
        });
        temps.push(t);
        phases.push({ ry, rx, t });
      }
    }
    return fillNew(backend, [n, h, w, ci], (dst) => {
      if (phases.length < sH * sW) dst.fill(0);
      for (const { ry, rx, t } of phases) {
        const [, th, tw] = t.shape as [number, number, number, number];
        const ny = (rows[ry] as PhaseAxis).size;
        const nx = (cols[rx] as PhaseAxis).size;
        const src = heapView(backend, t);
        for (let b = 0; b < n; b++) {
          for (let a = 0; a < ny; a++) {
            const srow = ((b * th + a) * tw) * ci;
            const drow = ((b * h + sH * a + ry) * w + rx) * ci;
            for (let j = 0; j < nx; j++) {
              const s0 = srow + j * ci;
              const d0 = drow + j * sW * ci;
              for (let c = 0; c < ci; c++) dst[d0 + c] = src[s0 + c] as number;
            }
          }
        }
      }
    });
  } finally {
    free(backend, ...temps);
  }
}

/**
 * `Conv2DBackpropInput` (the input gradient of conv2d) for wasm as
 * convolutions that run in XNNPACK (the wasm backend's own kernel is a naive
 * loop; this halves a U-Net training step). Stride 1: `dy`, padded, convolved
 * with the spatially flipped filter whose in/out channels are swapped.
 * Strides > 1: one such convolution per stride phase with that phase's taps,
 * interleaved. Non-float32 tensors take the zero-insertion form, and pads
 * it cannot express the backend's own kernel.
 */
export function conv2dBackpropInputWasm(args: KernelFillArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const dy = inputs['dy'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  const inputShape = attrs['inputShape'] as number[];
  const info = convInfoOf(inputShape, filter.shape, attrs);
  const [n, h, w, ci] = inputShape as [number, number, number, number];
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const sH = info.strideHeight;
  const sW = info.strideWidth;
  if ((sH > 1 || sW > 1) && dy.dtype === 'float32' && filter.dtype === 'float32' && oh > 0 && ow > 0) {
    return conv2dBackpropInputByPhase(backend, dy, filter, n, h, w, ci, kh, kw, co, sH, sW, info.padInfo.top, info.padInfo.left);
  }

  // Zero-insertion: [n, oh, 1, ow, 1, co] padded to [n, oh, sH, ow, sW, co].
  let dyd: TensorInfo;
  const hd = (oh - 1) * sH + 1;
  const wd = (ow - 1) * sW + 1;
  if (sH === 1 && sW === 1) {
    dyd = reshape(backend, dy, [n, oh, ow, co]);
  } else {
    const d6 = reshape(backend, dy, [n, oh, 1, ow, 1, co]);
    const padded = run('PadV2', backend, { x: d6 }, {
      paddings: [[0, 0], [0, 0], [0, sH - 1], [0, 0], [0, sW - 1], [0, 0]],
      constantValue: 0,
    });
    const flat = reshape(backend, padded, [n, oh * sH, ow * sW, co]);
    dyd = slice(backend, flat, [0, 0, 0, 0], [n, hd, wd, co]);
    free(backend, d6, padded, flat);
  }
  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const ft = transpose(backend, flipped, [0, 1, 3, 2]); // [kh, kw, co, ci]
  free(backend, flipped);

  const pt = kh - 1 - info.padInfo.top;
  const pl = kw - 1 - info.padInfo.left;
  let pb = h + kh - 1 - hd - pt;
  let pr = w + kw - 1 - wd - pl;
  let src = dyd;
  if (pb < 0 || pr < 0 || pt < 0 || pl < 0) {
    // Unusual paddings (pad larger than the kernel): fall back to the native kernel.
    free(backend, dyd, ft);
    const native = originalKernels.get('Conv2DBackpropInput');
    if (!native) throw new Error('tumorcast: no native Conv2DBackpropInput kernel to fall back to');
    return native.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  pb = Math.max(pb, 0);
  pr = Math.max(pr, 0);
  const out = run('Conv2D', backend, { x: src, filter: ft }, {
    strides: [1, 1],
    pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
  });
  free(backend, src, ft);
  src = out;
  if (out.shape[3] !== ci) throw new Error('tumorcast: internal error in Conv2DBackpropInput fill');
  return out;
}

/** Below this many multiply-adds per product, the wasm backend's own loop beats the extra kernel calls. */
const XNN_MATMUL_MIN_MACS = 1 << 16;

/**
 * `BatchMatMul` for wasm, routed to XNNPACK wherever tfjs's kernel is not:
 * tfjs runs only an untransposed product of a single matrix pair in XNNPACK
 * (threaded, SIMD) and everything else (`transposeA`, `transposeB`, a batch
 * of pairs) in a scalar loop some 10x slower. Here transposed operands are
 * transposed first, and a batch is run pair by pair (a broadcast operand of
 * batch 1 shared by all), each pair in XNNPACK, the results concatenated.
 * Small products, other dtypes and general batch broadcasting stay on the
 * backend's own kernel. Matrix-product gradients (`dy b^T`, `a^T dy`) and the
 * 1x1 convolution weight gradient come through here.
 */
export function batchMatMulWasm(args: KernelFillArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const a = inputs['a'] as TensorInfo;
  const b = inputs['b'] as TensorInfo;
  const transposeA = attrs['transposeA'] === true;
  const transposeB = attrs['transposeB'] === true;
  const own = originalKernels.get('BatchMatMul');
  if (!own) throw new Error("tumorcast: the wasm backend's own 'BatchMatMul' kernel is needed by the BatchMatMul fill");
  const native = (x: TensorInfo, y: TensorInfo, ta: boolean, tb: boolean): TensorInfo =>
    own.kernelFunc({ inputs: { a: x, b: y }, backend, attrs: { transposeA: ta, transposeB: tb } } as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2) return native(a, b, transposeA, transposeB);
  const m = (transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
  const k = (transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
  const n = (transposeB ? b.shape[rb - 2] : b.shape[rb - 1]) as number;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((p, q) => p * q, 1);
  const batchB = outerB.reduce((p, q) => p * q, 1);
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  const batch = Math.max(batchA, batchB);
  const simple = sameOuter || batchA === 1 || batchB === 1;
  const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  if (plain || !simple || m * k * n < XNN_MATMUL_MIN_MACS || (transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) !== k) {
    // The backend's kernel: XNNPACK already, too small to gain, or a shape error it reports.
    return native(a, b, transposeA, transposeB);
  }
  const outShape = [...(outerA.length >= outerB.length ? outerA : outerB), m, n];
  if (batchA === batch && batchB === batch && !sameOuter) return native(a, b, transposeA, transposeB);
  const temps: TensorInfo[] = [];
  const keep = (t: TensorInfo): TensorInfo => {
    temps.push(t);
    return t;
  };
  // [batch, m, k] and [batch, k, n], transposed in memory where asked.
  let a3 = keep(reshape(backend, a, transposeA ? [batchA, k, m] : [batchA, m, k]));
  if (transposeA) a3 = keep(transpose(backend, a3, [0, 2, 1]));
  let b3 = keep(reshape(backend, b, transposeB ? [batchB, n, k] : [batchB, k, n]));
  if (transposeB) b3 = keep(transpose(backend, b3, [0, 2, 1]));
  let out: TensorInfo;
  if (batch === 1) {
    out = keep(native(a3, b3, false, false));
  } else {
    const parts: TensorInfo[] = [];
    for (let i = 0; i < batch; i++) {
      const ai = batchA === 1 ? a3 : keep(slice(backend, a3, [i, 0, 0], [1, m, k]));
      const bi = batchB === 1 ? b3 : keep(slice(backend, b3, [i, 0, 0], [1, k, n]));
      parts.push(keep(native(ai, bi, false, false)));
    }
    out = keep(run('Concat', backend, parts as unknown as Record<string, TensorInfo>, { axis: 0 }));
  }
  const result = reshape(backend, out, outShape);
  free(backend, ...temps);
  return result;
}

/**
 * `UnsortedSegmentSum` (the gradient of gather) for wasm: a one-hot matrix of
 * the segment ids times the data. Ids outside [0, numSegments) are dropped,
 * as in TensorFlow.
 */
export function unsortedSegmentSumWasm(args: KernelFillArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as Backend;
  const x = inputs['x'] as TensorInfo;
  const ids = inputs['segmentIds'] as TensorInfo;
  const numSegments = attrs['numSegments'] as number;
  const nIds = ids.shape.reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(ids.shape.length);
  const d = rest.reduce((a, b) => a * b, 1);
  const idsFlat = reshape(backend, ids, [nIds]);
  const idsInt = ids.dtype === 'int32' ? idsFlat : run('Cast', backend, { x: idsFlat }, { dtype: 'int32' });
  // The wasm OneHot kernel always writes int32, whatever its dtype attribute says.
  const oneHotInt = run('OneHot', backend, { indices: idsInt }, { depth: numSegments, onValue: 1, offValue: 0, dtype: 'int32' });
  const oneHot = run('Cast', backend, { x: oneHotInt }, { dtype: 'float32' });
  const oh3 = reshape(backend, oneHot, [1, nIds, numSegments]);
  const xf = x.dtype === 'float32' ? x : run('Cast', backend, { x }, { dtype: 'float32' });
  const x3 = reshape(backend, xf, [1, nIds, d]);
  const prod = run('BatchMatMul', backend, { a: oh3, b: x3 }, { transposeA: true, transposeB: false });
  const out = reshape(backend, prod, [numSegments, ...rest]);
  free(backend, idsFlat, oneHotInt, oneHot, oh3, x3, prod);
  if (idsInt !== idsFlat) free(backend, idsInt);
  if (xf !== x) free(backend, xf);
  return out;
}

/**
 * `Identity` (behind `tf.clone`, and behind every tensor tfjs keeps for a
 * gradient) for wasm: the result shares the input's buffer, counted by
 * reference as on the cpu and webgl backends, instead of the wasm backend's
 * copy, which doubled the memory of everything saved for the backward pass
 * (activations, and every conv filter at each use). Safe because no kernel
 * writes into its inputs; strings are copied as before.
 */
export function identityWasm(args: KernelFillArgs): tf.TensorInfo {
  const backend = args.backend as Backend;
  const x = args.inputs['x'] as TensorInfo;
  if (x.dtype === 'string') {
    const own = originalKernels.get('Identity');
    if (!own) throw new Error("tumorcast: the wasm backend's own 'Identity' kernel is needed to copy a string tensor");
    return own.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

const originalKernels = new Map<string, tf.KernelConfig>();

/** Options of {@link registerWasmKernelFills}. */
export interface WasmKernelFillOptions {
  /**
   * Replace the wasm backend's own `Conv2DBackpropInput` (a naive loop) with
   * the convolution-based fill.
   * @defaultValue true
   */
  fastConv2dBackpropInput?: boolean;
  /**
   * How the `Conv2DBackpropFilter` fill computes the weight gradient:
   * `'matmul'` as matrix products of shifted input windows and `dy`
   * ({@link conv2dBackpropFilterWasm}), or `'convolution'` as one convolution
   * of transposed tensors with `dy` as the filter (the earlier formulation,
   * slower, most of all on large images; kept for comparison).
   * @defaultValue 'matmul'
   */
  conv2dBackpropFilter?: 'matmul' | 'convolution';
  /**
   * Most bytes of input windows the `'matmul'` weight gradient builds at
   * once (beside a transposed copy of the padded input); larger inputs are
   * processed in chunks of images or rows whose products are summed. Applies
   * to every later call, until registered again.
   * @defaultValue 33554432 (32 MiB)
   */
  filterGradWindowBytes?: number;
}

/** The kernels {@link registerWasmKernelFills} registers, by name. */
export const WASM_KERNEL_FILLS = {
  Conv2DBackpropFilter: conv2dBackpropFilterWasm,
  UnsortedSegmentSum: unsortedSegmentSumWasm,
  Conv2DBackpropInput: conv2dBackpropInputWasm,
  Identity: identityWasm,
  BatchMatMul: batchMatMulWasm,
} as const;

/**
 * Registers tumorcast's kernel fills on the `wasm` backend (idempotent):
 * `Conv2DBackpropFilter` and `UnsortedSegmentSum`, which the wasm backend
 * lacks, an `Identity` that shares buffers instead of copying them, a
 * `BatchMatMul` that runs transposed and batched products in XNNPACK, and (by
 * default) a faster `Conv2DBackpropInput`. Returns the names
 * registered. Requires `@tensorflow/tfjs-backend-wasm` to have been imported.
 */
export function registerWasmKernelFills(options: WasmKernelFillOptions = {}): string[] {
  const fast = options.fastConv2dBackpropInput ?? true;
  const filterGrad = options.conv2dBackpropFilter ?? 'matmul';
  if (filterGrad !== 'matmul' && filterGrad !== 'convolution') {
    throw new Error(`'conv2dBackpropFilter' passed to 'registerWasmKernelFills' must be 'matmul' or 'convolution', got '${String(filterGrad)}'`);
  }
  const windowBytes = options.filterGradWindowBytes ?? DEFAULT_FILTER_GRAD_WINDOW_BYTES;
  if (!Number.isFinite(windowBytes) || windowBytes < 1) {
    throw new RangeError(`'filterGradWindowBytes' passed to 'registerWasmKernelFills' must be a positive number of bytes, got ${windowBytes}`);
  }
  filterGradWindowBytes = windowBytes;
  const names: string[] = [];
  for (const [name, fill] of Object.entries(WASM_KERNEL_FILLS)) {
    if (name === 'Conv2DBackpropInput' && !fast) continue;
    const fn = name === 'Conv2DBackpropFilter' && filterGrad === 'convolution' ? conv2dBackpropFilterAsConvWasm : fill;
    const existing = tf.getKernel(name, 'wasm');
    if (existing && existing.kernelFunc === (fn as unknown)) continue;
    if (existing) {
      const ours = existing.kernelFunc === (fill as unknown) || existing.kernelFunc === (conv2dBackpropFilterAsConvWasm as unknown);
      if (!ours && !originalKernels.has(name)) originalKernels.set(name, existing);
      tf.unregisterKernel(name, 'wasm');
    }
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    names.push(name);
  }
  return names;
}

/**
 * Removes the fills registered by {@link registerWasmKernelFills} and
 * restores the wasm backend's own kernels where it had one.
 */
export function unregisterWasmKernelFills(): void {
  for (const [name, fn] of Object.entries(WASM_KERNEL_FILLS)) {
    const existing = tf.getKernel(name, 'wasm');
    const ours = existing?.kernelFunc === (fn as unknown) || (name === 'Conv2DBackpropFilter' && existing?.kernelFunc === (conv2dBackpropFilterAsConvWasm as unknown));
    if (!existing || !ours) continue;
    tf.unregisterKernel(name, 'wasm');
    const orig = originalKernels.get(name);
    if (orig) tf.registerKernel(orig);
  }
}
