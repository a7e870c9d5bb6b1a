// The slice viewer: axial, coronal and sagittal planes of the scan with the segmentation
// overlaid, window/level presets, a cursor linked to the 3D view, and free-hand strokes.

import * as nifti from "nifti-reader-js";

export type Axis = "axial" | "coronal" | "sagittal";

export interface Volume {
  dims: [number, number, number];
  spacing: [number, number, number];
  data: Float32Array | Uint8Array | Int16Array;
  /** voxel (i, j, k, 1) → RAS mm, row-major 4×4. */
  affine: number[][];
}

export const PRESETS: Record<string, [number, number]> = {
  bone: [2000, 500],
  "soft tissue": [400, 40],
};

export function readNifti(buffer: ArrayBuffer): Volume {
  let buf = buffer;
  if (nifti.isCompressed(buf)) buf = nifti.decompress(buf) as ArrayBuffer;
  if (!nifti.isNIFTI(buf)) throw new Error("not a NIfTI file");
  const h = nifti.readHeader(buf) as any;
  const raw = nifti.readImage(h, buf);
  const dims: [number, number, number] = [h.dims[1], h.dims[2], Math.max(1, h.dims[3])];
  let data: Float32Array | Uint8Array | Int16Array;
  switch (h.datatypeCode) {
    case 2:
      data = new Uint8Array(raw);
      break;
    case 4:
      data = new Int16Array(raw);
      break;
    default:
      data = new Float32Array(raw);
  }
  const slope = h.scl_slope && Number.isFinite(h.scl_slope) && h.scl_slope !== 0 ? h.scl_slope : 1;
  const inter = Number.isFinite(h.scl_inter) ? h.scl_inter : 0;
  if ((slope !== 1 || inter !== 0) && !(data instanceof Uint8Array)) {
    data = Float32Array.from(data, (v) => v * slope + inter);
  }
  return { dims, spacing: [h.pixDims[1], h.pixDims[2], h.pixDims[3]], data, affine: h.affine };
}

/** Voxel → patient LPS mm. */
export function voxelToLps(v: Volume, ijk: number[]): [number, number, number] {
  const a = v.affine;
  const ras = [0, 1, 2].map((r) => a[r][0] * ijk[0] + a[r][1] * ijk[1] + a[r][2] * ijk[2] + a[r][3]);
  return [-ras[0], -ras[1], ras[2]];
}

/** Patient LPS mm → nearest voxel (solves the 3×3 affine). */
export function lpsToVoxel(v: Volume, lps: number[]): [number, number, number] {
  const a = v.affine;
  const ras = [-lps[0], -lps[1], lps[2]].map((x, r) => x - a[r][3]);
  const m = [0, 1, 2].map((r) => [a[r][0], a[r][1], a[r][2]]);
  const det = (q: number[][]) =>
    q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) + q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0]);
  const d = det(m) || 1;
  const out = [0, 1, 2].map((c) => {
    const q = m.map((row, r) => row.map((x, k) => (k === c ? ras[r] : x)));
    return Math.round(det(q) / d);
  });
  return [0, 1, 2].map((i) => Math.min(v.dims[i] - 1, Math.max(0, out[i]))) as [number, number, number];
}

export class SliceView {
  axis: Axis = "axial";
  index = [0, 0, 0];
  window: [number, number] = PRESETS.bone;
  overlay = true;
  drawing = false;
  readonly canvas = document.createElement("canvas");
  overlayPixels = 0;
  private strokes: { axis: Axis; index: number; points: number[][] }[] = [];
  private current: number[][] | null = null;
  onStroke: (axis: Axis, index: number, points: number[][]) => void = () => {};
  onPick: (lpsMm: [number, number, number]) => void = () => {};

