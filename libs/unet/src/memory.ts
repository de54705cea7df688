/**
 * How much memory a training step of the U-Net needs for its activations
 * (the feature maps kept for, and made by, the backward pass), with or
 * without gradient checkpointing: a model of the peak, walked over the
 * architecture, for a memory guard to refuse work that would not fit.
 */
import { resolveUNetConfig } from './config.js';
import type { ResolvedUNetConfig, UNetConfig, UNetPresetName } from './config.js';

/** Options of {@link estimateUNetTrainingMemory}. */
export interface UNetMemoryOptions {
  /**
   * Height = width of the training images.
   * @defaultValue the config's `imageSize`
   */
  imageSize?: number;
}

/** A residual, attention, resampling or plain conv layer, as the model sees it. */
interface Unit {
  kind: 'res' | 'attn' | 'up' | 'down' | 'conv';
  /** Encoder (and middle) or decoder. */
  part: 'enc' | 'dec';
  /** Input channels (for a decoder block: the concatenation). */
  inC: number;
  outC: number;
  /** Pixels per image at the input and at the output. */
  inPx: number;
  outPx: number;
  /** Attention heads (attention only). */
  heads: number;
  /** Parameters (their gradients appear when the backward pass reaches the layer). */
  params: number;
}

/** The layers of the U-Net in forward order (the same walk as the U-Net's construction). */
function units(c: ResolvedUNetConfig, size: number): { list: Unit[]; skips: number } {
  const mc = c.modelChannels;
  const heads = (ch: number, n: number) => (c.numHeadChannels === -1 ? n : ch / c.numHeadChannels);
  const list: Array<Omit<Unit, 'params'>> = [];
  let px = size * size;
  let ch = Math.trunc(c.channelMult[0]! * mc);
  list.push({ kind: 'conv', part: 'enc', inC: c.inChannels, outC: ch, inPx: px, outPx: px, heads: 0 });
  const chans = [ch];
  const pxs = [px];
  let ds = 1;
  c.channelMult.forEach((mult, level) => {
    for (let r = 0; r < c.numResBlocks; r++) {
      const out = Math.trunc(mult * mc);
      list.push({ kind: 'res', part: 'enc', inC: ch, outC: out, inPx: px, outPx: px, heads: 0 });
      ch = out;
      if (c.attentionDs.includes(ds)) list.push({ kind: 'attn', part: 'enc', inC: ch, outC: ch, inPx: px, outPx: px, heads: heads(ch, c.numHeads) });
      chans.push(ch);
      pxs.push(px);
    }
    if (level !== c.channelMult.length - 1) {
      list.push({ kind: c.resblockUpdown ? 'res' : 'down', part: 'enc', inC: ch, outC: ch, inPx: px, outPx: px / 4, heads: 0 });
      px /= 4;
      ds *= 2;
      chans.push(ch);
      pxs.push(px);
    }
  });
  const skips = chans.reduce((s, k, i) => s + k * pxs[i]!, 0);
  list.push({ kind: 'res', part: 'enc', inC: ch, outC: ch, inPx: px, outPx: px, heads: 0 });
  list.push({ kind: 'attn', part: 'enc', inC: ch, outC: ch, inPx: px, outPx: px, heads: heads(ch, c.numHeads) });
  list.push({ kind: 'res', part: 'enc', inC: ch, outC: ch, inPx: px, outPx: px, heads: 0 });
  const headsUp = c.numHeadsUpsample === -1 ? c.numHeads : c.numHeadsUpsample;
  for (let level = c.channelMult.length - 1; level >= 0; level--) {
    for (let i = 0; i <= c.numResBlocks; i++) {
      const skip = chans.pop()!;
      const out = Math.trunc(mc * c.channelMult[level]!);
      list.push({ kind: 'res', part: 'dec', inC: ch + skip, outC: out, inPx: px, outPx: px, heads: 0 });
      ch = out;
      if (c.attentionDs.includes(ds)) list.push({ kind: 'attn', part: 'dec', inC: ch, outC: ch, inPx: px, outPx: px, heads: heads(ch, headsUp) });
      if (level > 0 && i === c.numResBlocks) {
        list.push({ kind: c.resblockUpdown ? 'res' : 'up', part: 'dec', inC: ch, outC: ch, inPx: px, outPx: px * 4, heads: 0 });
        px *= 4;
        ds /= 2;
      }
    }
  }
  // out: GroupNorm + SiLU (keeps its input, the last block's output) and a conv that keeps the SiLU's output
  list.push({ kind: 'conv', part: 'dec', inC: ch, outC: c.outChannels, inPx: px, outPx: px, heads: 0 });
  const emb = 4 * mc;
  const withParams: Unit[] = list.map((u) => ({ ...u, params: unitParams(u, emb, c.useScaleShiftNorm) }));
  // the out layers' GroupNorm, and the timestep (and class) embedding, whose gradients come last
  withParams[withParams.length - 1]!.params += 2 * ch;
  withParams[0]!.params += mc * emb + emb + emb * emb + emb + (c.numClasses ?? 0) * emb;
  return { list: withParams, skips };
}

