/**
 * The sampling settings of a prediction, their defaults, the respaced
 * diffusion process they sample with, and their check against the networks.
 */
import { createDiffusion, spaceTimesteps } from '@tumorcast/diffusion';
import type { Diffusion } from '@tumorcast/diffusion';
import { PipelineInputError, apiOptionName } from './errors.js';
import type { OptionNamer } from './errors.js';
import type { PredictionNetworks } from './networks.js';

/** Sampling settings (the paper's values as defaults where they apply). */
export interface SampleSettings {
  /** Noise level L in original timesteps. @defaultValue 200 */
  noiseLevel: number;
  /** Guidance scale s. @defaultValue 200000 (the paper's) */
  scale: number;
  /** Timestep respacing of the sampler (e.g. 'ddim100': L = 200 is then 20 steps); '' for none. @defaultValue 'ddim100' */
  respacing: string;
  /** DDIM eta. @defaultValue 0 */
  eta: number;
  /** Seed. @defaultValue 0 */
  seed: number;
  /** The reference code's target x1.15 while t > 20. @defaultValue true */
  amplifyEarlyTarget: boolean;
  /** Noise std added before inversion (the reference's 0.01). @defaultValue 0.01 */
  initialNoiseStd: number;
  /**
   * Runs of the probability map. Run 0 of a map is the guided sample itself
   * (the same seed stream), so with 1 the map is the segmented guided sample
   * and costs no second pass.
   * @defaultValue 8
   */
  samples: number;
  /**
   * How a low-resolution prediction returns to the input's geometry:
   * 'residual' adds the upsampled predicted change to the full-resolution
   * baseline (keeps its detail); 'upsampled' upsamples the generated scan.
   * @defaultValue 'residual'
   */
  outputMode: 'residual' | 'upsampled';
  /**
   * Where the r0 of the guidance's target r0 (1 + d) comes from: 'label',
   * the baseline's tumour burden (its label's, or the segmenter's when it has
   * none); or 'regressor', the regressor's own reading of the unchanged
   * baseline at t = 0 (clamped at 0), so that the target is in the
   * regressor's scale and its per-patient bias does not eat the change.
   * Either way the label (or segmented) mask stays the baseline's mask for
   * the segmenters and the scores. Use 'regressor' where `tuneGuidance`
   * (`tumorcast-predict tune --baseline-burdens label regressor`) ranks it
   * first on held-out slices.
   * @defaultValue 'label' (the paper's: the burden of the baseline's segmentation)
   */
  baselineBurden: 'label' | 'regressor';
  /**
   * What steers the decoding towards the target burden: 'regressor', the
   * paper's (the burden regressor on the noised x_t at its timestep); or
   * 'segmenter', the learned segmenter's soft tumour burden (its tumour
   * probabilities summed over the baseline's brain pixels) read on each
   * step's denoised estimate of x0 (`guidanceInput` 'denoised' of
   * @tumorcast/guided-sampler). The segmenter's gradient sits on the tumour's
   * border, so guidance grows or shrinks the tumour itself, where a regressor
   * that is not robust is satisfied by small changes elsewhere. Needs a
   * learned segmenter (`models.segmenter`); with 'segmenter',
   * `baselineBurden` 'regressor' means the segmenter's own soft reading of the
   * baseline (the guiding network's scale). Score the results with a segmenter
   * that did not guide them (`tuneGuidance`'s `scoringSegmenter`).
   * @defaultValue 'regressor' (the paper's)
   */
  guidance: 'regressor' | 'segmenter';
  /**
   * With `guidance` 'segmenter' only: the gradient temperature T of the
   * segmenter's soft burden (@tumorcast/segmenter's `segmenterBurden`
   * `gradientTemperature`). The burden's value stays the calibrated one (the
   * target r0 (1 + d) is in its units); only its gradient changes: for
   * T > 1 it reaches further from the tumour's border, so guidance can grow
   * a tumour into tissue the segmenter reads confidently as healthy (with
   * the true gradient, T = 1, large growth stops short). Finite, > 0; a value
   * other than 1 with guidance 'regressor' is an error.
   * @defaultValue 1 (the true gradient)
   */
  gradientTemperature: number;
  /**
   * With `guidance` 'segmenter' only: keeps the segmenter burden's gradient
   * to pixels within this many pixels (a square window) of the pixels the
   * segmenter reads as tumour in the same image (@tumorcast/segmenter's
   * `segmenterBurden` `gradientMarginPixels`); the burden's value does not
   * change. Pixels of the networks' grid (the sampler's image size: 64 for
   * the demo networks, 256 at the paper's scale). Why: the wider gradient
   * of `gradientTemperature` > 1 reaches every pixel the segmenter is not
   * quite sure of, and guidance then grows specks of tumour far from the
   * tumour (at tissue edges); kept near the tumour it grows the tumour
   * itself. An integer >= 0, or Infinity (everywhere); a finite value with
   * guidance 'regressor' is an error. Run records leave it out at Infinity
   * (JSON has no Infinity), and a missing value reads as Infinity.
   * @defaultValue Infinity (everywhere)
   */
  gradientMarginPixels: number;
}

