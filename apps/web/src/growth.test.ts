import { describe, expect, it } from '@jest/globals';
import { generatePhantomPatient } from '@tumorcast/phantom';
import { fitGrowth, GrowthInputError, growthBetween, growthSvg, parseSizeCsv } from './growth.js';
import { PHANTOM_DAYS } from './phantom.js';

describe('parseSizeCsv', () => {
  it('reads series, their RT end day (rt_start_day + 42 too), sorted by day', () => {
    const s = parseSizeCsv('patient_id,day,size,rt_end_day\nA,10,5,63\nA,0,4,63\nB,0,1,\nB,5,2,\n', 'sizes.csv');
    expect(s).toEqual([{ id: 'A', times: [0, 10], sizes: [4, 5], rtEndDay: 63 }, { id: 'B', times: [0, 5], sizes: [1, 2] }]);
    expect(parseSizeCsv('patient_id,day,size,rt_start_day\nA,0,4,21\n', 'x.csv')[0]!.rtEndDay).toBe(63);
  });

  it.each([
    ['patient_id,day\nA,1\n', /^sizes\.csv has no 'size' column/],
    ['patient_id,day,size\nA,1,big\n', /^sizes\.csv line 2: 'size' must be a finite number, got 'big'/],
    ['patient_id,day,size,volume\nA,1,2,3\n', /unknown column\(s\) 'volume'/],
    ['', /^sizes\.csv is empty/],
  ])('names the file and what is wrong: %j', (text, message) => {
    expect(() => parseSizeCsv(text, 'sizes.csv')).toThrow(GrowthInputError);
    expect(() => parseSizeCsv(text, 'sizes.csv')).toThrow(message);
  });
});

describe('fitGrowth and growthBetween', () => {
  // A phantom patient whose sizes follow the two-phase model exactly (rounded to whole pixels):
  // the true relative change from the baseline to the follow-up is known independently of the fit.
  const p = generatePhantomPatient({ seed: 1, days: [...PHANTOM_DAYS], render: 'none' });
  const s = p.slices[0]!;
  const b = p.baselineIndex;
  const series = { id: 'phantom', times: p.days.slice(0, b + 1), sizes: s.sizes.slice(0, b + 1) };
  const fit = fitGrowth(series, { rtEndDay: p.rtEndDay, horizon: 260, replicates: 20 });
  const g = growthBetween(fit, p.days[b]!, p.days[b + 1]!);

  it('fits the sizes up to the baseline and brackets the true change in its bootstrap band', () => {
    const truth = s.sizes[b + 1]! / s.sizes[b]! - 1;
    expect(g.relativeChangeBand[0]).toBeLessThan(truth);
    expect(g.relativeChangeBand[1]).toBeGreaterThan(truth);
    expect(g.relativeChangeBand[0]).toBeLessThanOrEqual(g.relativeChange);
    expect(g.relativeChangeBand[1]).toBeGreaterThanOrEqual(g.relativeChange);
    // the fitted baseline size is the measured one within 10 % (the fit passes near the data)
    expect(Math.abs(g.sizeBaseline / s.sizes[b]! - 1)).toBeLessThan(0.1);
    expect(g.relativeChange).toBeCloseTo(g.sizeFollowup / g.sizeBaseline - 1, 10);
  });

  it('reads any follow-up day up to the horizon without refitting, and refuses others', () => {
    const sooner = growthBetween(fit, 150, 180);
    expect(Math.abs(sooner.relativeChange)).toBeLessThan(Math.abs(g.relativeChange));
    expect(() => growthBetween(fit, 150, 150)).toThrow('the follow-up day (150) must be after the baseline day (150)');
    expect(() => growthBetween(fit, 150, 300)).toThrow('the follow-up day (300) is past the fitted horizon (day 260)');
  });

  it('plots the data, band, RT window and the two days', () => {
    const svg = growthSvg(fit, g);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const word of ['baseline', 'follow-up', 'radiotherapy', 'predicted']) expect(svg).toContain(word);
  });

  it('refuses a bad RT day and a series too short to fit', () => {
    expect(() => fitGrowth(series, { rtEndDay: Number.NaN })).toThrow('the radiotherapy end day must be a number');
    expect(() => fitGrowth(series, { rtEndDay: 63, rtCourseDays: 0 })).toThrow('the radiotherapy course must last more than 0 days');
    expect(() => fitGrowth({ id: 'short', times: [0, 10], sizes: [1, 2] }, { rtEndDay: 63 })).toThrow(GrowthInputError);
  });
});
