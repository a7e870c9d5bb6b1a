// Slice viewer: axial, coronal and sagittal planes of the scan (window/level) with the label
// overlay, a linked cursor, free-hand strokes (annotations) and brush/eraser edits of the labels.
// Panes are oriented radiologically whatever the voxel order: axial and coronal show the
// patient's right on the left of the screen, anterior up (axial) and superior up.

import { voxelToLps, lpsToVoxel, type Volume, type Vec3 } from "./nifti";

export type PaneName = "axial" | "coronal" | "sagittal";
export type SliceMode = "cursor" | "draw" | "brush" | "erase";

export interface SliceStroke {
  kind: "slice";
  axis: PaneName;
  index: number;
  /** voxel axes of the two coordinates of each point, e.g. "ij" for an axial plane */
  axes: string;
  points_vox: Array<[number, number]>;
}

export interface EditStroke {
  mode: "brush" | "erase";
  axis: PaneName;
  index: number;
  radius_vox: number;
  axes: string;
  points_vox: Array<[number, number]>;
}

/** A brush/eraser stroke as the server's pipeline applies it (`RunParams.label_edits`). */
export interface LabelEdit {
  mode: "add" | "remove";
  /** voxel axis normal to the slice (0 = i, 1 = j, 2 = k) */
  normal_axis: number;
  slice: number;
  radius_vox: number;
  /** in-plane voxel coordinates along the two other axes, in increasing axis order */
  points_vox: Array<[number, number]>;
}

interface Pane {
  name: PaneName;
  slice: number; // voxel axis through the plane
  x: number; // voxel axis along screen x
  y: number; // voxel axis along screen y
  flipX: boolean;
  flipY: boolean;
  canvas: HTMLCanvasElement;
  slider: HTMLInputElement;
  label: HTMLElement;
  off: HTMLCanvasElement;
  rect: { dx: number; dy: number; dw: number; dh: number };
  overlayPixels: number;
}

export const WINDOWS = {
  bone: { width: 2000, level: 500, label: "Bone (W2000/L500)" },
  soft: { width: 400, level: 40, label: "Soft tissue (W400/L40)" },
  lung: { width: 1500, level: -600, label: "Lung (W1500/L−600)" },
} as const;

const LABEL_COLOURS: Array<[number, number, number]> = [
  [0, 0, 0],
  [255, 160, 30], // bone
  [230, 190, 160],
  [90, 170, 255],
  [120, 230, 230],
  [250, 230, 120],
  [220, 110, 110],
  [230, 40, 60],
  [160, 160, 190],
];
const AXIS_NAMES = "ijk";
const ANNOTATION_COLOUR = "#19e68c";
const PENDING_COLOUR = "#ff3df5";

/** For each voxel axis: the LPS axis it mostly follows and the sign. */
function dominant(vol: Volume): Array<{ world: number; sign: number }> {
  return [0, 1, 2].map((c) => {
    const d = [vol.toLps[0][c], vol.toLps[1][c], vol.toLps[2][c]];
    let w = 0;
    for (let a = 1; a < 3; a++) if (Math.abs(d[a]) > Math.abs(d[w])) w = a;
    return { world: w, sign: Math.sign(d[w]) || 1 };
  });
}

export class SliceViewer {
  readonly grid: Volume;
  cursor: Vec3;
  window: { width: number; level: number } = { ...WINDOWS.bone };
  overlay = true;
  overlayOpacity = 0.5;
  mode: SliceMode = "cursor";
  brushRadius = 2;
  annotations: Array<{ stroke: SliceStroke; text: string }> = [];
  pending: SliceStroke | null = null;
  edits: EditStroke[] = [];
  onCursor: ((lps: Vec3) => void) | null = null;
  onStroke: ((s: SliceStroke) => void) | null = null;
  onEdit: ((e: EditStroke) => void) | null = null;
  private panes: Pane[] = [];
  private labelsEdited: Uint8Array | null = null;
  private resize: ResizeObserver;
  private drawing: { pane: Pane; stroke: SliceStroke | EditStroke; pointer: number } | null = null;

