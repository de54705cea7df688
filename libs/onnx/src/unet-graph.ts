/**
 * guided-diffusion's UNetModel as an ONNX graph, built from a
 * `@tumorcast/unet` U-Net's resolved config and PyTorch-layout state dict
 * (the same module walk as the tfjs model, so the same parameter names).
 * The graph computes in NCHW, as ONNX Runtime's CPU kernels do; its input
 * and output are NHWC like the tfjs model's.
 */
import type { ResolvedUNetConfig, UNet } from '@tumorcast/unet';
import { ONNX_FLOAT, ONNX_INT64, OnnxGraph } from './onnx-proto.js';
import type { OnnxModelOptions } from './onnx-proto.js';

/** Names of the graph's inputs and output. */
export const UNET_ONNX_IO = Object.freeze({
  /** NHWC images, float32 `[batch, height, width, inChannels]`. */
  x: 'x',
  /** Timesteps, float32 `[batch]`. */
  t: 't',
  /** Class labels, int64 `[batch]` (only in class-conditional models). */
  y: 'y',
  /** The prediction, float32 `[batch, height, width, outChannels]`. */
  out: 'out',
});

/** Options of {@link unetToOnnx}. */
export type UNetToOnnxOptions = Pick<OnnxModelOptions, 'producer'>;

type StateDict = Map<string, { shape: number[]; data: Float32Array }>;

/** The graph-building walk over the U-Net's modules. */
class UNetGraphBuilder {
  readonly g = new OnnxGraph('unet');
  private readonly used = new Set<string>();

  constructor(private readonly sd: StateDict, private readonly c: ResolvedUNetConfig) {}

  /** A parameter as an initializer, optionally with other dims (same values: for broadcasting or a 2-D matmul weight). */
  param(name: string, dims?: readonly number[]): string {
    const p = this.sd.get(name);
    if (!p) throw new Error(`'unet' passed to 'unetToOnnx' lacks the parameter '${name}' its config implies`);
    if (this.used.has(name)) throw new Error(`unetToOnnx: parameter '${name}' used twice`);
    this.used.add(name);
    return this.g.initializer(name, dims ?? p.shape, p.data);
  }