/**
 * The guidance settings tuned for tumorcast's shipped demo networks (the
 * 64x64 phantom models of `tumorcast-predict`'s `models/`), over
 * {@link DEFAULT_SAMPLE_SETTINGS}: guided by the shipped segmenter's soft
 * tumour burden of the denoised estimate, scale 1000000, r0 from its own
 * reading of the baseline, the target not amplified early (the reference
 * code's x1.15 above t = 20 overshoots with this guide), gradient
 * temperature 2 (with the true gradient large growth stops short), the
 * gradient kept within 4 pixels of the tumour (the wider gradient alone
 * grows specks of tumour far from it).
 * `tuneGuidance` picked them on one set of phantom patients and they held
 * on held-out ones, scored by a segmenter trained apart (the shipped
 * regressor is satisfied by changes that are not tumour; the paper's
 * regressor guidance at 200000 barely moves the segmented tumour). The demo
 * and the web app's demo networks use them; other networks keep the
 * defaults until tuned.
 */
export const DEMO_NETWORK_SETTINGS: Readonly<Pick<SampleSettings, 'scale' | 'baselineBurden' | 'guidance' | 'amplifyEarlyTarget' | 'gradientTemperature' | 'gradientMarginPixels'>> = Object.freeze({
  scale: 1_000_000, baselineBurden: 'regressor', guidance: 'segmenter', amplifyEarlyTarget: false, gradientTemperature: 2, gradientMarginPixels: 4,
});

/**
 * The settings added after run records were first written, at the values
 * records from before them were made with: the paper's label r0 and
 * regressor guidance, the true gradient, everywhere.
 */
export const RECORDED_SETTING_DEFAULTS: Readonly<Pick<SampleSettings, 'baselineBurden' | 'guidance' | 'gradientTemperature' | 'gradientMarginPixels'>> = Object.freeze({
  baselineBurden: 'label', guidance: 'regressor', gradientTemperature: 1, gradientMarginPixels: Infinity,
});

/**
 * Settings as records keep them: each of {@link RECORDED_SETTING_DEFAULTS}
 * left out at its value, so that results from before it stay valid (and
 * JSON, which has no Infinity, never sees the margin's default).
 *
 * @param settings - the settings.
 * @returns a copy without those fields where they hold their defaults.
 */
export function settingsForRecord<S extends Partial<SampleSettings>>(settings: S): Partial<S> {
  const out: Partial<S> = { ...settings };
  for (const [k, v] of Object.entries(RECORDED_SETTING_DEFAULTS)) if (out[k as keyof S] === v) delete out[k as keyof S];
  return out;
}

/**
 * Settings read from a record: each of {@link RECORDED_SETTING_DEFAULTS}
 * missing (or null, as JSON writes Infinity) filled with its value.
 *
 * @param recorded - the recorded settings.
 * @returns a copy with those fields filled.
 */
export function settingsFromRecord<S extends Partial<SampleSettings>>(recorded: S): S & Pick<SampleSettings, keyof typeof RECORDED_SETTING_DEFAULTS> {
  const out: Record<string, unknown> = { ...recorded };
  for (const [k, v] of Object.entries(RECORDED_SETTING_DEFAULTS)) if (out[k] === undefined || out[k] === null) out[k] = v;
  return out as S & Pick<SampleSettings, keyof typeof RECORDED_SETTING_DEFAULTS>;
}

/** The values {@link SampleSettings.guidance} takes. */
export const GUIDANCE_NETWORKS: readonly SampleSettings['guidance'][] = Object.freeze(['regressor', 'segmenter'] as const);

/** The values {@link SampleSettings.baselineBurden} takes. */
export const BASELINE_BURDEN_SOURCES: readonly SampleSettings['baselineBurden'][] = Object.freeze(['label', 'regressor'] as const);

/** Default {@link SampleSettings}. */
export const DEFAULT_SAMPLE_SETTINGS: Readonly<SampleSettings> = Object.freeze({
  noiseLevel: 200, scale: 200000, respacing: 'ddim100', eta: 0, seed: 0, amplifyEarlyTarget: true, initialNoiseStd: 0.01, samples: 8, outputMode: 'residual',
  baselineBurden: 'label', guidance: 'regressor', gradientTemperature: 1, gradientMarginPixels: Infinity,
});

