// NIfTI volumes (scan.nii.gz: int16 HU; labels.nii.gz: uint8) with their geometry.
// NIfTI world coordinates are RAS; medprint (and DICOM, STL) use LPS millimetres.

import * as nifti from "nifti-reader-js";
import { gunzipSync } from "fflate";

export type Vec3 = [number, number, number];

export interface Volume {
  dims: Vec3;
  data: ArrayLike<number>;
  slope: number;
  inter: number;
  /** voxel (i, j, k, 1) → LPS mm, 3×4 rows */
  toLps: number[][];
  /** LPS mm → voxel, 3×4 rows */
  fromLps: number[][];
  spacing: Vec3;
}

function typed(code: number, buf: ArrayBuffer, little: boolean): ArrayLike<number> {
  const swap = (bytes: number) => {
    if (little || bytes === 1) return buf;
    const b = new Uint8Array(buf.slice(0));
    for (let i = 0; i < b.length; i += bytes) b.subarray(i, i + bytes).reverse();
    return b.buffer;
  };
  switch (code) {
    case 2:
      return new Uint8Array(buf);
    case 256:
      return new Int8Array(buf);
    case 4:
      return new Int16Array(swap(2));
    case 512:
      return new Uint16Array(swap(2));
    case 8:
      return new Int32Array(swap(4));
    case 768:
      return new Uint32Array(swap(4));
    case 16:
      return new Float32Array(swap(4));
    case 64:
      return new Float64Array(swap(8));
    default:
      throw new Error(`NIfTI data type ${code} is not supported`);
  }
}

function invert(m: number[][]): number[][] {
  // 3×4 affine inverse: [R | t]^-1 = [R^-1 | -R^-1 t]
  const [a, b, c] = m[0], [d, e, f] = m[1], [g, h, i] = m[2];
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!det) throw new Error("singular NIfTI affine");
  const r = [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
  const t = [m[0][3], m[1][3], m[2][3]];
  return r.map((row) => [...row, -(row[0] * t[0] + row[1] * t[1] + row[2] * t[2])]);
}

export function parseNifti(raw: ArrayBuffer): Volume {
  let buf = raw;
  if (nifti.isCompressed(buf)) buf = gunzipSync(new Uint8Array(buf)).buffer as ArrayBuffer;
  if (!nifti.isNIFTI(buf)) throw new Error("not a NIfTI file");
  const header: any = nifti.readHeader(buf);
  const image = nifti.readImage(header, buf) as ArrayBuffer;
  const dims: Vec3 = [header.dims[1], header.dims[2], Math.max(1, header.dims[3])];
  const data = typed(header.datatypeCode, image, header.littleEndian);
  const ras: number[][] = header.affine;
  // RAS → LPS: negate the first two rows.
  const toLps = [0, 1, 2].map((r) => ras[r].slice(0, 4).map((v: number) => (r < 2 ? -v : v)));
  const spacing = [0, 1, 2].map((c) => Math.hypot(toLps[0][c], toLps[1][c], toLps[2][c]) || 1) as Vec3;
  return {
    dims,
    data,
    slope: header.scl_slope && isFinite(header.scl_slope) ? header.scl_slope : 1,
    inter: header.scl_inter && isFinite(header.scl_inter) ? header.scl_inter : 0,
    toLps,
    fromLps: invert(toLps),
    spacing,
  };
}

export function voxelToLps(v: Volume, ijk: Vec3): Vec3 {
  const m = v.toLps;
  return [0, 1, 2].map((r) => m[r][0] * ijk[0] + m[r][1] * ijk[1] + m[r][2] * ijk[2] + m[r][3]) as Vec3;
}

export function lpsToVoxel(v: Volume, p: Vec3): Vec3 {
  const m = v.fromLps;
  return [0, 1, 2].map((r) => m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3]) as Vec3;
}

/** glTF metres (+Y up; X = L, Y = S, Z = −P) → LPS millimetres. */
export function gltfToLps(x: number, y: number, z: number): Vec3 {
  return [x * 1000, -z * 1000, y * 1000];
}

export function lpsToGltf(p: Vec3): Vec3 {
  return [p[0] / 1000, p[2] / 1000, -p[1] / 1000];
}
