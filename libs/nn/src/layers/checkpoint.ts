/**
 * Gradient checkpointing (guided-diffusion's `checkpoint` / `use_checkpoint`):
 * a block keeps only its inputs for the backward pass and recomputes its
 * activations there, trading one more forward per block for the memory of
 * everything the block would otherwise keep.
 *
 * The recomputation is differentiated by {@link recomputeGradients}, a
 * backward pass over tfjs's tape that frees each operation's saved tensors
 * and output gradients as soon as they are used: tfjs's own `tf.grads` keeps
 * all of them until the whole backward pass ends, which would make the
 * recomputation of one large block as costly as no checkpointing at all.
 * Both rely on tfjs-core 4's engine internals (its tape), used read-only
 * apart from swapping the active tape.
 */
import * as tf from '@tensorflow/tfjs';
import { canFreeGradient, markFreeableGradient, releaseAfterGradient } from './ops.js';
import type { ForwardContext, SeedSource } from './ops.js';

/**
 * A checkpointed block's forward: its output from `inputs` (the tensors
 * passed to {@link checkpoint}, in order) with `ctx` (the first pass gets
 * the caller's context, the recomputation one that replays its dropout seeds
 * and counts no FLOPs).
 */
export type CheckpointedForward = (inputs: tf.Tensor[], ctx: ForwardContext) => tf.Tensor;

/** One recorded operation of tfjs's tape (tfjs-core's `TapeNode`). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs's engine state the recomputation reads and swaps. */
interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

function engineState(): EngineState {
  return tf.engine().state as unknown as EngineState;
}

/**
 * The context of the first pass, recording the seeds its dropout layers draw,
 * and a factory of contexts that replay them (the recomputation must draw the
 * same masks).
 */
function replayableContext(ctx: ForwardContext): { first: ForwardContext; again: () => ForwardContext } {
  if (!ctx.rng) return { first: ctx, again: () => ({ training: ctx.training }) };
  const source = ctx.rng;
  const seeds: number[] = [];
  const recording: SeedSource = {
    seedInt: () => {
      const s = source.seedInt();
      seeds.push(s);
      return s;
    },
  };
  const again = (): ForwardContext => {
    let i = 0;
    const replay: SeedSource = {
      seedInt: () => {
        if (i >= seeds.length) throw new Error('checkpoint: the recomputed forward drew more dropout seeds than the first pass');
        return seeds[i++]!;
      },
    };
    return { training: ctx.training, rng: replay };
  };
  return { first: { ...ctx, rng: recording }, again };
}

/**
 * The gradients of `sum(f() * dy)` with respect to `xs` (zeros for an `x`
 * that `f` does not depend on), like `tf.grads`, but freeing memory as the
 * backward pass goes: each operation's saved tensors and the gradients of its
 * outputs are disposed once its own gradient is computed. `f` runs under a
 * fresh tape (the caller's tape, e.g. that of an enclosing backward pass, is
 * restored afterwards); its result is disposed. `dy` is not disposed.
 *
 * @param f - the computation, run once.
 * @param xs - the tensors to differentiate with respect to (inputs of `f`, variables it reads).
 * @param dy - the gradient of the loss with respect to `f()`'s result (same shape, float32).
 */