  /** Parameters of the state dict that no node used (a walk that disagrees with the model). */
  unused(): string[] {
    return [...this.sd.keys()].filter((k) => !this.used.has(k));
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])], {}, 'silu');
  }

  /** GroupNorm(32) with PyTorch's eps, on `[B, C, ...]`: instance norm over groups, then the per-channel affine. */
  groupNorm(prefix: string, x: string, channels: number, spatialRank: number): string {
    const groups = 32;
    const g = this.g;
    const grouped = g.op('Reshape', [x, g.int64([0, groups, -1])]);
    const normed = g.op('InstanceNormalization', [grouped, g.float32([groups], new Array<number>(groups).fill(1)), g.float32([groups], new Array<number>(groups).fill(0))], { epsilon: { f: 1e-5 } });
    const back = g.op('Reshape', [normed, g.op('Shape', [x])]);
    const dims = [channels, ...new Array<number>(spatialRank).fill(1)];
    return g.op('Add', [g.op('Mul', [back, this.param(`${prefix}.weight`, dims)]), this.param(`${prefix}.bias`, dims)], {}, 'groupnorm');
  }

  conv(prefix: string, x: string, options: { stride?: number; kernel?: number } = {}): string {
    const k = options.kernel ?? this.sd.get(`${prefix}.weight`)?.shape[2] ?? 3;
    const pad = (k - 1) / 2;
    const s = options.stride ?? 1;
    return this.g.op('Conv', [x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`)], {
      kernel_shape: { ints: [k, k] }, pads: { ints: [pad, pad, pad, pad] }, strides: { ints: [s, s] },
    }, 'conv');
  }

  linear(prefix: string, x: string): string {
    return this.g.op('Gemm', [x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`)], { transB: { i: 1 } }, 'linear');
  }

  upsample(x: string): string {
    const g = this.g;
    // PyTorch's interpolate(scale_factor=2, mode='nearest'): source index floor(dst / 2)
    return g.op('Resize', [x, '', g.float32([4], [1, 1, 2, 2])], {
      mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' },
    }, 'upsample');
  }

  avgPool(x: string): string {
    return this.g.op('AveragePool', [x], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }, 'avgpool');
  }

  resBlock(prefix: string, x: string, emb: string, channels: number, out: number, updown: 'up' | 'down' | null = null): string {
    const g = this.g;
    const resample = updown === 'up' ? (v: string) => this.upsample(v) : updown === 'down' ? (v: string) => this.avgPool(v) : null;
    let h = this.silu(this.groupNorm(`${prefix}.in_layers.0`, x, channels, 2));
    const xs = resample ? resample(x) : x;
    if (resample) h = resample(h);
    h = this.conv(`${prefix}.in_layers.2`, h);
    const e = g.op('Unsqueeze', [this.linear(`${prefix}.emb_layers.1`, this.silu(emb)), g.int64([2, 3])]);
    if (this.c.useScaleShiftNorm) {
      const [scale, shift] = g.opN('Split', [e, g.int64([out, out])], 2, { axis: { i: 1 } });
      const n = this.groupNorm(`${prefix}.out_layers.0`, h, out, 2);
      h = this.silu(g.op('Add', [g.op('Mul', [n, g.op('Add', [scale!, g.float32([], [1])])]), shift!]));
    } else {
      h = this.silu(this.groupNorm(`${prefix}.out_layers.0`, g.op('Add', [h, e]), out, 2));
    }
    h = this.conv(`${prefix}.out_layers.3`, h);
    const skip = out === channels ? xs : this.conv(`${prefix}.skip_connection`, xs);
    return g.op('Add', [skip, h], {}, 'resblock');
  }

  attention(prefix: string, x: string, channels: number, numHeads: number): string {
    const g = this.g;
    const c = this.c;
    const heads = c.numHeadChannels === -1 ? numHeads : channels / c.numHeadChannels;
    const ch = channels / heads;
    const x3 = g.op('Reshape', [x, g.int64([0, channels, -1])]);
    const n = this.groupNorm(`${prefix}.norm`, x3, channels, 1);
    const qkv = g.op('Add', [g.op('MatMul', [this.param(`${prefix}.qkv.weight`, [3 * channels, channels]), n]), this.param(`${prefix}.qkv.bias`, [3 * channels, 1])]);
    let q: string;
    let k: string;
    let v: string;
    const perHead = (t: string, width: number) => g.op('Reshape', [t, g.int64([-1, width, 0])]);
    if (c.useNewAttentionOrder) {
      // QKVAttention: all q, all k, all v, each split into heads
      const parts = g.opN('Split', [qkv, g.int64([channels, channels, channels])], 3, { axis: { i: 1 } });
      [q, k, v] = parts.map((p) => perHead(p, ch)) as [string, string, string];
    } else {
      // QKVAttentionLegacy: per head q, k, v
      [q, k, v] = g.opN('Split', [perHead(qkv, 3 * ch), g.int64([ch, ch, ch])], 3, { axis: { i: 1 } }) as [string, string, string];
    }
    // (q s) . (k s) with s = ch^(-1/4), applied once as s^2
    const qs = g.op('Mul', [q, g.float32([], [1 / Math.sqrt(ch)])]);
    const logits = g.op('MatMul', [g.op('Transpose', [qs], { perm: { ints: [0, 2, 1] } }), k]);
    const w = g.op('Softmax', [logits], { axis: { i: -1 } });
    const a = g.op('MatMul', [v, g.op('Transpose', [w], { perm: { ints: [0, 2, 1] } })]);
    const a3 = g.op('Reshape', [a, g.int64([-1, channels, 0])]);
    const h = g.op('Add', [g.op('MatMul', [this.param(`${prefix}.proj_out.weight`, [channels, channels]), a3]), this.param(`${prefix}.proj_out.bias`, [channels, 1])]);
    return g.op('Reshape', [g.op('Add', [x3, h]), g.op('Shape', [x])], {}, 'attention');
  }

  timeEmbedding(t: string): string {
    const g = this.g;
    const dim = this.c.modelChannels;
    const half = Math.floor(dim / 2);
    // float32 arithmetic like PyTorch (and the tfjs model): (-ln(P) * i) / half, then exp
    const lnP = Math.fround(-Math.log(10000));
    const freqs = Array.from({ length: half }, (_, i) => Math.exp(Math.fround(Math.fround(lnP * i) / half)));
    const args = g.op('Mul', [g.op('Unsqueeze', [t, g.int64([1])]), g.float32([1, half], freqs)]);
    const parts = [g.op('Cos', [args]), g.op('Sin', [args])];
    if (dim % 2) parts.push(g.op('Mul', [g.op('Slice', [args, g.int64([0]), g.int64([1]), g.int64([1])]), g.float32([], [0])]));
    return g.op('Concat', parts, { axis: { i: 1 } }, 'timestep_embedding');
  }

  build(): void {
    const c = this.c;
    const g = this.g;
    const mc = c.modelChannels;
    const xIn = g.input(UNET_ONNX_IO.x, ONNX_FLOAT, ['batch', 'height', 'width', c.inChannels]);
    const tIn = g.input(UNET_ONNX_IO.t, ONNX_FLOAT, ['batch']);
    let emb = this.linear('time_embed.2', this.silu(this.linear('time_embed.0', this.timeEmbedding(tIn))));
    if (c.numClasses !== null) {
      const yIn = g.input(UNET_ONNX_IO.y, ONNX_INT64, ['batch']);
      emb = g.op('Add', [emb, g.op('Gather', [this.param('label_emb.weight'), yIn], { axis: { i: 0 } })]);
    }
    const attnBlock = (prefix: string, h: string, ch: number, heads: number) => this.attention(prefix, h, ch, heads);
    let h = g.op('Transpose', [xIn], { perm: { ints: [0, 3, 1, 2] } }, 'nchw');
    // input_blocks (the module walk of @tumorcast/nn's buildInputBlocks)
    let ch = Math.trunc(c.channelMult[0]! * mc);
    h = this.conv('input_blocks.0.0', h);
    const hs: { value: string; channels: number }[] = [{ value: h, channels: ch }];
    let ds = 1;
    let block = 1;
    c.channelMult.forEach((mult, level) => {
      for (let r = 0; r < c.numResBlocks; r++, block++) {
        const out = Math.trunc(mult * mc);
        h = this.resBlock(`input_blocks.${block}.0`, h, emb, ch, out);
        ch = out;
        if (c.attentionDs.includes(ds)) h = attnBlock(`input_blocks.${block}.1`, h, ch, c.numHeads);
        hs.push({ value: h, channels: ch });
      }
      if (level !== c.channelMult.length - 1) {
        const p = `input_blocks.${block}.0`;
        h = c.resblockUpdown ? this.resBlock(p, h, emb, ch, ch, 'down') : c.convResample ? this.conv(`${p}.op`, h, { stride: 2 }) : this.avgPool(h);
        hs.push({ value: h, channels: ch });
        block++;
        ds *= 2;
      }
    });
    // middle_block
    h = this.resBlock('middle_block.0', h, emb, ch, ch);
    h = attnBlock('middle_block.1', h, ch, c.numHeads);
    h = this.resBlock('middle_block.2', h, emb, ch, ch);
    // output_blocks
    const headsUp = c.numHeadsUpsample === -1 ? c.numHeads : c.numHeadsUpsample;
    block = 0;
    for (let level = c.channelMult.length - 1; level >= 0; level--) {
      const mult = c.channelMult[level]!;
      for (let i = 0; i <= c.numResBlocks; i++, block++) {
        const skip = hs.pop()!;
        const out = Math.trunc(mc * mult);
        h = this.resBlock(`output_blocks.${block}.0`, g.op('Concat', [h, skip.value], { axis: { i: 1 } }, 'skip_concat'), emb, ch + skip.channels, out);
        ch = out;
        let j = 1;
        if (c.attentionDs.includes(ds)) h = attnBlock(`output_blocks.${block}.${j++}`, h, ch, headsUp);
        if (level > 0 && i === c.numResBlocks) {
          const p = `output_blocks.${block}.${j}`;
          h = c.resblockUpdown ? this.resBlock(p, h, emb, ch, ch, 'up') : c.convResample ? this.conv(`${p}.conv`, this.upsample(h)) : this.upsample(h);
          ds /= 2;
        }
      }
    }
    h = this.conv('out.2', this.silu(this.groupNorm('out.0', h, ch, 2)));
    g.output(g.op('Transpose', [h], { perm: { ints: [0, 2, 3, 1] } }, 'nhwc'), UNET_ONNX_IO.out, ONNX_FLOAT, ['batch', 'height', 'width', c.outChannels]);
  }
}