  constructor(
    root: HTMLElement,
    private scan: Volume | null,
    private labels: Volume | null,
  ) {
    const grid = scan ?? labels;
    if (!grid) throw new Error("no volume to show");
    this.grid = grid;
    this.cursor = grid.dims.map((n) => Math.floor(n / 2)) as Vec3;
    const dom = dominant(grid);
    const axisFor = (world: number, fallback: number) => {
      const a = dom.findIndex((d) => d.world === world);
      return a >= 0 && new Set(dom.map((d) => d.world)).size === 3 ? a : fallback;
    };
    // Screen x → patient left (+L), screen y → posterior (axial) or inferior (coronal, sagittal);
    // the sagittal plane shows anterior on the left.
    const defs: Array<{ name: PaneName; normal: number; xw: number; xs: number; yw: number; ys: number; fb: Vec3 }> = [
      { name: "axial", normal: 2, xw: 0, xs: 1, yw: 1, ys: 1, fb: [2, 0, 1] },
      { name: "coronal", normal: 1, xw: 0, xs: 1, yw: 2, ys: -1, fb: [1, 0, 2] },
      { name: "sagittal", normal: 0, xw: 1, xs: 1, yw: 2, ys: -1, fb: [0, 1, 2] },
    ];
    root.classList.add("slices");
    for (const d of defs) {
      const slice = axisFor(d.normal, d.fb[0]);
      const x = axisFor(d.xw, d.fb[1]);
      const y = axisFor(d.yw, d.fb[2]);
      const canvas = document.createElement("canvas");
      canvas.className = "slice-canvas";
      canvas.dataset.pane = d.name;
      canvas.style.touchAction = "none";
      const slider = document.createElement("input");
      slider.type = "range";
      slider.min = "0";
      slider.max = String(grid.dims[slice] - 1);
      slider.value = String(this.cursor[slice]);
      slider.setAttribute("aria-label", `${d.name} slice`);
      const label = document.createElement("span");
      label.className = "slice-label";
      const wrap = document.createElement("div");
      wrap.className = `slice-pane pane-${d.name}`;
      const head = document.createElement("div");
      head.className = "slice-head";
      const title = document.createElement("strong");
      title.textContent = d.name[0].toUpperCase() + d.name.slice(1);
      head.append(title, label);
      wrap.append(head, canvas, slider);
      root.appendChild(wrap);
      const off = document.createElement("canvas");
      off.width = grid.dims[x];
      off.height = grid.dims[y];
      const pane: Pane = {
        name: d.name,
        slice,
        x,
        y,
        flipX: dom[x].sign !== d.xs && dom[x].world === d.xw,
        flipY: dom[y].sign !== d.ys && dom[y].world === d.yw,
        canvas,
        slider,
        label,
        off,
        rect: { dx: 0, dy: 0, dw: 1, dh: 1 },
        overlayPixels: 0,
      };
      slider.addEventListener("input", () => {
        this.cursor[pane.slice] = Number(slider.value);
        this.render();
      });
      canvas.addEventListener("wheel", (e) => {
        e.preventDefault();
        const s = this.cursor[pane.slice] + (e.deltaY > 0 ? 1 : -1);
        this.cursor[pane.slice] = Math.max(0, Math.min(grid.dims[pane.slice] - 1, s));
        this.render();
      }, { passive: false });
      canvas.addEventListener("pointerdown", (e) => this.pointerDown(pane, e));
      canvas.addEventListener("pointermove", (e) => this.pointerMove(pane, e));
      canvas.addEventListener("pointerup", (e) => this.pointerUp(pane, e));
      canvas.addEventListener("pointercancel", (e) => this.pointerUp(pane, e));
      this.panes.push(pane);
    }
    this.resize = new ResizeObserver(() => this.render());
    this.resize.observe(root);
    this.render();
  }

  dispose() {
    this.resize.disconnect();
  }

