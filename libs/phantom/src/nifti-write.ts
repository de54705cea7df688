/**
 * The phantom's NIfTI conventions (internal, not exported from the package):
 * one 2-D float32 image written with `@tumorcast/nifti`'s `saveNifti`
 * (NIfTI-1 `n+1`, vox_offset 352, gzip when the name ends in `.gz`,
 * atomically), the affine diagonal with the pixel spacing (identity at
 * 1 mm) in both qform and sform (code 1, scanner), millimetres, and the
 * data's range in cal_min/cal_max.
 */

/** Writes a 2-D float32 NIfTI-1 file (gzip when `file` ends in `.gz`), atomically. */
export async function writeNifti2d(file: string, data: Float32Array, width: number, height: number, spacing: number): Promise<void> {
  if (data.length !== width * height) throw new RangeError(`'data' passed to 'writeNifti2d' must have length ${width * height}, got ${data.length}`);
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // Loaded on first use: generating phantoms needs no Node API, only writing them does.
  const { saveNifti } = await import('@tumorcast/nifti/node');
  await saveNifti(file, {
    shape: [width, height],
    data,
    affine: [[spacing, 0, 0, 0], [0, spacing, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    spacing: [spacing, spacing],
    header: {
      qformCode: 1,
      sformCode: 1,
      xyztUnits: 2,
      calMin: data.length ? min : 0,
      calMax: data.length ? max : 0,
      descrip: 'tumorcast phantom (synthetic)',
    },
  });
}