/**
 * The ONNX model (opset 17, `ModelProto` bytes) of a `@tumorcast/unet`
 * U-Net with its current weights: inputs {@link UNET_ONNX_IO} `x` (NHWC
 * float32), `t` (float32 timesteps) and, for a class-conditional model, `y`
 * (int64 labels); output `out` (NHWC), the same values as `unet.apply(x, t, y)`.
 * Batch, height and width are free (height and width divisible by
 * 2^(levels-1), as for the tfjs model). The bytes hold every weight
 * (about 4 bytes per parameter).
 *
 * @param unet - the U-Net (its weights are read once; later changes to them are not seen).
 * @param options - see {@link UNetToOnnxOptions}.
 */
export function unetToOnnx(unet: UNet, options: UNetToOnnxOptions = {}): Uint8Array {
  if (!unet || typeof unet.stateDict !== 'function' || !unet.config) throw new TypeError(`'unet' passed to 'unetToOnnx' must be a UNet of @tumorcast/unet`);
  const b = new UNetGraphBuilder(unet.stateDict(), unet.config);
  b.build();
  const unused = b.unused();
  if (unused.length) throw new Error(`unetToOnnx: the graph does not use the parameters ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''} (the U-Net's modules and its config disagree)`);
  return b.g.toModel({ producer: options.producer });
}