  /** Voxel coordinates under a pointer event in a pane (fractional), or null outside. */
  private voxelAt(p: Pane, e: PointerEvent): Vec3 | null {
    const r = p.canvas.getBoundingClientRect();
    const px = (e.clientX - r.left) * (p.canvas.width / r.width);
    const py = (e.clientY - r.top) * (p.canvas.height / r.height);
    const W = this.grid.dims[p.x], H = this.grid.dims[p.y];
    let u = ((px - p.rect.dx) / p.rect.dw) * W;
    let v = ((py - p.rect.dy) / p.rect.dh) * H;
    if (u < 0 || v < 0 || u >= W || v >= H) return null;
    if (p.flipX) u = W - u;
    if (p.flipY) v = H - v;
    const out: Vec3 = [...this.cursor] as Vec3;
    out[p.x] = u;
    out[p.y] = v;
    out[p.slice] = this.cursor[p.slice];
    return out;
  }

  private inPlane(p: Pane, vox: Vec3): [number, number] {
    const a = Math.min(p.x, p.y), b = Math.max(p.x, p.y);
    return [Math.round(vox[a] * 10) / 10, Math.round(vox[b] * 10) / 10];
  }

  private pointerDown(p: Pane, e: PointerEvent) {
    const vox = this.voxelAt(p, e);
    if (!vox) return;
    e.preventDefault();
    if (this.mode === "cursor") {
      this.setCursorVoxel(vox.map(Math.floor) as Vec3, true);
      this.drawing = { pane: p, stroke: null as any, pointer: e.pointerId };
      p.canvas.setPointerCapture(e.pointerId);
      return;
    }
    p.canvas.setPointerCapture(e.pointerId);
    const axes = AXIS_NAMES[Math.min(p.x, p.y)] + AXIS_NAMES[Math.max(p.x, p.y)];
    const base = { axis: p.name, index: this.cursor[p.slice], axes, points_vox: [this.inPlane(p, vox)] };
    const stroke: SliceStroke | EditStroke =
      this.mode === "draw" ? { kind: "slice", ...base } : { mode: this.mode, radius_vox: this.brushRadius, ...base };
    this.drawing = { pane: p, stroke, pointer: e.pointerId };
    if (this.mode === "draw") this.pending = stroke as SliceStroke;
    else this.paint(p, base.points_vox[0], (stroke as EditStroke).mode);
    this.render();
  }

  private pointerMove(p: Pane, e: PointerEvent) {
    if (!this.drawing || this.drawing.pane !== p || this.drawing.pointer !== e.pointerId) return;
    const vox = this.voxelAt(p, e);
    if (!vox) return;
    if (this.mode === "cursor") {
      this.setCursorVoxel(vox.map(Math.floor) as Vec3, true);
      return;
    }
    const pts = this.drawing.stroke.points_vox;
    const q = this.inPlane(p, vox);
    const last = pts[pts.length - 1];
    if (Math.hypot(q[0] - last[0], q[1] - last[1]) < 0.5) return;
    pts.push(q);
    if (this.mode === "brush" || this.mode === "erase") this.paint(p, q, this.mode);
    this.render();
  }

  private pointerUp(p: Pane, e: PointerEvent) {
    if (!this.drawing || this.drawing.pane !== p || this.drawing.pointer !== e.pointerId) return;
    const { stroke } = this.drawing;
    this.drawing = null;
    if (!stroke) return;
    if ("kind" in stroke) this.onStroke?.(stroke);
    else {
      this.edits.push(stroke);
      this.onEdit?.(stroke);
    }
    this.render();
  }

