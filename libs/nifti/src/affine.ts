/**
 * Voxel-to-world affines as nibabel computes them (`get_best_affine`,
 * `get_qform`, `get_base_affine`) and the inverse (`set_qform`) for writing.
 */
import { NiftiError } from './errors.js';
import type { NiftiHeader } from './header.js';

/** A 4x4 matrix, row-major nested arrays. */
export type Affine = number[][];

const FLOAT32_EPS = 2 ** -23;
const FLOAT64_EPS = 2 ** -52;

/** The identity 4x4 affine. @internal */
export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

/**
 * pixdim after nibabel's load-time fixes (`check_fix` at error level 40):
 * qfac (`pixdim[0]`) not +-1 becomes 1, zero voxel sizes in `pixdim[1..3]`
 * become 1, negative ones their absolute value. @internal
 */
export function fixedPixdim(header: NiftiHeader): number[] {
  const p = header.pixdim.slice();
  if (p[0] !== 1 && p[0] !== -1) p[0] = 1;
  for (let i = 1; i <= 3; i++) {
    const v = p[i]!;
    if (v === 0) p[i] = 1;
    else if (v < 0) p[i] = -v;
  }
  return p;
}

/** A transform code as nibabel sees it: codes outside 0..5 are reset to 0 at load. @internal */
export function effectiveXformCode(code: number): number {
  return Number.isInteger(code) && code >= 0 && code <= 5 ? code : 0;
}

/** Rotation matrix of a quaternion [w, x, y, z] (nibabel `quat2mat`). @internal */
export function quatToMat(w: number, x: number, y: number, z: number): number[][] {
  const nq = w * w + x * x + y * y + z * z;
  if (nq < FLOAT64_EPS) return [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  const s = 2.0 / nq;
  const X = x * s, Y = y * s, Z = z * s;
  const wX = w * X, wY = w * Y, wZ = w * Z;
  const xX = x * X, xY = x * Y, xZ = x * Z;
  const yY = y * Y, yZ = y * Z, zZ = z * Z;
  return [
    [1.0 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1.0 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1.0 - (xX + yY)],
  ];
}

/** The qform affine (nibabel `get_qform`), from the fixed pixdim. @internal */
export function qformAffine(header: NiftiHeader, file: string): Affine {
  const [b, c, d] = header.quatern;
  const thresh = -(header.version === 1 ? FLOAT32_EPS : FLOAT64_EPS) * 3;
  const w2 = 1.0 - (b * b + c * c + d * d);
  let w: number;
  if (w2 < 0) {
    if (w2 < thresh || Number.isNaN(w2)) {
      throw new NiftiError(file, `invalid qform quaternion (b, c, d) = (${b}, ${c}, ${d}): b^2 + c^2 + d^2 = ${1 - w2} > 1`);
    }
    w = 0;
  } else {
    w = Math.sqrt(w2);
  }
  if (Number.isNaN(w)) throw new NiftiError(file, `invalid qform quaternion (b, c, d) = (${b}, ${c}, ${d})`);
  const R = quatToMat(w, b, c, d);
  const p = fixedPixdim(header);
  const vox = [p[1]!, p[2]!, p[3]! * p[0]!];
  const out = identityAffine();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out[i]![j] = R[i]![j]! * vox[j]!;
    out[i]![3] = header.qoffset[i]!;
  }
  return out;
}

/** The sform affine (the srow_* rows). @internal */
export function sformAffine(header: NiftiHeader): Affine {
  return [...header.srow.map((r) => r.slice(0, 4)), [0, 0, 0, 1]];
}

/** nibabel's fallback affine (`get_base_affine`: shape_zoom_affine with x flip, origin at the centre). @internal */
export function baseAffine(header: NiftiHeader): Affine {
  const p = fixedPixdim(header);
  const ndim = header.dim[0]!;
  const shape = [1, 1, 1];
  const zooms = [1, 1, 1];
  for (let i = 0; i < Math.min(3, ndim); i++) {
    shape[i] = header.dim[i + 1]!;
    zooms[i] = p[i + 1]!;
  }
  zooms[0] = -zooms[0]!;
  const out = identityAffine();
  for (let i = 0; i < 3; i++) {
    out[i]![i] = zooms[i]!;
    out[i]![3] = -((shape[i]! - 1) / 2.0) * zooms[i]!;
  }
  return out;
}

/** nibabel's `get_best_affine`: sform if its code is set, else qform if set, else the base affine. @internal */
export function bestAffine(header: NiftiHeader, file: string): Affine {
  if (effectiveXformCode(header.sformCode) !== 0) return sformAffine(header);
  if (effectiveXformCode(header.qformCode) !== 0) return qformAffine(header, file);
  return baseAffine(header);
}

