/**
 * Per-slice guidance targets: the relative change of each slice's tumour
 * burden (the reference's `targets_dict`). The runner over a data set on
 * disk is `runDataset` of `@tumorcast/pipeline`.
 */

/** One slice's target: the relative burden change, and optionally where its real follow-up is. */
export interface GrowthTarget {
  /** The relative change d of the tumour burden (target r0 (1 + d)). */
  relativeChange: number;
  /** A path or id of the real follow-up image, for evaluation; passed through. */
  targetImage?: string;
}

/** Targets by slice id (the reference's `targets_dict`), as stored in a JSON file. */
export type GrowthTargets = Record<string, GrowthTarget>;

/**
 * Parses and validates a targets JSON `{ sliceId: { relativeChange, targetImage? } }`.
 *
 * @param json - the JSON text, or the already parsed value.
 * @throws SyntaxError for invalid JSON; TypeError for a wrong shape or a non-finite
 *   `relativeChange`; RangeError for a `relativeChange` below -1.
 */
export function parseGrowthTargets(json: string | unknown): GrowthTargets {
  const fn = 'parseGrowthTargets';
  let v: unknown = json;
  if (typeof json === 'string') {
    try {
      v = JSON.parse(json);
    } catch (e) {
      throw new SyntaxError(`'json' passed to '${fn}' is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`'json' passed to '${fn}' must be an object { sliceId: { relativeChange, targetImage? } }`);
  }
  const out: GrowthTargets = {};
  for (const [id, t] of Object.entries(v as Record<string, unknown>)) {
    const o = t as Record<string, unknown>;
    if (!o || typeof o !== 'object' || typeof o.relativeChange !== 'number' || !Number.isFinite(o.relativeChange)) {
      throw new TypeError(`'json' passed to '${fn}': slice '${id}' needs a finite number 'relativeChange'`);
    }
    if (o.relativeChange < -1) {
      throw new RangeError(`'json' passed to '${fn}': the 'relativeChange' of slice '${id}' is ${o.relativeChange}; it must be >= -1 (-1: the tumour vanishes; below, the target burden would be negative)`);
    }
    if (o.targetImage !== undefined && typeof o.targetImage !== 'string') {
      throw new TypeError(`'json' passed to '${fn}': slice '${id}' has a non-string 'targetImage'`);
    }
    out[id] = o.targetImage === undefined
      ? { relativeChange: o.relativeChange }
      : { relativeChange: o.relativeChange, targetImage: o.targetImage };
  }
  return out;
}