  /** Brush/eraser on the local copy of the labels: a disc on the current plane centred on the
   * voxel holding the stored (rounded) in-plane point, the same rule as the server's
   * `medprint_segment::edits`, so the re-run applies exactly what is shown. */
  private paint(p: Pane, point: [number, number], mode: "brush" | "erase") {
    if (!this.labels && !this.scan) return;
    const g = this.grid;
    if (!this.labelsEdited) {
      this.labelsEdited = new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2]);
      if (this.labels) for (let n = 0; n < this.labelsEdited.length; n++) this.labelsEdited[n] = this.labels.data[n];
    }
    const r = this.brushRadius;
    const [ua, va] = [Math.min(p.x, p.y), Math.max(p.x, p.y)];
    const c: Vec3 = [0, 0, 0];
    c[p.slice] = this.cursor[p.slice];
    c[ua] = Math.floor(point[0]);
    c[va] = Math.floor(point[1]);
    for (let du = -r; du <= r; du++) {
      for (let dv = -r; dv <= r; dv++) {
        if (du * du + dv * dv > r * r) continue;
        const q: Vec3 = [...c] as Vec3;
        q[ua] += du;
        q[va] += dv;
        if (q.some((v, a) => v < 0 || v >= g.dims[a])) continue;
        this.labelsEdited[q[0] + g.dims[0] * (q[1] + g.dims[1] * q[2])] = mode === "brush" ? 1 : 0;
      }
    }
  }

  /** The edits in the server's form (`RunParams.label_edits`); both paint the same discs. */
  labelEdits(): LabelEdit[] {
    return this.edits.map((e) => ({
      mode: e.mode === "brush" ? "add" : "remove",
      normal_axis: AXIS_NAMES.indexOf([...AXIS_NAMES].find((a) => !e.axes.includes(a))!),
      slice: e.index,
      radius_vox: e.radius_vox,
      points_vox: e.points_vox,
    }));
  }

  hasEdits(): boolean {
    return this.edits.length > 0;
  }

  clearEdits() {
    this.edits = [];
    this.labelsEdited = null;
    this.render();
  }

  /** Voxels changed by the edits (added to / removed from the labels). */
  editCounts(): { added: number; removed: number } {
    let added = 0, removed = 0;
    if (!this.labelsEdited) return { added, removed };
    for (let n = 0; n < this.labelsEdited.length; n++) {
      const before = this.labels ? (this.labels.data[n] ? 1 : 0) : 0;
      const after = this.labelsEdited[n] ? 1 : 0;
      if (after > before) added++;
      else if (after < before) removed++;
    }
    return { added, removed };
  }

  setCursorVoxel(v: Vec3, notify = false) {
    const g = this.grid;
    this.cursor = v.map((x, a) => Math.max(0, Math.min(g.dims[a] - 1, Math.round(x)))) as Vec3;
    this.render();
    if (notify) this.onCursor?.(voxelToLps(g, this.cursor));
  }

  /** Moves the cursor (and the three planes) to a point in LPS mm. */
  setCursorLps(p: Vec3) {
    this.setCursorVoxel(lpsToVoxel(this.grid, p));
  }

  cursorLps(): Vec3 {
    return voxelToLps(this.grid, this.cursor);
  }

  setWindow(width: number, level: number) {
    this.window = { width, level };
    this.render();
  }

  /** Labelled voxels within `r` voxels of the cursor (a check that linked points fall on the bone). */
  labelsNearCursor(r = 2): number {
    if (!this.labels) return 0;
    const [nx, ny, nz] = this.grid.dims;
    let n = 0;
    for (let dk = -r; dk <= r; dk++) for (let dj = -r; dj <= r; dj++) for (let di = -r; di <= r; di++) {
      const [i, j, k] = [this.cursor[0] + di, this.cursor[1] + dj, this.cursor[2] + dk];
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
      if (this.labels.data[i + nx * (j + ny * k)]) n++;
    }
    return n;
  }

  /** Overlay pixels drawn in each pane at the last render. */
  overlayCounts(): Record<PaneName, number> {
    return Object.fromEntries(this.panes.map((p) => [p.name, p.overlayPixels])) as Record<PaneName, number>;
  }

  render() {
    for (const p of this.panes) this.renderPane(p);
  }

  private renderPane(p: Pane) {
    const g = this.grid;
    const [nx, ny] = g.dims;
    const W = g.dims[p.x], H = g.dims[p.y];
    const s = this.cursor[p.slice];
    p.slider.value = String(s);
    p.label.textContent = `${AXIS_NAMES[p.slice]} = ${s + 1}/${g.dims[p.slice]}`;
    const ctx = p.off.getContext("2d")!;
    const img = ctx.createImageData(W, H);
    const px = img.data;
    const lo = this.window.level - this.window.width / 2;
    const scale = 255 / Math.max(1, this.window.width);
    const labels = this.labelsEdited ?? this.labels?.data ?? null;
    const alpha = this.overlay ? this.overlayOpacity : 0;
    let overlayPixels = 0;
    const vox: Vec3 = [0, 0, 0];
    vox[p.slice] = s;
    for (let v = 0; v < H; v++) {
      vox[p.y] = p.flipY ? H - 1 - v : v;
      for (let u = 0; u < W; u++) {
        vox[p.x] = p.flipX ? W - 1 - u : u;
        const n = vox[0] + nx * (vox[1] + ny * vox[2]);
        let grey = 0;
        if (this.scan) {
          const hu = this.scan.data[n] * this.scan.slope + this.scan.inter;
          grey = Math.max(0, Math.min(255, (hu - lo) * scale));
        }
        let r = grey, gg = grey, b = grey;
        const lab = labels ? labels[n] : 0;
        if (lab && alpha > 0) {
          const c = LABEL_COLOURS[lab % LABEL_COLOURS.length] ?? LABEL_COLOURS[1];
          const a = this.scan ? alpha : 1;
          r = r * (1 - a) + c[0] * a;
          gg = gg * (1 - a) + c[1] * a;
          b = b * (1 - a) + c[2] * a;
          overlayPixels++;
        }
        const o = (v * W + u) * 4;
        px[o] = r;
        px[o + 1] = gg;
        px[o + 2] = b;
        px[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    p.overlayPixels = overlayPixels;

    // Fit the plane (physical aspect from the voxel spacing) into the canvas.
    const dpr = window.devicePixelRatio || 1;
    const cssW = p.canvas.clientWidth || 200, cssH = p.canvas.clientHeight || 200;
    if (p.canvas.width !== Math.round(cssW * dpr) || p.canvas.height !== Math.round(cssH * dpr)) {
      p.canvas.width = Math.round(cssW * dpr);
      p.canvas.height = Math.round(cssH * dpr);
    }
    const mmW = W * g.spacing[p.x], mmH = H * g.spacing[p.y];
    const k = Math.min(p.canvas.width / mmW, p.canvas.height / mmH);
    const dw = mmW * k, dh = mmH * k;
    p.rect = { dx: (p.canvas.width - dw) / 2, dy: (p.canvas.height - dh) / 2, dw, dh };
    const c = p.canvas.getContext("2d")!;
    c.fillStyle = "#000";
    c.fillRect(0, 0, p.canvas.width, p.canvas.height);
    c.imageSmoothingEnabled = false;
    c.drawImage(p.off, p.rect.dx, p.rect.dy, dw, dh);

    const toScreen = (vx: number, vy: number): [number, number] => {
      const u = p.flipX ? W - vx : vx;
      const v = p.flipY ? H - vy : vy;
      return [p.rect.dx + (u / W) * dw, p.rect.dy + (v / H) * dh];
    };
    // Cursor crosshair.
    const [cx, cy] = toScreen(this.cursor[p.x] + 0.5, this.cursor[p.y] + 0.5);
    c.strokeStyle = "rgba(80, 200, 255, 0.8)";
    c.lineWidth = Math.max(1, dpr);
    c.beginPath();
    c.moveTo(cx, p.rect.dy);
    c.lineTo(cx, p.rect.dy + dh);
    c.moveTo(p.rect.dx, cy);
    c.lineTo(p.rect.dx + dw, cy);
    c.stroke();
    // Strokes on this plane.
    const drawStroke = (st: { axes: string; points_vox: Array<[number, number]> }, colour: string) => {
      const a = Math.min(p.x, p.y);
      c.strokeStyle = colour;
      c.lineWidth = 2.5 * dpr;
      c.lineJoin = "round";
      c.lineCap = "round";
      c.beginPath();
      st.points_vox.forEach(([q0, q1], n) => {
        const vx = a === p.x ? q0 : q1;
        const vy = a === p.x ? q1 : q0;
        const [sx, sy] = toScreen(vx, vy);
        if (n === 0) c.moveTo(sx, sy);
        else c.lineTo(sx, sy);
      });
      if (st.points_vox.length === 1) {
        const [sx, sy] = toScreen(st.points_vox[0][0], st.points_vox[0][1]);
        c.arc(sx, sy, 3 * dpr, 0, Math.PI * 2);
      }
      c.stroke();
    };
    for (const a of this.annotations) {
      if (a.stroke.axis === p.name && a.stroke.index === s) drawStroke(a.stroke, ANNOTATION_COLOUR);
    }
    if (this.pending && this.pending.axis === p.name && this.pending.index === s) drawStroke(this.pending, PENDING_COLOUR);
  }
}
