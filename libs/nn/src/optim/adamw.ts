/**
 * AdamW (Loshchilov & Hutter: Adam with decoupled weight decay), matching
 * `torch.optim.AdamW`, and an exponential moving average of weights, both
 * with state that can be saved and restored exactly for resumable training.
 * TensorFlow.js ships only Adam, whose L2 penalty is coupled to the gradient.
 */
import * as tf from '@tensorflow/tfjs';

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  /**
   * Step size.
   * @defaultValue 1e-4 (the paper's value)
   */
  learningRate?: number;
  /**
   * Decay rate of the first-moment estimate.
   * @defaultValue 0.9
   */
  beta1?: number;
  /**
   * Decay rate of the second-moment estimate.
   * @defaultValue 0.999
   */
  beta2?: number;
  /**
   * Term added to the denominator for numerical stability.
   * @defaultValue 1e-8
   */
  epsilon?: number;
  /**
   * Decoupled weight decay: each step multiplies the weights by `1 - lr * weightDecay`.
   * @defaultValue 0 (the paper's value; torch's own default is 0.01)
   */
  weightDecay?: number;
}

/** Serialisable optimiser state: step count and the two moment estimates per variable name. */
export interface AdamWState {
  /** Number of steps taken. */
  step: number;
  /** First-moment estimates by variable name. */
  m: Map<string, Float32Array>;
  /** Second-moment estimates by variable name. */
  v: Map<string, Float32Array>;
}

/** A non-trainable variable initialised from `initial`, which is disposed (tf.variable copies it). */
function variableFrom(initial: tf.Tensor, name: string): tf.Variable {
  const v = tf.variable(initial, false, name);
  initial.dispose();
  return v;
}

function checkRate(v: number, name: string, fn: string, lo: number, hi: number, loOpen = false): number {
  if (!Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v >= hi) {
    throw new RangeError(`'${name}' passed to '${fn}' must be in ${loOpen ? '(' : '['}${lo}, ${hi}), got ${v}`);
  }
  return v;
}

/**
 * AdamW optimiser over named tfjs variables.
 *
 * @example
 * ```ts
 * const opt = new AdamW({ learningRate: 1e-4 });
 * const loss = opt.minimize(() => model.loss(batch), model.trainableVariables);
 * ```
 */
export class AdamW {
  /** The resolved options (defaults applied). */
  readonly options: Required<AdamWOptions>;
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  /** @param options - see {@link AdamWOptions}. */
  constructor(options: AdamWOptions = {}) {
    const o = {
      learningRate: options.learningRate ?? 1e-4,
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
    };
    checkRate(o.learningRate, 'learningRate', 'AdamW', 0, Infinity, true);
    checkRate(o.beta1, 'beta1', 'AdamW', 0, 1);
    checkRate(o.beta2, 'beta2', 'AdamW', 0, 1);
    checkRate(o.epsilon, 'epsilon', 'AdamW', 0, Infinity, true);
    checkRate(o.weightDecay, 'weightDecay', 'AdamW', 0, Infinity);
    this.options = o;
  }

  /** Number of steps taken so far. */
  get step(): number {
    return this.t;
  }

  /** Changes the learning rate (for schedules); must be positive. */
  setLearningRate(lr: number): void {
    (this.options as { learningRate: number }).learningRate = checkRate(lr, 'lr', 'setLearningRate', 0, Infinity, true);
  }