/** Parameters of a layer (guided-diffusion's: 3x3 convs, 1x1 skip convs, GroupNorms, embedding projections, attention projections). */
function unitParams(u: Omit<Unit, 'params'>, emb: number, scaleShift: boolean): number {
  const conv = (k: number, i: number, o: number) => k * k * i * o + o;
  switch (u.kind) {
    case 'res':
      return 2 * u.inC + conv(3, u.inC, u.outC) + (emb + 1) * u.outC * (scaleShift ? 2 : 1) + 2 * u.outC + conv(3, u.outC, u.outC)
        + (u.inC === u.outC ? 0 : conv(1, u.inC, u.outC));
    case 'attn':
      return 2 * u.inC + 4 * u.inC * u.inC + 4 * u.inC;
    case 'up':
    case 'down':
    case 'conv':
      return conv(3, u.inC, u.outC);
  }
}

/**
 * Floats per image a layer keeps for the backward pass without
 * checkpointing, beyond its output (its tensors saved for the gradient:
 * tfjs-level operations, so a little more than PyTorch would keep).
 */
function keptInside(u: Unit, scaleShift: boolean): number {
  switch (u.kind) {
    case 'res': // the input SiLU's output (and the concatenation in the decoder), then h and the second SiLU's output
      return u.inC * u.inPx * (u.part === 'dec' ? 2 : 1) + 2 * u.outC * u.outPx
        // scale-shift conditioning: the normalised, scaled and shifted maps
        + (scaleShift ? 3 * u.outC * u.outPx : 0)
        // up/down inside the block: the resampled input and SiLU output
        + (u.inPx !== u.outPx ? 2 * u.inC * u.outPx : 0);
    case 'attn': // normalised values, qkv, the heads' q/k/v, the attention weights and their softmax, the product, the projection input
      return 14 * u.inC * u.inPx + 6 * u.heads * u.inPx * u.inPx;
    case 'up': // the upsampled map the conv reads
      return u.inC * u.outPx;
    case 'down':
      return 0;
    case 'conv':
      return u.part === 'dec' ? u.inC * u.inPx : 0;
  }
}

/**
 * Floats per image a layer's own backward pass (or, checkpointed, its
 * recomputation and backward pass) holds at its peak besides what is kept
 * for the other layers: its saved tensors, and the gradients and
 * temporaries of its largest elementwise chains (GroupNorm + SiLU).
 */
function working(u: Unit): number {
  switch (u.kind) {
    case 'res':
      return 7 * u.inC * u.inPx + 3 * u.outC * u.outPx;
    case 'attn':
      return 14 * u.inC * u.inPx + 4 * u.heads * u.inPx * u.inPx;
    case 'up':
      return 3 * u.inC * u.outPx;
    case 'down':
    case 'conv':
      return 2 * (u.inC * u.inPx + u.outC * u.outPx);
  }
}