/**
 * The diffusion process to sample with: the networks' process, respaced as
 * the settings say. Build it once per run and pass it to every `predictSlice`.
 *
 * @param networks - the networks (their diffusion process).
 * @param settings - `respacing`.
 */
export function samplingDiffusion(networks: Pick<PredictionNetworks, 'process'>, settings: Pick<SampleSettings, 'respacing'>): Diffusion {
  return createDiffusion({
    steps: networks.process.steps, schedule: networks.process.schedule, learnSigma: networks.process.learnSigma,
    ...(settings.respacing ? { timestepRespacing: settings.respacing } : {}),
  });
}

/**
 * Checks that the settings fit the diffusion model: a noise level within its
 * timesteps, and a respacing of them; and, when given, that
 * `baselineBurden` is one of {@link BASELINE_BURDEN_SOURCES} and `guidance`
 * one of {@link GUIDANCE_NETWORKS} (with a learned segmenter loaded for
 * 'segmenter' when `networks` says which are loaded), and
 * `gradientTemperature` and `gradientMarginPixels` as
 * {@link checkGradientTemperature} and {@link checkGradientMarginPixels} say.
 *
 * @param networks - the loaded networks.
 * @param settings - the settings.
 * @param model - the diffusion model's file (or name), for the message.
 * @param names - how messages name the options.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the setting and the model.
 */
export function checkSettingsFit(
  networks: Pick<PredictionNetworks, 'process'> & Partial<Pick<PredictionNetworks, 'segmenter'>>,
  settings: Pick<SampleSettings, 'noiseLevel' | 'respacing'> & Partial<Pick<SampleSettings, 'baselineBurden' | 'guidance' | 'gradientTemperature' | 'gradientMarginPixels'>>,
  model: string, names: OptionNamer = apiOptionName,
): void {
  if (settings.baselineBurden !== undefined) checkBaselineBurden(settings.baselineBurden, names);
  if (settings.gradientTemperature !== undefined) checkGradientTemperature(settings.gradientTemperature, settings.guidance ?? DEFAULT_SAMPLE_SETTINGS.guidance, names);
  if (settings.gradientMarginPixels !== undefined) checkGradientMarginPixels(settings.gradientMarginPixels, settings.guidance ?? DEFAULT_SAMPLE_SETTINGS.guidance, names);
  if (settings.guidance !== undefined) {
    checkGuidance(settings.guidance, names);
    // Only where the caller passed loaded networks (they have a U-Net): a process alone says nothing about the segmenter.
    if (settings.guidance === 'segmenter' && 'unet' in networks && !networks.segmenter) {
      throw new PipelineInputError(`${names('settings.guidance', "'segmenter'")} needs a learned segmenter: give the segmenter's weights (${names('models.segmenter')}), or guide with 'regressor'`);
    }
  }
  const T = networks.process.steps;
  if (settings.noiseLevel > T) {
    throw new PipelineInputError(`${names('settings.noiseLevel', String(settings.noiseLevel))} is more than the ${T} timesteps of the diffusion model ${model}: use at most ${T}`);
  }
  if (settings.respacing) {
    try {
      spaceTimesteps(T, settings.respacing);
    } catch (e) {
      const why = (e as Error).message.replace(/'sectionCounts' passed to 'spaceTimesteps':?\s*/, '');
      throw new PipelineInputError(`${names('settings.respacing', `'${settings.respacing}'`)} does not fit the ${T} timesteps of the diffusion model ${model} (${why})`, { cause: e });
    }
  }
}

/**
 * Checks {@link SampleSettings.baselineBurden}.
 *
 * @param value - the setting.
 * @param names - how the message names it.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the setting and its values.
 */
export function checkBaselineBurden(value: unknown, names: OptionNamer = apiOptionName): void {
  if (!BASELINE_BURDEN_SOURCES.includes(value as SampleSettings['baselineBurden'])) {
    throw new PipelineInputError(`${names('settings.baselineBurden', JSON.stringify(value))} must be 'label' or 'regressor' (where the target's r0 comes from)`);
  }
}

/**
 * Checks {@link SampleSettings.guidance}.
 *
 * @param value - the setting.
 * @param names - how the message names it.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the setting and its values.
 */
export function checkGuidance(value: unknown, names: OptionNamer = apiOptionName): void {
  if (!GUIDANCE_NETWORKS.includes(value as SampleSettings['guidance'])) {
    throw new PipelineInputError(`${names('settings.guidance', JSON.stringify(value))} must be 'regressor' or 'segmenter' (the network whose burden reading steers the decoding)`);
  }
}