export function recomputeGradients(f: () => tf.Tensor, xs: readonly tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const st = engineState();
  const outerTape = st.activeTape;
  const outerDepth = st.gradientDepth;
  const disposeSaved = (node: TapeNode) => node.saved?.forEach((t) => t.dispose());
  let y: tf.Tensor;
  const tape: TapeNode[] = [];
  st.activeTape = tape;
  st.gradientDepth = outerDepth + 1;
  try {
    y = tf.tidy(f);
  } catch (e) {
    for (const node of tape) disposeSaved(node);
    throw e;
  } finally {
    st.activeTape = outerTape;
    st.gradientDepth = outerDepth;
  }
  try {
    if (!(y instanceof tf.Tensor)) throw new TypeError('recomputeGradients: f must return a tensor');
    if (!tf.util.arraysEqual(y.shape, dy.shape)) throw new RangeError(`recomputeGradients: dy has shape [${dy.shape}], f() returned [${y.shape}]`);
    // Operations reached from xs, in recorded order; the others need no gradient.
    const fromX = new Set(xs.map((t) => t.id));
    const nodes: TapeNode[] = [];
    for (const node of tape) {
      if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
        for (const o of node.outputs) fromX.add(o.id);
        nodes.push(node);
      } else disposeSaved(node);
    }
    const grads = new Map<number, tf.Tensor>([[y.id, dy]]);
    const fromXs = new Set(xs.map((t) => t.id));
    // A gradient function may return its dy unchanged; the map must own each tensor once.
    const held = new Set<tf.Tensor>([dy]);
    const own = (t: tf.Tensor, node: TapeNode): tf.Tensor => (held.has(t) || t.kept || node.saved?.includes(t) ? tf.clone(t) : t);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      if (dys.some((d) => d !== null)) {
        if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const names = Object.keys(node.inputs).filter((name) => fromX.has(node.inputs[name]!.id));
        // One tidy per operation: the zeros tfjs makes for outputs without a gradient go with it.
        const dxs = tf.tidy(() => {
          const fns = node.gradient!(dys as tf.Tensor[]);
          return names.map((name) => {
            const fn = fns[name];
            if (!fn) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}. Available gradients found: ${Object.keys(fns)}.`);
            return fn();
          });
        });
        names.forEach((name, k) => {
          const x = node.inputs[name]!;
          const dx = own(dxs[k]!, node);
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
          }
          const cur = grads.get(x.id);
          let g = dx;
          if (cur) {
            g = tf.add(cur, dx);
            held.delete(cur);
            if (cur !== dy) cur.dispose();
            dx.dispose();
          }
          grads.set(x.id, g);
          held.add(g);
          // The operation that made x may free this gradient as soon as it has read it.
          if (!fromXs.has(x.id)) markFreeableGradient(g);
        });
      }
      disposeSaved(node);
      for (const o of node.outputs) {
        const g = grads.get(o.id);
        if (!g) continue;
        grads.delete(o.id);
        held.delete(g);
        if (g !== dy) g.dispose();
      }
    }
    return xs.map((x) => {
      const g = grads.get(x.id);
      return g ? (g === dy ? tf.clone(g) : g) : tf.zerosLike(x);
    });
  } finally {
    // Whatever an error left behind: the tape's saved tensors and the recomputed result.
    for (const node of tape) disposeSaved(node);
    y.dispose();
  }
}

/** Options of {@link checkpoint}. */
export interface CheckpointOptions {
  /**
   * Run the block (its forward, then its recomputation and backward pass)
   * one sample at a time, so that the memory of its intermediate tensors
   * does not grow with the batch: for blocks whose output for a sample
   * depends only on that sample (convolutions, GroupNorm, attention within
   * an image; not batch statistics). `inputs` must then share their first
   * (batch) axis. Outputs are those of the whole batch, parameter gradients
   * the sums over the samples (the same up to rounding). Dropout then draws
   * one mask per sample, not one for the batch: masks differ from an
   * unchecked run's (equally random), so blocks with dropout in training use
   * the whole batch where identical masks matter.
   * @defaultValue false
   */
  perSample?: boolean;
}

/** Sample `i` of `t` along its first axis, keeping the axis. */
function sampleOf(t: tf.Tensor, i: number): tf.Tensor {
  return tf.slice(t, [i, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]);
}

/** `forward` applied to each sample of `inputs` in turn, the outputs concatenated (see {@link CheckpointOptions.perSample}). */
function perSampleForward(forward: (xs: tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[]): tf.Tensor {
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < inputs[0]!.shape[0]!; i++) {
    const xi = inputs.map((t) => sampleOf(t, i));
    outs.push(forward(xi));
    tf.dispose(xi);
  }
  const out = tf.concat(outs, 0);
  tf.dispose(outs);
  return out;
}

/**
 * The gradients of `inputs` and `vars` for output gradient `dy`, recomputing
 * `forward` one sample at a time (see {@link CheckpointOptions.perSample}).
 * Frees `dy` before the last step when `freeDy`.
 */
function perSampleGradients(
  forward: (xs: tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[], vars: readonly tf.Variable[], dy: tf.Tensor, freeDy: boolean,
): tf.Tensor[] {
  const batch = dy.shape[0]!;
  const pieces: tf.Tensor[][] = inputs.map(() => []);
  let paramGrads: tf.Tensor[] = [];
  for (let i = 0; i < batch; i++) {
    const xi = inputs.map((t) => sampleOf(t, i));
    const dyi = sampleOf(dy, i);
    if (i === batch - 1 && freeDy) dy.dispose();
    const gi = recomputeGradients(() => forward(xi), [...xi, ...vars], dyi);
    tf.dispose([dyi, ...xi]);
    gi.slice(0, inputs.length).forEach((g, k) => pieces[k]!.push(g));
    const pg = gi.slice(inputs.length);
    if (i === 0) paramGrads = pg;
    else {
      paramGrads = paramGrads.map((a, k) => {
        const sum = tf.add(a, pg[k]!);
        tf.dispose([a, pg[k]!]);
        return sum;
      });
    }
  }
  const inputGrads = pieces.map((p) => {
    const whole = tf.concat(p, 0);
    tf.dispose(p);
    return whole;
  });
  return [...inputGrads, ...paramGrads];
}

/**
 * Applies `forward` to `inputs` with gradient checkpointing: the forward runs
 * without recording its intermediate tensors; only `inputs` are kept, and
 * the backward pass re-runs `forward` under a fresh gradient tape to get the
 * gradients of `inputs` and of `params` ({@link recomputeGradients}).
 * Gradients are those of the plain forward (the same operations run again,
 * dropout with the same seeds); the result is the same tensor `forward`
 * returns. The gradient of the result, once used, is freed too (when the
 * enclosing backward pass made it, as `tf.grads` / `tf.variableGrads` do).
 *
 * `params` must list every variable `forward` reads: they are passed to the
 * recorded operation as inputs, so that `tf.variableGrads` / `tf.grads` over
 * the whole network receive their gradients (a variable missing from the list
 * would get none from this block). When no gradient is being recorded
 * (inference), `forward` simply runs.
 *
 * @param forward - the block's forward; see {@link CheckpointedForward}. It must be deterministic apart from dropout drawn from `ctx.rng`.
 * @param inputs - the block's float32 tensor inputs (e.g. `[x, emb]`).
 * @param params - the variables `forward` uses.
 * @param ctx - the call's context (training mode, dropout source, FLOP counter).
 * @param options - see {@link CheckpointOptions}.
 * @defaultValue ctx: {}
 */
export function checkpoint(
  forward: CheckpointedForward, inputs: readonly tf.Tensor[], params: readonly tf.Variable[], ctx: ForwardContext = {}, options: CheckpointOptions = {},
): tf.Tensor {
  if (typeof forward !== 'function') throw new TypeError(`'forward' passed to 'checkpoint' must be a function`);
  if (!Array.isArray(inputs) || inputs.length === 0) throw new RangeError(`'inputs' passed to 'checkpoint' must be a non-empty array of tensors`);
  inputs.forEach((t, i) => {
    if (!(t instanceof tf.Tensor)) throw new TypeError(`'inputs[${i}]' passed to 'checkpoint' must be a tensor`);
    if (t.isDisposed) throw new Error(`'inputs[${i}]' passed to 'checkpoint' is disposed`);
    if (t.dtype !== 'float32') throw new TypeError(`'inputs[${i}]' passed to 'checkpoint' must be float32 (gradients are), got ${t.dtype}`);
  });
  if (!Array.isArray(params)) throw new TypeError(`'params' passed to 'checkpoint' must be an array of tf.Variable`);
  params.forEach((v, i) => {
    if (!(v instanceof tf.Variable)) throw new TypeError(`'params[${i}]' passed to 'checkpoint' must be a tf.Variable`);
  });
  const perSample = options.perSample ?? false;
  if (perSample && inputs.some((t) => t.rank === 0 || t.shape[0] !== inputs[0]!.shape[0])) {
    throw new RangeError(`'inputs' passed to 'checkpoint' with 'perSample' must share their first (batch) axis, got shapes ${inputs.map((t) => `[${t.shape}]`).join(', ')}`);
  }
  // A variable listed twice would be an input twice, and its gradient counted twice.
  const vars = [...new Set(params)];
  if (!tf.engine().isTapeOn()) return forward([...inputs], ctx);
  const n = inputs.length;
  const passes = replayableContext(ctx);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    // The variables are not saved: they outlive the step and are read again as they are.
    save(xs);
    const split = perSample && xs[0]!.shape[0]! > 1;
    return {
      value: split ? perSampleForward((xi) => forward(xi, passes.first), xs) : forward(xs, passes.first),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor;
        const freeDy = canFreeGradient(g);
        // One replay of the dropout seeds for all samples, drawn in the first pass's order.
        const again = passes.again();
        const grads = split
          ? perSampleGradients((xi) => forward(xi, again), saved, vars, g, freeDy)
          : recomputeGradients(() => forward(saved, again), [...saved, ...vars], g);
        releaseAfterGradient(g, saved, grads, freeDy);
        return grads;
      },
    };
  });
  return op(...inputs, ...vars);
}