/** What {@link estimateUNetTrainingMemory} estimates, in bytes. */
export interface UNetTrainingMemory {
  /** The most the activations (feature maps kept for and made by the backward pass) hold at any point. */
  activationBytes: number;
  /** The parameters' gradients, all present once the backward pass ends. */
  gradientBytes: number;
  /**
   * The peak of a forward and backward pass: activations plus the gradients
   * made so far, at the worst point (while the decoder is differentiated the
   * activations are largest but few gradients exist; at the end all do).
   */
  peakBytes: number;
}

/**
 * Estimated memory of one training step's forward and backward pass of the
 * U-Net on a batch, beyond the weights (and an optimiser's state): see
 * {@link UNetTrainingMemory}. Models tumorcast's implementation on tfjs
 * (float32): with `useCheckpoint`, the layers' outputs are kept and one
 * layer and one sample at a time is recomputed (the whole batch with
 * dropout); without it, every layer also keeps its inner tensors. Checked
 * against measured peaks in the tests (within a factor 1.5 either way); it
 * errs on the high side.
 *
 * @param config - the U-Net config (its `useCheckpoint` selects the model).
 * @param batchSize - images per step.
 * @param options - see {@link UNetMemoryOptions}.
 */
export function estimateUNetTrainingMemory(config: UNetConfig | UNetPresetName, batchSize: number, options: UNetMemoryOptions = {}): UNetTrainingMemory {
  const c = resolveUNetConfig(config, 'estimateUNetTrainingMemory');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`'batchSize' passed to 'estimateUNetTrainingMemory' must be a positive integer, got ${batchSize}`);
  const size = options.imageSize ?? c.imageSize;
  const factor = 2 ** (c.channelMult.length - 1);
  if (!Number.isInteger(size) || size < 1 || size % factor !== 0) {
    throw new RangeError(`'options.imageSize' passed to 'estimateUNetTrainingMemory' must be a positive multiple of ${factor}, got ${size}`);
  }
  const { list, skips } = units(c, size);
  const b = batchSize;
  const outputs = list.reduce((s, u) => s + u.outC * u.outPx, c.inChannels * size * size);
  const totalParams = list.reduce((s, u) => s + u.params, 0);
  // Gradients present when the backward pass is at layer i: those of the layers after it (and its own).
  const gradsAt: number[] = [];
  let later = 0;
  for (let i = list.length - 1; i >= 0; i--) {
    later += list[i]!.params;
    gradsAt[i] = later;
  }
  // Floats of the activations while the backward pass is at layer i.
  let activationsAt: (u: Unit) => number;
  if (c.useCheckpoint) {
    // The blocks run one sample at a time (the whole batch when dropout draws masks):
    // a layer's working memory is one sample's, plus its inputs' and output's gradients for the batch.
    // Decoder first: every layer output kept, one decoder layer recomputed.
    // Then the encoder: the skip connections and their gradients, one encoder layer recomputed.
    const per = c.dropout > 0 ? b : 1;
    const outConv = list[list.length - 1]!;
    activationsAt = (u) => per * working(u) + b * (u.inC * u.inPx + u.outC * u.outPx)
      + (u.part === 'dec' ? b * (outputs + outConv.inC * outConv.inPx) : 2 * b * skips);
  } else {
    const kept = outputs + list.reduce((s, u) => s + keptInside(u, c.useScaleShiftNorm), 0);
    activationsAt = (u) => b * (kept + working(u));
  }
  let activations = 0;
  let peak = 0;
  list.forEach((u, i) => {
    const a = activationsAt(u);
    activations = Math.max(activations, a);
    peak = Math.max(peak, a + gradsAt[i]!);
  });
  return { activationBytes: 4 * activations, gradientBytes: 4 * totalParams, peakBytes: 4 * peak };
}