/**
 * Checks {@link SampleSettings.gradientTemperature}: a finite number > 0, and
 * 1 unless `guidance` is 'segmenter' (the regressor's guidance has no such
 * setting).
 *
 * @param value - the setting.
 * @param guidance - the guidance it goes with.
 * @param names - how the message names it.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the setting and what to give.
 */
export function checkGradientTemperature(value: unknown, guidance: SampleSettings['guidance'], names: OptionNamer = apiOptionName): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PipelineInputError(`${names('settings.gradientTemperature', typeof value === 'number' ? String(value) : JSON.stringify(value))} must be a finite number > 0 (1: the segmenter's true gradient)`);
  }
  if (value !== 1 && guidance !== 'segmenter') {
    throw new PipelineInputError(`${names('settings.gradientTemperature', String(value))} applies to ${names('settings.guidance', "'segmenter'")} only: guide with 'segmenter', or leave the temperature at 1`);
  }
}

/**
 * Checks {@link SampleSettings.gradientMarginPixels}: an integer >= 0 or
 * Infinity, and Infinity unless `guidance` is 'segmenter' (the regressor's
 * guidance has no such setting).
 *
 * @param value - the setting.
 * @param guidance - the guidance it goes with.
 * @param names - how the message names it.
 * @defaultValue names apiOptionName
 * @throws PipelineInputError naming the setting and what to give.
 */
export function checkGradientMarginPixels(value: unknown, guidance: SampleSettings['guidance'], names: OptionNamer = apiOptionName): void {
  if (typeof value !== 'number' || !(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new PipelineInputError(`${names('settings.gradientMarginPixels', typeof value === 'number' ? String(value) : JSON.stringify(value))} must be an integer >= 0 (pixels of the networks' grid) or Infinity (the gradient everywhere)`);
  }
  if (value !== Infinity && guidance !== 'segmenter') {
    throw new PipelineInputError(`${names('settings.gradientMarginPixels', String(value))} applies to ${names('settings.guidance', "'segmenter'")} only: guide with 'segmenter', or leave the margin at Infinity`);
  }
}

/**
 * The segmenter guidance's gradient settings in words ("gradient temperature
 * 2, gradient within 4 pixels of the tumour"), each only where it is not its
 * default (temperature 1, margin Infinity); '' when both are.
 *
 * @param settings - `gradientTemperature` (absent: 1) and `gradientMarginPixels` (absent: Infinity).
 */
export function gradientShaping(settings: Partial<Pick<SampleSettings, 'gradientTemperature' | 'gradientMarginPixels'>>): string {
  const temperature = settings.gradientTemperature ?? 1;
  const margin = settings.gradientMarginPixels ?? Infinity;
  return [
    ...(temperature !== 1 ? [`gradient temperature ${temperature}`] : []),
    ...(margin !== Infinity ? [`gradient within ${margin} pixels of the tumour`] : []),
  ].join(', ');
}

/**
 * A record that holds settings (run.json, cohort.json) as JSON text, with
 * `gradientMarginPixels` left out where it is Infinity: JSON has no Infinity
 * (it would write null), and {@link settingsFromRecord} reads a missing
 * margin back as Infinity.
 *
 * @param record - the record.
 * @returns its JSON, indented by 2, with a final newline.
 */
export function recordJson(record: unknown): string {
  return `${JSON.stringify(record, (key, v: unknown) => (key === 'gradientMarginPixels' && v === Infinity ? undefined : v), 2)}\n`;
}

/**
 * How a run was guided, in words for reports: the guiding network (with its
 * gradient temperature when it is not 1, and its gradient margin when it is
 * finite) and where the target's r0 came from.
 *
 * @param settings - `guidance`, `baselineBurden`, `gradientTemperature`
 *   (absent: 1) and `gradientMarginPixels` (absent: Infinity).
 */
export function guidanceSummary(
  settings: Pick<SampleSettings, 'guidance' | 'baselineBurden'> & Partial<Pick<SampleSettings, 'gradientTemperature' | 'gradientMarginPixels'>>,
): string {
  const shaping = gradientShaping(settings);
  const guide = settings.guidance === 'segmenter'
    ? `guided by the segmenter's burden of the denoised estimate${shaping ? ` (${shaping})` : ''}` : "guided by the regressor";
  const own = settings.guidance === 'segmenter' ? "segmenter's" : "regressor's";
  return `${guide}, r0 from the ${settings.baselineBurden === 'regressor' ? `${own} reading of the baseline` : 'label'}`;
}