function det3(m: number[][]): number {
  const [a, b, c] = m as [number[], number[], number[]];
  return (
    a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) -
    a[1]! * (b[0]! * c[2]! - b[2]! * c[0]!) +
    a[2]! * (b[0]! * c[1]! - b[1]! * c[0]!)
  );
}

function inverseTranspose3(m: number[][]): number[][] {
  const d = det3(m);
  const g = (i: number, j: number) => m[i]![j]!;
  // cofactor matrix / det = inverse transposed
  const cof = [
    [g(1, 1) * g(2, 2) - g(1, 2) * g(2, 1), -(g(1, 0) * g(2, 2) - g(1, 2) * g(2, 0)), g(1, 0) * g(2, 1) - g(1, 1) * g(2, 0)],
    [-(g(0, 1) * g(2, 2) - g(0, 2) * g(2, 1)), g(0, 0) * g(2, 2) - g(0, 2) * g(2, 0), -(g(0, 0) * g(2, 1) - g(0, 1) * g(2, 0))],
    [g(0, 1) * g(1, 2) - g(0, 2) * g(1, 1), -(g(0, 0) * g(1, 2) - g(0, 2) * g(1, 0)), g(0, 0) * g(1, 1) - g(0, 1) * g(1, 0)],
  ];
  return cof.map((r) => r.map((v) => v / d));
}

/** The closest orthogonal matrix (polar decomposition, Newton iteration). @internal */
export function polarOrthogonal(m: number[][]): number[][] {
  let x = m.map((r) => r.slice());
  for (let it = 0; it < 100; it++) {
    const xit = inverseTranspose3(x);
    const next = x.map((r, i) => r.map((v, j) => 0.5 * (v + xit[i]![j]!)));
    let diff = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) diff = Math.max(diff, Math.abs(next[i]![j]! - x[i]![j]!));
    x = next;
    if (diff < 1e-15) break;
  }
  return x;
}

/** Unit quaternion [w, x, y, z] (w >= 0) of a rotation matrix (Shepperd's method). @internal */
export function matToQuat(R: number[][]): [number, number, number, number] {
  const g = (i: number, j: number) => R[i]![j]!;
  const tr = g(0, 0) + g(1, 1) + g(2, 2);
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    w = 0.25 * s;
    x = (g(2, 1) - g(1, 2)) / s;
    y = (g(0, 2) - g(2, 0)) / s;
    z = (g(1, 0) - g(0, 1)) / s;
  } else if (g(0, 0) > g(1, 1) && g(0, 0) > g(2, 2)) {
    const s = Math.sqrt(1 + g(0, 0) - g(1, 1) - g(2, 2)) * 2;
    w = (g(2, 1) - g(1, 2)) / s;
    x = 0.25 * s;
    y = (g(0, 1) + g(1, 0)) / s;
    z = (g(0, 2) + g(2, 0)) / s;
  } else if (g(1, 1) > g(2, 2)) {
    const s = Math.sqrt(1 + g(1, 1) - g(0, 0) - g(2, 2)) * 2;
    w = (g(0, 2) - g(2, 0)) / s;
    x = (g(0, 1) + g(1, 0)) / s;
    y = 0.25 * s;
    z = (g(1, 2) + g(2, 1)) / s;
  } else {
    const s = Math.sqrt(1 + g(2, 2) - g(0, 0) - g(1, 1)) * 2;
    w = (g(1, 0) - g(0, 1)) / s;
    x = (g(0, 2) + g(2, 0)) / s;
    y = (g(1, 2) + g(2, 1)) / s;
    z = 0.25 * s;
  }
  if (w < 0) return [-w, -x, -y, -z];
  return [w, x, y, z];
}

/** qform parameters of an affine (nibabel `set_qform` with shears stripped); undefined if the 3x3 part is singular. @internal */
export function affineToQform(affine: Affine): { quatern: [number, number, number]; qoffset: [number, number, number]; qfac: 1 | -1; zooms: [number, number, number] } | undefined {
  const RZS = [0, 1, 2].map((i) => [0, 1, 2].map((j) => affine[i]![j]!));
  const zooms = [0, 1, 2].map((j) => Math.hypot(...RZS.map((r) => r[j]!))) as [number, number, number];
  if (zooms.some((z) => !(z > 0) || !Number.isFinite(z))) return undefined;
  const R = RZS.map((r) => r.map((v, j) => v / zooms[j]!));
  let qfac: 1 | -1 = 1;
  if (!(det3(R) > 0)) {
    qfac = -1;
    for (const r of R) r[2] = -r[2]!;
  }
  if (Math.abs(det3(R)) < 1e-12) return undefined;
  const PR = polarOrthogonal(R);
  const [, b, c, d] = matToQuat(PR);
  return {
    quatern: [b, c, d],
    qoffset: [0, 1, 2].map((i) => affine[i]![3]!) as [number, number, number],
    qfac,
    zooms,
  };
}