  constructor(host: HTMLElement, private scan: Volume | null, private labels: Volume) {
    const base = scan ?? labels;
    this.index = base.dims.map((d) => Math.floor(d / 2));
    this.canvas.className = "slice";
    this.canvas.style.touchAction = "none";
    host.appendChild(this.canvas);
    this.canvas.addEventListener("pointerdown", (e) => {
      const p = this.toVoxel(e);
      if (this.drawing) {
        this.current = [p];
      } else {
        this.onPick(voxelToLps(base, p));
      }
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!this.current) return;
      this.current.push(this.toVoxel(e));
      this.render();
    });
    this.canvas.addEventListener("pointerup", () => {
      if (this.current && this.current.length > 1) {
        const i = this.sliceIndex();
        this.strokes.push({ axis: this.axis, index: i, points: this.current });
        this.onStroke(this.axis, i, this.current);
      }
      this.current = null;
      this.render();
    });
    this.render();
  }

  private base(): Volume {
    return this.scan ?? this.labels;
  }

  /** Which volume axis the view's plane is perpendicular to. */
  private normal(): number {
    return this.axis === "axial" ? 2 : this.axis === "coronal" ? 1 : 0;
  }

  sliceIndex(): number {
    return this.index[this.normal()];
  }

  sliceCount(): number {
    return this.base().dims[this.normal()];
  }

  setSlice(i: number) {
    this.index[this.normal()] = Math.max(0, Math.min(this.sliceCount() - 1, i));
    this.render();
  }

  /** In-plane axes (u right, v up) of the view. */
  private plane(): [number, number] {
    return this.axis === "axial" ? [0, 1] : this.axis === "coronal" ? [0, 2] : [1, 2];
  }

  private toVoxel(e: PointerEvent): number[] {
    const r = this.canvas.getBoundingClientRect();
    const [u, v] = this.plane();
    const dims = this.base().dims;
    const x = Math.floor(((e.clientX - r.left) / r.width) * dims[u]);
    const y = Math.floor(((e.clientY - r.top) / r.height) * dims[v]);
    const p = [...this.index];
    p[u] = Math.max(0, Math.min(dims[u] - 1, x));
    p[v] = Math.max(0, Math.min(dims[v] - 1, this.axis === "axial" ? y : dims[v] - 1 - y));
    return p;
  }

  moveTo(lps: number[]) {
    this.index = lpsToVoxel(this.base(), lps);
    this.render();
  }

  showStroke(axis: Axis, index: number, points: number[][]) {
    this.strokes.push({ axis, index, points });
    this.render();
  }

  render() {
    const vol = this.base();
    const [u, v] = this.plane();
    const w = vol.dims[u];
    const h = vol.dims[v];
    const n = this.normal();
    this.canvas.width = w;
    this.canvas.height = h;
    const sp = vol.spacing;
    this.canvas.style.aspectRatio = `${w * Math.abs(sp[u] || 1)} / ${h * Math.abs(sp[v] || 1)}`;
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(w, h);
    const [ww, wl] = this.window;
    const lo = wl - ww / 2;
    const [nx, ny] = vol.dims;
    let overlayPixels = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = [0, 0, 0];
        p[n] = this.index[n];
        p[u] = x;
        p[v] = this.axis === "axial" ? y : h - 1 - y;
        const at = p[0] + nx * (p[1] + ny * p[2]);
        const g = this.scan ? Math.max(0, Math.min(255, ((this.scan.data[at] - lo) / ww) * 255)) : 0;
        const o = (y * w + x) * 4;
        let r = g, gg = g, b = g;
        if (this.overlay && this.labels.data[at] > 0) {
          r = 0.55 * r + 0.45 * 255;
          gg = 0.55 * gg + 0.45 * 190;
          b = 0.55 * b + 0.45 * 40;
          overlayPixels++;
        }
        img.data[o] = r;
        img.data[o + 1] = gg;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    this.overlayPixels = overlayPixels;
    // The cursor and strokes of this slice.
    const toCanvas = (p: number[]) => [p[u] + 0.5, this.axis === "axial" ? p[v] + 0.5 : h - 1 - p[v] + 0.5];
    ctx.strokeStyle = "#ffd400";
    ctx.lineWidth = Math.max(0.5, w / 300);
    const [cx, cy] = toCanvas(this.index);
    ctx.beginPath();
    ctx.moveTo(cx, 0);
    ctx.lineTo(cx, h);
    ctx.moveTo(0, cy);
    ctx.lineTo(w, cy);
    ctx.globalAlpha = 0.5;
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#ff5252";
    ctx.lineWidth = Math.max(1, w / 150);
    const all = [...this.strokes, ...(this.current ? [{ axis: this.axis, index: this.sliceIndex(), points: this.current }] : [])];
    for (const s of all) {
      if (s.axis !== this.axis || s.index !== this.sliceIndex()) continue;
      ctx.beginPath();
      s.points.forEach((p, i) => {
        const [x, y] = toCanvas(p);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
  }
}