  /**
   * Applies one update from gradients keyed by variable name. Variables
   * without a gradient (or with a null one) are left unchanged.
   */
  applyGradients(grads: Record<string, tf.Tensor | null | undefined>, variables: readonly tf.Variable[]): void {
    this.t += 1;
    const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd } = this.options;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (const p of variables) {
      const g = grads[p.name];
      if (!g) continue;
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new Error(`'grads' passed to 'AdamW.applyGradients': gradient of '${p.name}' has shape [${g.shape}] but the variable has [${p.shape}]`);
      }
      let m = this.m.get(p.name);
      let v = this.v.get(p.name);
      if (!m || !v) {
        m = variableFrom(tf.zerosLike(p), `${p.name}/adamw_m`);
        v = variableFrom(tf.zerosLike(p), `${p.name}/adamw_v`);
        this.m.set(p.name, m);
        this.v.set(p.name, v);
      }
      const mm = m;
      const vv = v;
      tf.tidy(() => {
        const mNew = mm.mul(b1).add(g.mul(1 - b1));
        const vNew = vv.mul(b2).add(g.square().mul(1 - b2));
        mm.assign(mNew);
        vv.assign(vNew);
        // torch: p *= 1 - lr*wd; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
        const decayed = wd > 0 ? p.mul(1 - lr * wd) : p;
        const denom = vNew.sqrt().div(Math.sqrt(bc2)).add(eps);
        p.assign(decayed.sub(mNew.div(denom).mul(lr / bc1)));
      });
    }
  }

  /**
   * Computes `loss()`, its gradients with respect to `variables`, applies an
   * update, and returns the loss value. Everything runs inside `tf.tidy`.
   */
  minimize(loss: () => tf.Scalar, variables: readonly tf.Variable[]): number {
    const value = this.minimizeScalar(loss, variables);
    try {
      return value.dataSync()[0] as number;
    } finally {
      value.dispose();
    }
  }

  /**
   * As {@link AdamW.minimize}, but returns the loss as a scalar tensor,
   * unread (the caller disposes it): the update needs no read of a value, so
   * this works where synchronous reads do not (the `webgpu` backend in Node).
   */
  minimizeScalar(loss: () => tf.Scalar, variables: readonly tf.Variable[]): tf.Scalar {
    return tf.tidy(() => {
      const { value, grads } = tf.variableGrads(loss, variables as tf.Variable[]);
      this.applyGradients(grads, variables);
      return value;
    });
  }

  /**
   * As {@link AdamW.minimize}, reading the loss asynchronously: use this on
   * the `webgpu` backend in Node, where `minimize`'s synchronous read throws.
   */
  async minimizeAsync(loss: () => tf.Scalar, variables: readonly tf.Variable[]): Promise<number> {
    const value = this.minimizeScalar(loss, variables);
    try {
      return (await value.data())[0] as number;
    } finally {
      value.dispose();
    }
  }

  /**
   * A copy of the state, for checkpoints. Reads synchronously (wasm, cpu,
   * webgl); on the `webgpu` backend in Node use {@link AdamW.getStateAsync}.
   */
  getState(): AdamWState {
    const copy = (src: Map<string, tf.Variable>) => new Map([...src].map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
    return { step: this.t, m: copy(this.m), v: copy(this.v) };
  }

  /** As {@link AdamW.getState}, reading asynchronously (works on every backend). */
  async getStateAsync(): Promise<AdamWState> {
    const step = this.t;
    const copy = async (src: Map<string, tf.Variable>) => {
      const out = new Map<string, Float32Array>();
      for (const [k, t] of src) out.set(k, ((await t.data()) as Float32Array).slice());
      return out;
    };
    return { step, m: await copy(this.m), v: await copy(this.v) };
  }

  /** Restores a state saved by {@link AdamW.getState}; shapes are checked against `variables`. */
  setState(state: AdamWState, variables: readonly tf.Variable[]): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`'state.step' passed to 'AdamW.setState' must be a non-negative integer, got ${state.step}`);
    const byName = new Map(variables.map((v) => [v.name, v]));
    this.dispose();
    this.t = state.step;
    for (const [which, src] of [['m', state.m], ['v', state.v]] as const) {
      for (const [name, data] of src) {
        const p = byName.get(name);
        if (!p) throw new Error(`optimiser state has '${which}' for '${name}', which is not among the model's variables`);
        if (data.length !== p.size) throw new Error(`optimiser state '${which}' for '${name}' has ${data.length} values, the variable has ${p.size}`);
        const t = variableFrom(tf.tensor(data, p.shape, 'float32'), `${name}/adamw_${which}`);
        (which === 'm' ? this.m : this.v).set(name, t);
      }
    }
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Exponential moving average of variables (`ema = rate*ema + (1-rate)*w`),
 * as guided-diffusion keeps beside the raw weights (rate 0.9999).
 */
export class ExponentialMovingAverage {
  /** The averaging rate. */
  readonly rate: number;
  private readonly shadow = new Map<string, tf.Variable>();

  /**
   * @param variables - the variables to track; the average starts at their current values.
   * @param rate - the averaging rate in [0, 1).
   * @defaultValue rate 0.9999
   */
  constructor(variables: readonly tf.Variable[], rate = 0.9999) {
    this.rate = checkRate(rate, 'rate', 'ExponentialMovingAverage', 0, 1);
    for (const v of variables) this.shadow.set(v.name, variableFrom(v.clone(), `${v.name}/ema`));
  }

  /** Moves the average towards the variables' current values. */
  update(variables: readonly tf.Variable[]): void {
    for (const v of variables) {
      const s = this.shadow.get(v.name);
      if (!s) throw new Error(`'variables' passed to 'ExponentialMovingAverage.update': '${v.name}' is not tracked`);
      tf.tidy(() => s.assign(s.mul(this.rate).add(v.mul(1 - this.rate))));
    }
  }

  /**
   * The averaged values by variable name (copies). Reads synchronously; on
   * the `webgpu` backend in Node use {@link ExponentialMovingAverage.valuesAsync}.
   */
  values(): Map<string, Float32Array> {
    return new Map([...this.shadow].map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
  }

  /** As {@link ExponentialMovingAverage.values}, reading asynchronously (works on every backend). */
  async valuesAsync(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [k, t] of this.shadow) out.set(k, ((await t.data()) as Float32Array).slice());
    return out;
  }

  /** Replaces the averages (e.g. from a checkpoint); unknown names are errors. */
  setValues(values: Map<string, Float32Array>): void {
    for (const [name, data] of values) {
      const s = this.shadow.get(name);
      if (!s) throw new Error(`EMA values contain '${name}', which is not tracked`);
      if (data.length !== s.size) throw new Error(`EMA values for '${name}' have ${data.length} values, expected ${s.size}`);
      tf.tidy(() => s.assign(tf.tensor(data, s.shape, 'float32')));
    }
  }

  /** Frees the averages. */
  dispose(): void {
    for (const t of this.shadow.values()) t.dispose();
    this.shadow.clear();
  }
}
