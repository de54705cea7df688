/**
 * One synthetic 4-channel axial brain slice with an optional tumour.
 *
 * Geometry is defined in millimetres (a 240 mm field of view by default), so
 * that the same seed gives the same anatomy at any resolution (240x240 at
 * 1 mm, 64x64 at 3.75 mm, ...). Randomness is split into three independent
 * seeds: the anatomy (`seed`), the tumour shape and position (`tumourSeed`),
 * and the per-scan noise (`scanSeed`), so that a patient's scans at several
 * time points share anatomy and tumour shape and differ only in tumour size
 * and acquisition noise.
 */
import { Rng, type Seed } from '@tumorcast/random';
import { evalHarmonics, fastNormals, gaussianBlur, randomHarmonics, valueNoise, type Harmonics } from './noise.js';
import { checkBool, checkInt, checkNumber, checkOptions, checkPositive, checkSeed } from './validate.js';

// Global lookups are slow inside Jest's VM contexts; alias Math once per module.
const M = Math;

/** The four MRI channels, in the fixed order used everywhere in tumorcast (docs/method.md section 1). */
export const PHANTOM_MODALITIES = ['t1n', 't1c', 't2w', 't2f'] as const;

/** One of {@link PHANTOM_MODALITIES}. */
export type PhantomModality = (typeof PHANTOM_MODALITIES)[number];

/** BraTS labels written in {@link PhantomSlice.label}. */
export const PHANTOM_LABELS = Object.freeze({
  /** No tumour. */
  background: 0,
  /** Necrotic tumour core. */
  necrosis: 1,
  /** Peritumoural oedema (FLAIR/T2 hyperintensity). */
  oedema: 2,
  /** Enhancing tumour (bright in t1c). */
  enhancing: 3,
});

/** Tissue classes written in {@link PhantomSlice.tissue} (the anatomy before the tumour is drawn). */
export const PHANTOM_TISSUES = Object.freeze({
  /** Outside the head. */
  background: 0,
  /** Scalp (fat). */
  scalp: 1,
  /** Skull bone. */
  bone: 2,
  /** Cerebrospinal fluid: ventricles, sulci, fissure, around the brain. */
  csf: 3,
  /** Cortical grey matter. */
  greyMatter: 4,
  /** White matter. */
  whiteMatter: 5,
  /** Deep grey nuclei. */
  deepGreyMatter: 6,
});

/**
 * Shape, position and composition of a phantom tumour. All fields are
 * drawn from `tumourSeed` unless given in {@link PhantomSliceOptions.tumour}.
 */
export interface PhantomTumourShape {
  /** Centre in brain-normalised coordinates: `[u, v]`, each in [-1, 1] (fractions of the brain's half-width and half-length; +v is posterior, down in the image). */
  centre: [number, number];
  /** Axis ratio (>= 1) of the area-preserving elliptical stretch. */
  anisotropy: number;
  /** Orientation of the long axis, radians. */
  orientation: number;
  /** Lobulation of the whole-tumour outline (std of the log-radius harmonics; 0 = smooth ellipse). */
  irregularity: number;
  /** Tumour core radius as a fraction of the whole-tumour (core + oedema) radius, in (0, 1]. */
  coreFraction: number;
  /** Necrosis radius as a fraction of the core radius, in [0, 1). */
  necrosisFraction: number;
  /** Centre drift `[dx, dy]` (mm of centre shift per mm of radius growth beyond `referenceRadius`): directional growth. */
  drift: [number, number];
  /** Radius (mm) at which the centre is exactly at `centre`. */
  referenceRadius: number;
}

