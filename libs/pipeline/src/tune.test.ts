import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tumorcast/nn';
import { writePhantomDataset } from '@tumorcast/phantom';
import type { UNetConfig } from '@tumorcast/unet';
import { PipelineDataError, PipelineInputError } from './errors.js';
import { residualMask, summariseTuneRows, tuneGuidance, tuneMarkdown, tuneRowsCsv, tuneSummaryCsv } from './tune.js';
import type { TuneOptions, TuneRow } from './tune.js';
import { regressorNoiseAccuracy } from './tune-regressor.js';
import { findTruth, loadTruth } from './truth.js';
import { loadPredictionSlice } from './slices.js';
import { maskToNative } from './geometry.js';
import { createSegmenterNet, saveSegmenter } from '@tumorcast/segmenter';
import { AUTHORS_REGRESSOR_PT, AUTHORS_UNET_PT, loadAuthorsReference } from '../../../libs/regressor/test/authors-fork.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-pipeline-tune-'));
const data = path.join(tmp, 'phantom');
let base: TuneOptions;
beforeAll(async () => {
  await initBackend({ log: false });
  await writePhantomDataset(data, { seed: 5, patients: 1, preview: false, patient: { sliceIds: [80, 84], slice: { width: 96 } } });
  const ref = loadAuthorsReference();
  base = {
    data, out: path.join(tmp, 'out'), truth: path.join(data, 'followup'), targets: { kind: 'truth' },
    models: { diffusion: AUTHORS_UNET_PT, regressor: AUTHORS_REGRESSOR_PT, diffusionPreset: ref.unetConfig as unknown as UNetConfig, regressorPreset: ref.regressorConfig },
    noiseLevels: [2, 4], scales: [0, 1000], respacings: [''], regressorCheck: false,
  };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A row with the fields the summary reads; the rest zero. */
function row(o: Partial<TuneRow>): TuneRow {
  return {
    noiseLevel: 200, scale: 1, respacing: 'ddim100', baselineFrom: 'label', steps: 20, id: 'a', relativeChange: 0, baselineBurden: 0.02, targetBurden: 0.02,
    regressorBaselineBurden: 0.02, guidedTarget: 0.02, regressorBurden: 0.02,
    segmentedBaselineBurden: 0.02, segmentedBurden: 0.02, targetError: 0, moved: 0, maxChange: 0, seconds: 1, ...o,
  };
}

describe('summariseTuneRows', () => {
  it('takes the means and ranks by area ratio + miss ratio (hand-computed)', () => {
    // areaError mean 0.1 vs baseline 0.3 -> ratio 1/3; 1 - Dice: mean 0.15 vs 0.25 -> 0.6.
    const s = summariseTuneRows([
      row({ id: 'a', dice: 0.9, baselineDice: 0.8, areaError: 0.05, baselineAreaError: 0.2, guidedTarget: 0.04, regressorBurden: 0.05, seconds: 2 }),
      row({ id: 'b', dice: 0.8, baselineDice: 0.7, areaError: 0.15, baselineAreaError: 0.4, guidedTarget: 0.02, regressorBurden: 0.01, seconds: 4 }),
    ]);
    expect(s.slices).toBe(2);
    expect(s.areaRatio).toBeCloseTo(1 / 3, 12);
    expect(s.missRatio).toBeCloseTo(0.6, 12);
    expect(s.objective).toBeCloseTo(1 / 3 + 0.6, 12);
    expect(s.meetsAcceptance).toBe(true);
    // |0.05 - 0.04| / 0.04 = 0.25 and |0.01 - 0.02| / 0.02 = 0.5.
    expect(s.regressorError).toBeCloseTo(0.375, 12);
    expect(s.secondsPerSlice).toBe(3);
    // Without target area errors the bound is unknown.
    expect(s.targetAreaRatio).toBeNaN();
    // Targets 10 % and 30 % off the true burden against baseline errors 0.2 and 0.4: (0.1 + 0.3) / 2 / 0.3.
    const t = summariseTuneRows([
      row({ dice: 0.9, baselineDice: 0.8, areaError: 0.05, baselineAreaError: 0.2, targetAreaError: 0.1 }),
      row({ dice: 0.8, baselineDice: 0.7, areaError: 0.15, baselineAreaError: 0.4, targetAreaError: 0.3 }),
    ]);
    expect(t.targetAreaRatio).toBeCloseTo(2 / 3, 12);
    // Without the segmenter's readings of the baseline and the follow-up scans, those ratios are unknown.
    expect(s.sameScorerAreaRatio).toBeNaN();
    expect(s.followupScanMissRatio).toBeNaN();
    expect(s.meetsAcceptanceSameScorer).toBe(false);
  });

  it('scores against the segmenter\'s reading of the baseline and of the real follow-up scan (hand-computed)', () => {
    // Prediction: area error mean 0.1, 1 - Dice mean 0.15. Segmented baseline: area error mean (0.3 + 0.1) / 2 = 0.2,
    // 1 - Dice mean (0.25 + 0.15) / 2 = 0.2 -> same-scorer ratios 0.5 and 0.75. Segmented follow-up scans: area error
    // mean 0.06, 1 - Dice mean 0.1, against the labels' baseline 0.3 and 0.25 -> 0.2 and 0.4.
    const s = summariseTuneRows([
      row({ dice: 0.9, baselineDice: 0.8, areaError: 0.05, baselineAreaError: 0.2, segmentedBaselineDice: 0.75, segmentedBaselineAreaError: 0.3, segmentedFollowupDice: 0.92, segmentedFollowupAreaError: 0.04 }),
      row({ dice: 0.8, baselineDice: 0.7, areaError: 0.15, baselineAreaError: 0.4, segmentedBaselineDice: 0.85, segmentedBaselineAreaError: 0.1, segmentedFollowupDice: 0.88, segmentedFollowupAreaError: 0.08 }),
    ]);
    expect(s.sameScorerAreaRatio).toBeCloseTo(0.5, 12);
    expect(s.sameScorerMissRatio).toBeCloseTo(0.75, 12);
    expect(s.meetsAcceptanceSameScorer).toBe(true);
    expect(s.followupScanAreaRatio).toBeCloseTo(0.2, 12);
    expect(s.followupScanMissRatio).toBeCloseTo(0.4, 12);
    // Without the grid's round trip of the follow-up labels its ratios are unknown.
    expect(s.followupGridMissRatio).toBeNaN();
    // Grid round trips: area error mean (0.03 + 0.09) / 2 = 0.06, 1 - Dice mean (0.04 + 0.06) / 2 = 0.05,
    // against the labels' baseline 0.3 and 0.25 -> 0.2 and 0.2.
    const g = summariseTuneRows([
      row({ dice: 0.9, baselineDice: 0.8, areaError: 0.05, baselineAreaError: 0.2, gridFollowupDice: 0.96, gridFollowupAreaError: 0.03 }),
      row({ dice: 0.8, baselineDice: 0.7, areaError: 0.15, baselineAreaError: 0.4, gridFollowupDice: 0.94, gridFollowupAreaError: 0.09 }),
    ]);
    expect(g.gridFollowupDice).toBeCloseTo(0.95, 12);
    expect(g.gridFollowupAreaError).toBeCloseTo(0.06, 12);
    expect(g.followupGridAreaRatio).toBeCloseTo(0.2, 12);
    expect(g.followupGridMissRatio).toBeCloseTo(0.2, 12);
    // A prediction worse than the segmented baseline fails the same-scorer bounds though it beats the label's area error.
    const w = summariseTuneRows([row({ dice: 0.7, baselineDice: 0.8, areaError: 0.05, baselineAreaError: 0.2, segmentedBaselineDice: 0.75, segmentedBaselineAreaError: 0.3 })]);
    expect(w.sameScorerAreaRatio).toBeCloseTo(1 / 6, 12);
    expect(w.sameScorerMissRatio).toBeCloseTo(1.2, 12);
    expect(w.meetsAcceptanceSameScorer).toBe(false);
  });

  it('misses the acceptance when the size is bought with the wrong place, and ranks by target error without truth', () => {
    const s = summariseTuneRows([row({ dice: 0.7, baselineDice: 0.8, areaError: 0.01, baselineAreaError: 0.2 })]);
    expect(s.areaRatio).toBeCloseTo(0.05, 12);
    expect(s.missRatio).toBeCloseTo(1.5, 12);
    expect(s.meetsAcceptance).toBe(false);
    const n = summariseTuneRows([row({ targetError: 0.3 }), row({ targetError: 0.1 })]);
    expect(n.areaRatio).toBeNaN();
    expect(n.objective).toBeCloseTo(0.2, 12);
    expect(() => summariseTuneRows([])).toThrow(/at least one row/);
  });
});

describe('residualMask', () => {
  it('moves the label by what the segmenter sees change (hand-computed)', () => {
    const label = Uint8Array.from([1, 1, 0, 0, 1, 0]);
    const before = Uint8Array.from([1, 0, 0, 1, 1, 0]);
    const after = Uint8Array.from([0, 0, 1, 1, 1, 0]);
    // pixel 0: seen to vanish -> 0; 1: unchanged (label 1); 2: seen to appear -> 1; 3, 4, 5: unchanged (label).
    expect(Array.from(residualMask(label, before, after))).toEqual([0, 1, 1, 0, 1, 0]);
    expect(() => residualMask(label, before, after.subarray(1))).toThrow(/'before' and 'after' passed to 'residualMask' must have the label's 6 pixels/);
  });
});

describe('regressorNoiseAccuracy', () => {
  const S = 8;
  // Images whose every value is the burden b: a regressor that reads (mean(x) + 1) / 2 back from [-1, 1]
  // recovers b exactly at t = 0 (up to the forward noise, std sqrt(1 - ab_0) = 0.01 per value, averaged over 256 values).
  const burdens = [0.1, 0.3, 0.5, 0.7];
  const images = burdens.map((b) => ({ model: new Float32Array(S * S * 4).fill(b), burden: b }));
  const networks = (regressor: (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor1D) => ({
    regressor, imageSize: S, dataRange: '[-1,1]' as const, process: { steps: 1000, schedule: 'linear' as const, learnSigma: false },
  });
  const reader = (x: tf.Tensor4D) => tf.tidy(() => x.mean([1, 2, 3]).add(1).div(2) as tf.Tensor1D);

  it('a regressor that reads the image back is exact at t = 0 and loses accuracy and correlation with noise', async () => {
    const rows = await regressorNoiseAccuracy(networks(reader), images, { edges: [0, 1, 900, 1000], perBucket: 1 });
    expect(rows.map((r) => [r.from, r.to])).toEqual([[0, 1], [1, 900], [900, 1000]]);
    expect(rows[0]!.mae).toBeLessThan(2e-3);
    expect(rows[0]!.correlation).toBeGreaterThan(0.999);
    // At t ~ 950 sqrt(ab_t) is ~0.006: the reading is ~0.5 whatever the burden (mean |b - 0.5| = 0.2).
    expect(rows[2]!.mae).toBeGreaterThan(0.15);
    // Constant answer: the mean burden 0.4 misses by mean |b - 0.4| = 0.2.
    expect(rows[0]!.maeConstant).toBeCloseTo(0.2, 12);
  });

  it('a constant regressor: MAE and bias from the burdens, no correlation; frees its tensors', async () => {
    const n0 = tf.memory().numTensors;
    const rows = await regressorNoiseAccuracy(networks((x) => tf.fill([x.shape[0]], 0.6) as tf.Tensor1D), images, { edges: [0, 50, 100], perBucket: 2, batch: 3 });
    expect(tf.memory().numTensors).toBe(n0);
    for (const r of rows) {
      expect(r.n).toBe(8);
      expect(r.mae).toBeCloseTo((0.5 + 0.3 + 0.1 + 0.1) / 4, 6);
      expect(r.bias).toBeCloseTo(0.2, 6);
      expect(r.correlation).toBeNaN();
    }
    expect(rows[0]!.timesteps).toEqual([0, 49]);
  });

  it('refuses bad images and edges naming the argument', async () => {
    const nets = networks(reader);
    await expect(regressorNoiseAccuracy(nets, images.slice(0, 1))).rejects.toThrow(/'images' passed to 'regressorNoiseAccuracy' must hold at least 2/);
    await expect(regressorNoiseAccuracy(nets, [images[0]!, { model: new Float32Array(3), burden: 0.1 }])).rejects.toThrow(/'images\[1\]\.model'.*8x8x4/);
    await expect(regressorNoiseAccuracy(nets, [images[0]!, { ...images[1]!, burden: 2 }])).rejects.toThrow(/'images\[1\]\.burden'.*\[0, 1\]/);
    await expect(regressorNoiseAccuracy(nets, images, { edges: [0, 50, 20] })).rejects.toThrow(/'edges'.*increasing/);
    await expect(regressorNoiseAccuracy(nets, images, { perBucket: 0 })).rejects.toThrow(/'perBucket'/);
  });
});

describe("the networks' grid round trip of a label (tune's grid ceiling)", () => {
  // Independent of the data set's and the pipeline's resizing: tfjs's own kernels, an average pool of the label
  // padded to 256 (>= 0.5: the networks' label), then bilinear with half-pixel centres back to 256 (>= 0.5) and the crop.
  function oracle(label: Uint8Array, W: number, H: number, S: number): Uint8Array {
    const [oy, ox] = [Math.floor((256 - H) / 2), Math.floor((256 - W) / 2)];
    return tf.tidy(() => {
      const padded = tf.pad(tf.tensor2d(Float32Array.from(label), [H, W]), [[oy, 256 - H - oy], [ox, 256 - W - ox]]);
      const low = tf.cast(tf.greaterEqual(tf.avgPool(padded.reshape([1, 256, 256, 1]) as tf.Tensor4D, 256 / S, 256 / S, 'valid'), 0.5), 'float32');
      const up = tf.image.resizeBilinear(low as tf.Tensor4D, [256, 256], false, true);
      return Uint8Array.from(tf.greaterEqual(tf.slice(up, [0, oy, ox, 0], [1, H, W, 1]), 0.5).dataSync());
    });
  }
  for (const S of [32, 64]) {
    it(`at ${S}x${S}: loadPredictionSlice's label brought back by maskToNative is tfjs's round trip, pixel for pixel`, async () => {
      for (const id of ['90000000_80', '90000000_84']) {
        const info = (await findTruth(path.join(data, 'followup'), id))!;
        const truth = (await loadTruth(path.join(data, 'followup'), id))!;
        const slice = await loadPredictionSlice(info, S);
        const got = maskToNative(slice.modelLabel!, S, slice.width, slice.height);
        const want = oracle(truth.label, slice.width, slice.height, S);
        let differ = 0, tumour = 0;
        for (let i = 0; i < want.length; i++) {
          if (got[i] !== want[i]) differ++;
          if (want[i]) tumour++;
        }
        // Exact: both threshold the same bilinear weights (ties at exactly 0.5 are measure-zero here).
        expect(differ).toBe(0);
        // Not trivial: the tumour survives the grid, and the round trip is not the label itself.
        expect(tumour).toBeGreaterThan(0);
        expect(Array.from(want).some((v, i) => v !== (truth.label[i]! > 0 ? 1 : 0))).toBe(true);
      }
    });
  }
  it('at 256x256 (the paper\'s grid, the side slices are padded to) the round trip is the label itself: no cost', async () => {
    const info = (await findTruth(path.join(data, 'followup'), '90000000_80'))!;
    const truth = (await loadTruth(path.join(data, 'followup'), '90000000_80'))!;
    const slice = await loadPredictionSlice(info, 256);
    expect(Array.from(maskToNative(slice.modelLabel!, 256, slice.width, slice.height))).toEqual(Array.from(truth.label, (v) => (v > 0 ? 1 : 0)));
  });
});

describe('tuneGuidance', () => {
  it('samples every setting and slice, scores the segmented tumour, writes the CSVs and the summary; frees its tensors', async () => {
    const lines: string[] = [];
    const n0 = tf.memory().numTensors;
    const r = await tuneGuidance({ ...base, noiseLevels: [3], baselineBurdens: ['label', 'regressor'], regressorCheck: true, log: (m) => lines.push(m) });
    expect(tf.memory().numTensors).toBe(n0);
    expect(r.rows).toHaveLength(2 * 2 * 2);
    expect(r.summaries).toHaveLength(4);
    expect(r.summaries.filter((s) => s.baselineFrom === 'regressor')).toHaveLength(2);
    expect(r.scoredAgainstTruth).toBe(true);
    const objectives = r.summaries.map((s) => s.objective);
    expect([...objectives].sort((a, b) => a - b)).toEqual(objectives);
    expect(r.best).toBe(r.summaries[0]);
    for (const x of r.rows) {
      expect(x.steps).toBe(3);
      // The true change: the target is the real follow-up's burden.
      expect(x.targetBurden).toBeCloseTo(x.trueBurden!, 6);
      // The guidance's target: r0 (1 + d) with r0 the label's, or the regressor's reading of the baseline.
      const r0 = x.baselineFrom === 'label' ? x.baselineBurden : Math.max(0, x.regressorBaselineBurden);
      expect(x.guidedTarget).toBeCloseTo(r0 * (x.trueBurden! / x.baselineBurden), 6);
      expect(x.dice).toBeGreaterThanOrEqual(0);
      expect(x.dice).toBeLessThanOrEqual(1);
    }
    // The baseline's scores do not depend on the setting.
    const a = r.rows.filter((x) => x.id === r.rows[0]!.id);
    expect(new Set(a.map((x) => x.baselineDice)).size).toBe(1);
    expect(new Set(a.map((x) => x.segmentedBaselineBurden)).size).toBe(1);
    // The segmenter's reading of the real follow-up scan: a Dice in [0, 1], the same for every setting.
    expect(a[0]!.segmentedFollowupDice).toBeGreaterThanOrEqual(0);
    expect(a[0]!.segmentedFollowupDice).toBeLessThanOrEqual(1);
    expect(new Set(a.map((x) => x.segmentedFollowupDice)).size).toBe(1);
    expect(new Set(a.map((x) => x.segmentedFollowupAreaError)).size).toBe(1);
    expect(Number.isFinite(r.best.followupScanMissRatio)).toBe(true);
    expect(Number.isFinite(r.best.sameScorerMissRatio)).toBe(true);
    // The grid's round trip of the follow-up's label: the same for every setting, a Dice in [0, 1]
    // (at these networks' 16x16 grid the phantom's small tumour vanishes: 0; the values are checked at 32 and 64 below).
    expect(new Set(a.map((x) => x.gridFollowupDice)).size).toBe(1);
    expect(a[0]!.gridFollowupDice).toBeGreaterThanOrEqual(0);
    expect(a[0]!.gridFollowupDice).toBeLessThanOrEqual(1);
    expect(Number.isFinite(r.best.followupGridMissRatio)).toBe(true);
    for (const f of ['tune.csv', 'tune-summary.csv', 'tune.json', 'tune.md', 'regressor-noise.csv']) expect(fs.existsSync(path.join(base.out, f))).toBe(true);
    const csv = fs.readFileSync(path.join(base.out, 'tune.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + 8);
    expect(csv[0]).toMatch(/^noise_level,scale,respacing,baseline_from,guidance,gradient_temperature,gradient_margin_pixels,steps,id,.*,dice,area_error,baseline_dice,baseline_area_error,.*,target_area_error,seconds$/);
    expect(fs.readFileSync(path.join(base.out, 'tune.md'), 'utf8'))
      .toContain(`--noise-level ${r.best.noiseLevel} --scale ${r.best.scale} --respacing '' --baseline-burden ${r.best.baselineFrom} --guidance regressor\``);
    // Guided to the true change, a prediction that hits its target has the true burden: the targets allow an area ratio of 0.
    for (const x of r.rows) expect(x.targetAreaError).toBeCloseTo(0, 6);
    expect(r.best.targetAreaRatio).toBeCloseTo(0, 6);
    expect(lines.some((l) => l.startsWith('regressor at t 0-19: MAE'))).toBe(true);
    expect(lines.filter((l) => l.startsWith('setting '))).toHaveLength(4);
    expect(r.regressor?.length).toBeGreaterThan(0);
  }, 300_000);

  it('without truth: ranks by the target error, and leaves the truth columns empty', () => {
    const r = { rows: [row({ targetError: 0.2 })], summaries: [summariseTuneRows([row({ targetError: 0.2 })])], scoredAgainstTruth: false } as const;
    const md = tuneMarkdown({ ...r, rows: [...r.rows], summaries: [...r.summaries], best: r.summaries[0] });
    expect(md).toContain("relative error to the target: 0.2000");
    expect(tuneRowsCsv(r.rows).split('\n')[1]).toMatch(/,0,,,,,,,,,,,,,,,1$/);
  });

  it("names r0's source among the best setting's flags: --baseline-burden regressor when the regressor's reading won", () => {
    const md = (from: 'label' | 'regressor') => {
      const best = summariseTuneRows([row({ baselineFrom: from, noiseLevel: 100, scale: 50000, respacing: 'ddim50' })]);
      return tuneMarkdown({ rows: [], summaries: [best], best, scoredAgainstTruth: false });
    };
    expect(md('regressor')).toContain("`--noise-level 100 --scale 50000 --respacing 'ddim50' --baseline-burden regressor --guidance regressor`");
    expect(md('label')).toContain("`--noise-level 100 --scale 50000 --respacing 'ddim50' --baseline-burden label --guidance regressor`");
    const bySegmenter = summariseTuneRows([row({ guidance: 'segmenter' })]);
    expect(bySegmenter.guidance).toBe('segmenter');
    expect(bySegmenter.gradientTemperature).toBe(1); // rows without it were made at 1
    expect(tuneMarkdown({ rows: [], summaries: [bySegmenter], best: bySegmenter, scoredAgainstTruth: false })).toContain('--guidance segmenter --gradient-temperature 1`');
  });

  it("names the segmenter's gradient temperature in the flags, the text and the table; not the regressor's", () => {
    const hot = summariseTuneRows([row({ guidance: 'segmenter', gradientTemperature: 2, noiseLevel: 200, scale: 1000000, respacing: 'ddim100', baselineFrom: 'regressor' })]);
    const plain = summariseTuneRows([row({ noiseLevel: 100 })]);
    expect(hot.gradientTemperature).toBe(2);
    expect(plain.gradientTemperature).toBe(1);
    const md = tuneMarkdown({ rows: [], summaries: [hot, plain], best: hot, scoredAgainstTruth: false });
    expect(md).toContain("`--noise-level 200 --scale 1000000 --respacing 'ddim100' --baseline-burden regressor --guidance segmenter --gradient-temperature 2`");
    expect(md).toContain('r0 from the regressor, guided by the segmenter (gradient temperature 2) — ');
    expect(md).toContain('| guidance | gradient T | gradient margin | steps |');
    expect(md).toContain('| regressor | segmenter | 2 | inf | 20 |');
    expect(md).toContain('| label | regressor | - | - | 20 |');
    const best = tuneMarkdown({ rows: [], summaries: [plain], best: plain, scoredAgainstTruth: false });
    expect(best).not.toContain('--gradient-temperature');
    expect(tuneRowsCsv([row({ guidance: 'segmenter', gradientTemperature: 0.5 })]).split('\n')[1]).toMatch(/^200,1,ddim100,label,segmenter,0\.500000,,20,a,/);
  });

  it("names the segmenter's gradient margin in the flags, the text and the table when it is finite; 'inf' in the CSVs", () => {
    const near = summariseTuneRows([row({ guidance: 'segmenter', gradientTemperature: 2, gradientMarginPixels: 4, noiseLevel: 200, scale: 1000000, respacing: 'ddim100', baselineFrom: 'regressor' })]);
    const everywhere = summariseTuneRows([row({ guidance: 'segmenter', noiseLevel: 100 })]);
    const plain = summariseTuneRows([row({ noiseLevel: 50 })]);
    expect(near.gradientMarginPixels).toBe(4);
    expect(everywhere.gradientMarginPixels).toBe(Infinity); // rows without it were made with the gradient everywhere
    const md = tuneMarkdown({ rows: [], summaries: [near, everywhere, plain], best: near, scoredAgainstTruth: false });
    expect(md).toContain("`--noise-level 200 --scale 1000000 --respacing 'ddim100' --baseline-burden regressor --guidance segmenter --gradient-temperature 2 --gradient-margin 4`");
    expect(md).toContain('guided by the segmenter (gradient temperature 2, gradient within 4 pixels of the tumour) — ');
    expect(md).toContain('| regressor | segmenter | 2 | 4 | 20 |');
    expect(md).toContain('| label | segmenter | 1 | inf | 20 |');
    expect(md).toContain('| label | regressor | - | - | 20 |');
    const best = tuneMarkdown({ rows: [], summaries: [everywhere], best: everywhere, scoredAgainstTruth: false });
    expect(best).toContain('--guidance segmenter --gradient-temperature 1`');
    expect(best).not.toContain('--gradient-margin');
    expect(tuneRowsCsv([row({ guidance: 'segmenter', gradientMarginPixels: Infinity }), row({ guidance: 'segmenter', gradientMarginPixels: 0 })]).split('\n').slice(1, 3))
      .toEqual([expect.stringMatching(/^200,1,ddim100,label,segmenter,,inf,20,a,/), expect.stringMatching(/^200,1,ddim100,label,segmenter,,0,20,a,/)]);
    const summary = tuneSummaryCsv([near, everywhere]).split('\n');
    const column = summary[0]!.split(',').indexOf('gradient_margin_pixels');
    expect(summary.slice(1, 3).map((l) => l.split(',')[column])).toEqual(['4', 'inf']);
  });

  it('refuses bad options before sampling, naming them', async () => {
    await expect(tuneGuidance({ ...base, noiseLevels: [] })).rejects.toThrow(/'noiseLevels' passed to 'tuneGuidance' must be a non-empty list of integers >= 1/);
    await expect(tuneGuidance({ ...base, scales: [-1] })).rejects.toThrow(PipelineInputError);
    await expect(tuneGuidance({ ...base, baselineBurdens: ['mask' as 'label'] })).rejects.toThrow(/'baselineBurdens' passed to 'tuneGuidance' must be a non-empty list of 'label' and 'regressor'/);
    await expect(tuneGuidance({ ...base, truth: undefined })).rejects.toThrow(/targets from the real follow-ups need 'truth'/);
    // A missing truth folder is the caller's to fix (a usage error), before any slice is read.
    await expect(tuneGuidance({ ...base, truth: path.join(tmp, 'no-such-folder') })).rejects.toThrow(PipelineInputError);
    await expect(tuneGuidance({ ...base, truth: path.join(tmp, 'no-such-folder') })).rejects.toThrow(/'truth' folder .*no-such-folder does not exist/);
    await expect(tuneGuidance({ ...base, slices: ['nope'] })).rejects.toThrow(/none of the requested slices \(nope\)/);
    await expect(tuneGuidance({ ...base, truth: tmp })).rejects.toThrow(PipelineDataError);
    await expect(tuneGuidance({ ...base, noiseLevels: [5000] })).rejects.toThrow(/noiseLevel.*5000/);
    await expect(tuneGuidance({ ...base, guidances: ['flair' as 'segmenter'] })).rejects.toThrow(/'guidances' = \["flair"\] must be a non-empty list of 'regressor' and 'segmenter'/);
    await expect(tuneGuidance({ ...base, guidances: [] })).rejects.toThrow(/'guidances' = \[\] must be a non-empty list/);
    for (const bad of [[], [0], [1, -2], [NaN], ['2']]) {
      await expect(tuneGuidance({ ...base, gradientTemperatures: bad as number[] }))
        .rejects.toThrow(/'gradientTemperatures' = .* must be a non-empty list of numbers > 0/);
    }
    for (const bad of [[], [-1], [2, 1.5], [NaN], [-Infinity], ['4']]) {
      await expect(tuneGuidance({ ...base, gradientMargins: bad as number[] }))
        .rejects.toThrow(/'gradientMargins' = .* must be a non-empty list of integers >= 0 or Infinity \(the gradient everywhere\)/);
    }
    // Segmenter guidance without a learned segmenter: refused when the networks load, before any sample.
    await expect(tuneGuidance({ ...base, guidances: ['segmenter'] })).rejects.toThrow(/'settings\.guidance' = 'segmenter' needs a learned segmenter/);
    await expect(tuneGuidance({ ...base, scoringSegmenter: path.join(tmp, 'nope.safetensors') })).rejects.toThrow(/'scoringSegmenter' = .*nope\.safetensors is not a file/);
    const notSegmenter = path.join(tmp, 'not-a-segmenter.safetensors');
    fs.writeFileSync(notSegmenter, 'hello');
    await expect(tuneGuidance({ ...base, scoringSegmenter: notSegmenter })).rejects.toThrow(/'scoringSegmenter' = .*not-a-segmenter\.safetensors is not a segmenter's weights/);
  });

  it('tries the segmenter as the guide beside the regressor, and scores with another segmenter when asked', async () => {
    // Two random tiny segmenters at the networks' size (16x16): the plumbing is under test, not the segmentation.
    const cfg = { imageSize: 16, baseChannels: 8, normGroups: 4, channelMult: [1, 2], numResBlocks: 1 };
    const guideFile = path.join(tmp, 'guide.safetensors');
    const scoreFile = path.join(tmp, 'score.safetensors');
    for (const [file, seed] of [[guideFile, 1], [scoreFile, 2]] as const) {
      const net = createSegmenterNet(cfg, { seed });
      await saveSegmenter(file, net);
      net.dispose();
    }
    const lines: string[] = [];
    const o = { ...base, models: { ...base.models, segmenter: guideFile }, noiseLevels: [2], scales: [1000], guidances: ['regressor', 'segmenter'] as ('regressor' | 'segmenter')[] };
    const n0 = tf.memory().numTensors;
    const own = await tuneGuidance({ ...o, out: path.join(tmp, 'own') });
    const other = await tuneGuidance({ ...o, out: path.join(tmp, 'other'), scoringSegmenter: scoreFile, log: (m) => lines.push(m) });
    expect(tf.memory().numTensors).toBe(n0);
    expect(own.rows.map((x) => x.guidance)).toEqual(['regressor', 'regressor', 'segmenter', 'segmenter']);
    expect(own.summaries.map((x) => x.guidance).sort()).toEqual(['regressor', 'segmenter']);
    expect(lines.some((l) => l.startsWith(`scoring with the segmenter ${scoreFile}`))).toBe(true);
    // The same samples (the guide is the models' segmenter either way), read by another segmenter.
    expect(other.rows.map((x) => x.guidedTarget)).toEqual(own.rows.map((x) => x.guidedTarget));
    expect(other.rows.map((x) => x.segmentedBaselineBurden)).not.toEqual(own.rows.map((x) => x.segmentedBaselineBurden));
    expect(own.rows.every((x) => x.gradientTemperature === 1)).toBe(true);

    // Gradient temperatures: each tried with the segmenter's guidance; the regressor's runs once, at 1 (no error for 2).
    const t0 = tf.memory().numTensors;
    const hot = await tuneGuidance({ ...o, out: path.join(tmp, 'hot'), gradientTemperatures: [1, 2] });
    expect(tf.memory().numTensors).toBe(t0);
    expect(hot.rows.map((x) => `${x.guidance} ${x.gradientTemperature}`))
      .toEqual(['regressor 1', 'regressor 1', 'segmenter 1', 'segmenter 1', 'segmenter 2', 'segmenter 2']);
    expect(hot.summaries.map((x) => `${x.guidance} ${x.gradientTemperature}`).sort()).toEqual(['regressor 1', 'segmenter 1', 'segmenter 2']);
    const byT = (t: number) => hot.rows.filter((x) => x.guidance === 'segmenter' && x.gradientTemperature === t);
    // The same targets (the burden's value does not depend on T), another gradient: other samples.
    expect(byT(2).map((x) => x.guidedTarget)).toEqual(byT(1).map((x) => x.guidedTarget));
    expect(byT(2).map((x) => x.regressorBurden)).not.toEqual(byT(1).map((x) => x.regressorBurden));
    // ... and the T = 1 ones are the samples of the run without the option
    expect(byT(1).map((x) => x.regressorBurden)).toEqual(own.rows.filter((x) => x.guidance === 'segmenter').map((x) => x.regressorBurden));
    const head = fs.readFileSync(path.join(tmp, 'hot', 'tune-summary.csv'), 'utf8').split('\n')[0]!;
    expect(head.startsWith('noise_level,scale,respacing,baseline_from,guidance,gradient_temperature,gradient_margin_pixels,steps,')).toBe(true);

    // Gradient margins: each tried with the segmenter's guidance (and each temperature); the regressor's runs once, everywhere (no error for 0).
    const m0 = tf.memory().numTensors;
    const near = await tuneGuidance({ ...o, out: path.join(tmp, 'near'), gradientTemperatures: [2], gradientMargins: [Infinity, 0] });
    expect(tf.memory().numTensors).toBe(m0);
    expect(near.rows.map((x) => `${x.guidance} ${x.gradientTemperature} ${x.gradientMarginPixels}`))
      .toEqual(['regressor 1 Infinity', 'regressor 1 Infinity', 'segmenter 2 Infinity', 'segmenter 2 Infinity', 'segmenter 2 0', 'segmenter 2 0']);
    expect(near.summaries.map((x) => `${x.guidance} ${x.gradientMarginPixels}`).sort()).toEqual(['regressor Infinity', 'segmenter 0', 'segmenter Infinity']);
    const byM = (m: number) => near.rows.filter((x) => x.guidance === 'segmenter' && x.gradientMarginPixels === m);
    // The same targets (the burden's value does not depend on the margin), the gradient cut off the tumour: other samples.
    expect(byM(0).map((x) => x.guidedTarget)).toEqual(byM(Infinity).map((x) => x.guidedTarget));
    expect(byM(0).map((x) => x.regressorBurden)).not.toEqual(byM(Infinity).map((x) => x.regressorBurden));
    // ... and the Infinity ones are the samples of the run without the option
    expect(byM(Infinity).map((x) => x.regressorBurden)).toEqual(byT(2).map((x) => x.regressorBurden));
    const csv = fs.readFileSync(path.join(tmp, 'near', 'tune.csv'), 'utf8').trim().split('\n');
    const mc = csv[0]!.split(',').indexOf('gradient_margin_pixels');
    expect(csv.slice(1).map((l) => l.split(',')[mc])).toEqual(['inf', 'inf', 'inf', 'inf', '0', '0']);
  }, 300_000);
});