/** Options of {@link generatePhantomSlice}. */
export interface PhantomSliceOptions {
  /**
   * Anatomy seed (head and brain shape, ventricles, cortex folding, texture).
   * @defaultValue 0
   */
  seed?: Seed;
  /**
   * Tumour shape/position seed.
   * @defaultValue `seed`
   */
  tumourSeed?: Seed;
  /**
   * Acquisition noise seed (differs between time points of a patient).
   * @defaultValue `seed`
   */
  scanSeed?: Seed;
  /**
   * Whole-tumour area (labels 1..3) in mm^2; 0 for no tumour. The rendered
   * area is `round(size / pixelSpacing^2)` pixels, exactly (ties aside).
   * @defaultValue 0
   */
  size?: number;
  /**
   * Image width in pixels.
   * @defaultValue 240
   */
  width?: number;
  /**
   * Image height in pixels.
   * @defaultValue `width`
   */
  height?: number;
  /**
   * Pixel spacing in mm (isotropic).
   * @defaultValue `240 / width` (a 240 mm field of view)
   */
  pixelSpacing?: number;
  /**
   * Draw the skull ring (scalp fat and bone). `false` gives a skull-stripped
   * slice like BraTS.
   * @defaultValue true
   */
  skull?: boolean;
  /**
   * Std of the additive Gaussian noise inside the head (intensity units).
   * @defaultValue 0.01
   */
  noiseStd?: number;
  /**
   * Slice level in mm from the level of the lateral ventricles (brain
   * outline shrinks and ventricles fade with |offset|), in [-80, 80].
   * @defaultValue 0
   */
  sliceOffset?: number;
  /**
   * Overrides of the tumour shape drawn from `tumourSeed`.
   * @defaultValue {}
   */
  tumour?: Partial<PhantomTumourShape>;
}

/**
 * A generated slice. Every image is row-major with y slowest: pixel (x, y)
 * is at index `y * width + x`; written to NIfTI, x is the first (fastest)
 * axis, so nibabel's `data[x, y]` is the same pixel.
 */
export interface PhantomSlice {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** Pixel spacing, mm. */
  pixelSpacing: number;
  /**
   * All four channels, channel-major: channel `c` (order of
   * {@link PHANTOM_MODALITIES}) occupies `[c*H*W, (c+1)*H*W)`. Values in
   * [0, 1]; exactly 0 outside the head, > 0 inside.
   */
  channels: Float32Array;
  /** Per-modality views (subarrays sharing `channels`' memory). */
  modalities: Record<PhantomModality, Float32Array>;
  /** BraTS labels per pixel (see {@link PHANTOM_LABELS}). */
  label: Uint8Array;
  /** Healthy tissue class per pixel (see {@link PHANTOM_TISSUES}); the tumour overrides it in the images. */
  tissue: Uint8Array;
  /** 1 inside the skull (brain, ventricles, surrounding CSF), else 0. */
  brainMask: Uint8Array;
  /** 1 where the channels are non-zero (head incl. the skull ring), else 0; equals `t2f != 0`. */
  headMask: Uint8Array;
  /** Whole-tumour area `count(label > 0) * pixelSpacing^2`, mm^2. */
  tumourArea: number;
  /** `count(label > 0)`. */
  tumourPixels: number;
  /** Tumour burden `count(label > 0) / count(t2f != 0)` (docs/method.md section 1). */
  burden: number;
  /** The tumour shape used (drawn or overridden). */
  tumour: PhantomTumourShape;
  /** Tumour centre for this size, pixel coordinates `[x, y]`. */
  tumourCentre: [number, number];
}

const FN = 'generatePhantomSlice';

// Tissue classes.
const BG = 0, SCALP = 1, BONE = 2, CSF = 3, GM = 4, WM = 5, DEEP_GM = 6;

/** Intensities per tissue class, [t1n, t1c, t2w, t2f]. */
const TISSUE: readonly (readonly number[])[] = [
  [0, 0, 0, 0], // background
  [0.74, 0.74, 0.52, 0.5], // scalp (fat: bright in T1)
  [0.05, 0.06, 0.05, 0.04], // bone
  [0.1, 0.11, 0.9, 0.07], // CSF: dark T1 and FLAIR, bright T2
  [0.3, 0.31, 0.45, 0.42], // grey matter
  [0.47, 0.46, 0.27, 0.31], // white matter: brighter than GM in T1, darker in T2
  [0.37, 0.38, 0.36, 0.36], // deep grey nuclei
];
const OEDEMA = [0.31, 0.31, 0.72, 0.74];
const ENHANCING = [0.32, 0.93, 0.55, 0.58];
const NECROSIS = [0.15, 0.19, 0.8, 0.42];

interface Anatomy {
  a: number; b: number; rot: number; sx: number; sy: number; egg: number;
  outline: Harmonics; vent: number;
  ventDx: number; ventY: number; ventA: number; ventB: number; ventTilt: number; ventBend: number;
  csfGap: number; gyri: number; cortex: number; gyralDepth: number; boneThick: number; scalpThick: number;
}

function sampleAnatomy(rng: Rng, sliceOffset: number): Anatomy {
  const level = M.sqrt(M.max(0.25, 1 - (sliceOffset / 95) ** 2));
  return {
    a: 67 * (1 + 0.05 * rng.normal()) * level,
    b: 84 * (1 + 0.04 * rng.normal()) * level,
    rot: 0.04 * rng.normal(),
    sx: 2 * rng.normal(),
    sy: 2 * rng.normal(),
    egg: 0.06 + 0.03 * rng.uniform(),
    outline: randomHarmonics(rng, 2, 9, 0.012),
    vent: M.exp(-((sliceOffset / 28) ** 2)) * (0.8 + 0.5 * rng.uniform()),
    ventDx: 7 + 1.5 * rng.normal(),
    ventY: -4 + 3 * rng.normal(),
    ventA: 4.5,
    ventB: 22,
    ventTilt: 0.22 + 0.05 * rng.normal(),
    ventBend: 0.006 + 0.002 * rng.normal(),
    csfGap: 1.6,
    gyri: M.round(34 + 6 * rng.uniform()),
    cortex: 3 + 0.4 * rng.normal(),
    gyralDepth: 11 + 1.5 * rng.normal(),
    boneThick: 4 + 0.6 * rng.normal(),
    scalpThick: 5 + 0.8 * rng.normal(),
  };
}

/** Draws a tumour shape from `rng` (the defaults of {@link PhantomTumourShape}). */
export function sampleTumourShape(rng: Rng): PhantomTumourShape {
  const ang = 2 * M.PI * rng.uniform();
  const rad = 0.2 + 0.35 * M.sqrt(rng.uniform());
  const driftAng = 2 * M.PI * rng.uniform();
  const driftMag = 0.15 + 0.2 * rng.uniform();
  return {
    centre: [rad * M.cos(ang), rad * M.sin(ang)],
    anisotropy: 1 + 0.5 * rng.uniform(),
    orientation: M.PI * rng.uniform(),
    irregularity: 0.25 + 0.2 * rng.uniform(),
    coreFraction: 0.38 + 0.22 * rng.uniform(),
    necrosisFraction: 0.35 + 0.3 * rng.uniform(),
    drift: [driftMag * M.cos(driftAng), driftMag * M.sin(driftAng)],
    referenceRadius: 8,
  };
}

function checkShape(s: PhantomTumourShape): void {
  const c = s.centre;
  if (!Array.isArray(c) || c.length !== 2) throw new TypeError(`'tumour.centre' passed to '${FN}' must be a pair [u, v], got ${String(c)}`);
  checkNumber(FN, 'tumour.centre[0]', c[0], -1, 1);
  checkNumber(FN, 'tumour.centre[1]', c[1], -1, 1);
  checkNumber(FN, 'tumour.anisotropy', s.anisotropy, 1, 10);
  checkNumber(FN, 'tumour.orientation', s.orientation);
  checkNumber(FN, 'tumour.irregularity', s.irregularity, 0, 1);
  checkNumber(FN, 'tumour.coreFraction', s.coreFraction, 0, 1);
  checkNumber(FN, 'tumour.necrosisFraction', s.necrosisFraction, 0, 1);
  const d = s.drift;
  if (!Array.isArray(d) || d.length !== 2) throw new TypeError(`'tumour.drift' passed to '${FN}' must be a pair [dx, dy], got ${String(d)}`);
  checkNumber(FN, 'tumour.drift[0]', d[0], -1, 1);
  checkNumber(FN, 'tumour.drift[1]', d[1], -1, 1);
  checkNumber(FN, 'tumour.referenceRadius', s.referenceRadius, 0, 1000);
}

interface Fields {
  fold: Float32Array; sulci: Float32Array; depthMod: Float32Array;
  texture: Float32Array; bias: Float32Array; tumourTex: Float32Array;
}

interface AnatomyMaps {
  /** Tissue class. */
  cls: Uint8Array;
  /** Depth below the brain surface, mm (negative outside). */
  depth: Float32Array;
  /** Anatomy-frame coordinates, mm. */
  ax: Float32Array;
  ay: Float32Array;
  brainMask: Uint8Array;
}

// The per-pixel loops live in small functions: V8 optimises (and keeps) them
// far better than one large function with several hot loops.
function renderAnatomy(an: Anatomy, w: number, h: number, sp: number, skull: boolean, f: Fields): AnatomyMaps {
  const n = w * h;
  const cls = new Uint8Array(n);
  const depth = new Float32Array(n);
  const ax = new Float32Array(n);
  const ay = new Float32Array(n);
  const brainMask = new Uint8Array(n);
  const cosR = M.cos(an.rot), sinR = M.sin(an.rot);
  const cosV = M.cos(an.ventTilt), sinV = M.sin(an.ventTilt);
  const outerExtra = an.csfGap + (skull ? an.boneThick + an.scalpThick : 0);
  const { fold, sulci, depthMod } = f;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const px = (x + 0.5 - w / 2) * sp - an.sx;
      const py = (y + 0.5 - h / 2) * sp - an.sy;
      const xr = cosR * px + sinR * py;
      const yr = -sinR * px + cosR * py;
      ax[i] = xr;
      ay[i] = yr;
      // Egg shape: wider posteriorly (+y).
      const xe = xr / (1 + an.egg * (yr / an.b));
      const theta = M.atan2(yr, xe);
      const r = M.hypot(xe, yr);
      const c = M.cos(theta), s = M.sin(theta);
      const rb = (1 / M.sqrt((c * c) / (an.a * an.a) + (s * s) / (an.b * an.b))) * (1 + evalHarmonics(an.outline, theta));
      const d = rb - r;
      depth[i] = d;
      if (d < -outerExtra) continue;
      if (d < -an.csfGap) {
        cls[i] = d < -an.csfGap - an.boneThick ? SCALP : BONE;
        continue;
      }
      brainMask[i] = 1;
      if (d < 0) {
        cls[i] = CSF;
        continue;
      }
      // Gyri: WM fingers under a thin grey ribbon, sulci (CSF) between them,
      // from a perturbed periodic pattern along the brain surface.
      const g = M.sin(an.gyri * theta + 7 * fold[i]! + 2.5 * sulci[i]!);
      const q = (1 - g) / 2;
      const gmThick = an.cortex + an.gyralDepth * q * (0.75 + 0.45 * depthMod[i]!);
      let k = d < gmThick ? GM : WM;
      if (g < -0.8 && d < gmThick - 2.2) k = CSF;
      // Interhemispheric fissure, front and back.
      const ax0 = M.abs(xr);
      const fissure = yr < -0.25 * an.b || yr > 0.5 * an.b;
      if (fissure && ax0 < 4.5) k = ax0 < 1.1 ? CSF : GM;
      // Deep grey nuclei (thalami, caudate heads).
      const tx = (ax0 - 12) / 7, ty = (yr - 10) / 11;
      const cx = (ax0 - an.ventDx - 5) / 4, cy = (yr - an.ventY + 14) / 6;
      if (an.vent > 0.2 && (tx * tx + ty * ty < an.vent || cx * cx + cy * cy < an.vent)) k = DEEP_GM;
      // Lateral ventricles: bent, tilted ellipses either side of the midline.
      if (an.vent > 0.05) {
        const vx0 = ax0 - an.ventDx - an.ventBend * (yr - an.ventY) ** 2;
        const vy0 = yr - an.ventY;
        const vx = cosV * vx0 - sinV * vy0;
        const vy = sinV * vx0 + cosV * vy0;
        const va = an.ventA * an.vent, vb = an.ventB * M.sqrt(an.vent);
        if ((vx / va) ** 2 + (vy / vb) ** 2 < 1) k = CSF;
      }
      cls[i] = k;
    }
  }
  return { cls, depth, ax, ay, brainMask };
}

interface TumourGeometry {
  tcx: number; tcy: number; sa: number; co: number; so: number; wtH: Harmonics; coreH: Harmonics;
}

interface TumourMaps {
  label: Uint8Array;
  /** Whole-tumour outline ratio per pixel (Infinity outside the brain). */
  ratioWt: Float32Array;
  threshold: number;
  tumourPixels: number;
}

/** Outline ratio of every brain pixel; returns how many there are (written to `ratios`). */
function tumourRatios(a: AnatomyMaps, g: TumourGeometry, ratioWt: Float32Array, ratios: Float64Array): number {
  let count = 0;
  const { tcx, tcy, sa, co, so, wtH } = g;
  for (let i = 0; i < ratioWt.length; i++) {
    if (a.depth[i]! < 0 || !a.brainMask[i]) continue;
    const dx = a.ax[i]! - tcx, dy = a.ay[i]! - tcy;
    const u = (co * dx + so * dy) / sa;
    const v = (-so * dx + co * dy) * sa;
    // Oedema spreads along white matter more than into cortex and CSF.
    const k = a.cls[i]!;
    const tissue = k === GM ? 1.2 : k === CSF ? 1.35 : 1;
    const rr = (tissue * M.hypot(u, v)) / M.exp(evalHarmonics(wtH, M.atan2(v, u)));
    ratioWt[i] = rr;
    ratios[count++] = rr;
  }
  return count;
}

function tumourLabels(a: AnatomyMaps, g: TumourGeometry, shape: PhantomTumourShape, ratioWt: Float32Array, threshold: number, label: Uint8Array): number {
  let count = 0;
  const { tcx, tcy, sa, co, so, coreH } = g;
  for (let i = 0; i < label.length; i++) {
    const rr = ratioWt[i]!;
    if (!(rr <= threshold)) continue;
    const dx = a.ax[i]! - tcx, dy = a.ay[i]! - tcy;
    const u = (co * dx + so * dy) / sa;
    const v = (-so * dx + co * dy) * sa;
    const rc = M.hypot(u, v) / M.exp(evalHarmonics(coreH, M.atan2(v, u))) / (threshold * shape.coreFraction);
    label[i] = rc <= shape.necrosisFraction ? 1 : rc <= 1 ? 3 : 2;
    count++;
  }
  return count;
}

function drawTumour(a: AnatomyMaps, g: TumourGeometry, shape: PhantomTumourShape, target: number, size: number): TumourMaps {
  const n = a.cls.length;
  const label = new Uint8Array(n);
  const ratioWt = new Float32Array(n).fill(Infinity);
  if (target === 0) return { label, ratioWt, threshold: 0, tumourPixels: 0 };
  const all = new Float64Array(n);
  const count = tumourRatios(a, g, ratioWt, all);
  if (target > count / 2) {
    throw new RangeError(`'size' passed to '${FN}' (${size} mm^2 = ${target} pixels) must be at most half the brain area (${M.floor(count / 2)} pixels)`);
  }
  const sorted = all.subarray(0, count).sort();
  const threshold = (sorted[target - 1]! + sorted[target]!) / 2;
  const tumourPixels = tumourLabels(a, g, shape, ratioWt, threshold, label);
  return { label, ratioWt, threshold, tumourPixels };
}

/** Tissue and tumour intensities of channel `m` (before blur, bias and noise). */
function shadeChannel(img: Float32Array, m: number, cls: Uint8Array, t: TumourMaps, f: Fields): void {
  const { texture, tumourTex } = f;
  const { label, ratioWt, threshold } = t;
  const oed = OEDEMA[m]!, enh = ENHANCING[m]!, nec = NECROSIS[m]!;
  const table = TISSUE.map((row) => row[m]!);
  for (let i = 0; i < img.length; i++) {
    const k = cls[i]!;
    if (k === BG) continue;
    const texAmp = k === WM || k === GM || k === DEEP_GM ? 0.05 : k === SCALP ? 0.08 : 0.03;
    let v = table[k]! * (1 + texAmp * texture[i]!);
    const l = label[i]!;
    if (l === 2) {
      const wgt = M.min(1, 0.95 - 0.45 * (ratioWt[i]! / threshold));
      v += (oed - v) * wgt;
    } else if (l === 3) {
      v = enh * (1 + 0.08 * tumourTex[i]!);
    } else if (l === 1) {
      v = nec * (1 + 0.15 * tumourTex[i]!);
    }
    img[i] = v;
  }
}

/** Bias field, noise, clamping to [0.005, 1] inside the head and exact zeros outside. */
function finishChannel(img: Float32Array, headMask: Uint8Array, bias: Float32Array, noiseStd: number, gauss: () => number): void {
  for (let i = 0; i < img.length; i++) {
    if (!headMask[i]) {
      img[i] = 0;
      continue;
    }
    const v = img[i]! * (1 + 0.06 * bias[i]!) + (noiseStd > 0 ? noiseStd * gauss() : 0);
    img[i] = M.min(1, M.max(0.005, v));
  }
}

/**
 * Generates one seeded phantom slice: skull ring, brain with grey and white
 * matter, cortical folding, ventricles and deep grey nuclei, smooth texture
 * and bias field, modality-specific contrasts, and a tumour (necrotic core,
 * enhancing rim, oedema) of the requested whole-tumour area.
 *
 * The tumour's shape and centre depend only on `tumourSeed` (and the
 * overrides) and on `size`: larger sizes give nested, scaled outlines whose
 * centre moves along `tumour.drift`, so a growth series stays consistent.
 *
 * @param options - see {@link PhantomSliceOptions}.
 * @returns the slice; see {@link PhantomSlice} for the layout.
 * @throws RangeError naming the option when an option is invalid or the
 * tumour does not fit in the brain.
 *
 * @example
 * ```ts
 * const s = generatePhantomSlice({ seed: 7, size: 900 });
 * s.modalities.t1c;  // Float32Array(240 * 240), pixel (x, y) at y * 240 + x
 * s.tumourArea;      // 900 (mm^2, 1 mm pixels)
 * ```
 */
export function generatePhantomSlice(options?: PhantomSliceOptions): PhantomSlice {
  const o = checkOptions(FN, 'options', options);
  const seed = checkSeed(FN, 'seed', o.seed ?? 0);
  const tumourSeed = checkSeed(FN, 'tumourSeed', o.tumourSeed ?? seed);
  const scanSeed = checkSeed(FN, 'scanSeed', o.scanSeed ?? seed);
  const size = checkNumber(FN, 'size', o.size ?? 0, 0);
  const w = checkInt(FN, 'width', o.width ?? 240, 16, 4096);
  const h = checkInt(FN, 'height', o.height ?? w, 16, 4096);
  const sp = checkPositive(FN, 'pixelSpacing', o.pixelSpacing ?? 240 / w);
  const skull = checkBool(FN, 'skull', o.skull ?? true);
  const noiseStd = checkNumber(FN, 'noiseStd', o.noiseStd ?? 0.01, 0, 1);
  const sliceOffset = checkNumber(FN, 'sliceOffset', o.sliceOffset ?? 0, -80, 80);
  const overrides = checkOptions(FN, 'tumour', o.tumour);
  const shape: PhantomTumourShape = { ...sampleTumourShape(new Rng(tumourSeed).fork('tumour')), ...overrides };
  checkShape(shape);

  const n = w * h;
  const anatRng = new Rng(seed).fork('anatomy');
  const an = sampleAnatomy(anatRng, sliceOffset);
  const mmToPx = 1 / sp;
  const fields: Fields = {
    fold: valueNoise(anatRng, w, h, 25 * mmToPx, 2),
    sulci: valueNoise(anatRng, w, h, 8 * mmToPx, 1),
    depthMod: valueNoise(anatRng, w, h, 14 * mmToPx, 2),
    texture: valueNoise(anatRng, w, h, 5 * mmToPx, 3),
    bias: valueNoise(anatRng, w, h, 110 * mmToPx, 1),
    tumourTex: valueNoise(anatRng, w, h, 3 * mmToPx, 2),
  };
  const anat = renderAnatomy(an, w, h, sp, skull, fields);
  const cosR = M.cos(an.rot), sinR = M.sin(an.rot);

  const target = size > 0 ? M.round(size / (sp * sp)) : 0;
  const tRng = new Rng(tumourSeed).fork('outline');
  const wtH = randomHarmonics(tRng, 2, 9, shape.irregularity);
  const coreH = randomHarmonics(tRng, 2, 5, shape.irregularity * 0.6);
  const radius = M.sqrt(size / M.PI);
  const tcx = shape.centre[0] * an.a + shape.drift[0] * (radius - shape.referenceRadius);
  const tcy = shape.centre[1] * an.b + shape.drift[1] * (radius - shape.referenceRadius);
  const geom: TumourGeometry = { tcx, tcy, sa: M.sqrt(shape.anisotropy), co: M.cos(shape.orientation), so: M.sin(shape.orientation), wtH, coreH };
  const tum = drawTumour(anat, geom, shape, target, size);

  const channels = new Float32Array(4 * n);
  const gauss = fastNormals(new Rng(scanSeed).fork('scan'));
  const headMask = new Uint8Array(n);
  for (let i = 0; i < n; i++) headMask[i] = anat.cls[i] !== BG ? 1 : 0;
  for (let m = 0; m < 4; m++) {
    const img = channels.subarray(m * n, (m + 1) * n);
    shadeChannel(img, m, anat.cls, tum, fields);
    gaussianBlur(img, w, h, 0.55);
    finishChannel(img, headMask, fields.bias, noiseStd, gauss);
  }
  const { label, tumourPixels } = tum;
  const cls = anat.cls;
  const brainMask = anat.brainMask;
  const modalities = {} as Record<PhantomModality, Float32Array>;
  PHANTOM_MODALITIES.forEach((mod, m) => (modalities[mod] = channels.subarray(m * n, (m + 1) * n)));
  let headCount = 0;
  for (let i = 0; i < n; i++) headCount += headMask[i]!;
  // Tumour centre in pixel coordinates (inverse of the anatomy transform).
  const pxc = cosR * tcx - sinR * tcy + an.sx;
  const pyc = sinR * tcx + cosR * tcy + an.sy;
  return {
    width: w,
    height: h,
    pixelSpacing: sp,
    channels,
    modalities,
    label,
    tissue: cls,
    brainMask,
    headMask,
    tumourArea: tumourPixels * sp * sp,
    tumourPixels,
    burden: headCount > 0 ? tumourPixels / headCount : 0,
    tumour: shape,
    tumourCentre: [pxc / sp + w / 2 - 0.5, pyc / sp + h / 2 - 0.5],
  };
}
