// 3D model viewer (three.js): model-web.glb (glTF metres, +Y up, one named node per part),
// orbit/zoom, part visibility, colours and material looks, a clipping plane, a ruler between two
// surface points (mm), free-hand strokes drawn on the surface (pointer events, touch included)
// and a cursor marker linked with the slice viewer. Points leave this module in LPS mm.

import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { gltfToLps, lpsToGltf, type Vec3 } from "./nifti";

export type ViewMode = "rotate" | "measure" | "draw";

export interface Part {
  name: string;
  mesh: THREE.Mesh;
  material: THREE.MeshStandardMaterial;
  triangles: number;
}

export interface SurfaceStroke {
  kind: "surface";
  points_mm: Vec3[];
}

export const LOOKS: Record<string, { label: string; roughness: number; metalness: number; opacity: number; clearcoat?: number }> = {
  bone: { label: "Bone (matte)", roughness: 0.75, metalness: 0, opacity: 1 },
  PLA: { label: "PLA (satin)", roughness: 0.45, metalness: 0, opacity: 1 },
  resin: { label: "Resin (glossy)", roughness: 0.15, metalness: 0, opacity: 1 },
  "clear resin": { label: "Clear resin (see-through)", roughness: 0.1, metalness: 0, opacity: 0.45 },
  PA12: { label: "PA12 (powder, matte)", roughness: 0.95, metalness: 0, opacity: 1 },
};

const MARKER_COLOUR = 0x36c3ff;
const STROKE_COLOUR = 0xff3df5;
const SAVED_COLOUR = 0x19e68c;
const RULER_COLOUR = 0xffd400;

export class ModelViewer {
  readonly renderer: THREE.WebGLRenderer;
  readonly scene = new THREE.Scene();
  readonly camera = new THREE.PerspectiveCamera(35, 1, 0.001, 100);
  readonly controls: OrbitControls;
  parts: Part[] = [];
  mode: ViewMode = "rotate";
  onPick: ((lps: Vec3) => void) | null = null;
  onStroke: ((s: SurfaceStroke) => void) | null = null;
  onMeasure: ((mm: number, a: Vec3, b: Vec3) => void) | null = null;
  private model = new THREE.Group();
  private overlay = new THREE.Group();
  private clipPlane = new THREE.Plane(new THREE.Vector3(0, -1, 0), 0);
  private clipping = false;
  private box = new THREE.Box3();
  private raycaster = new THREE.Raycaster();
  private marker: THREE.Mesh;
  private ruler: THREE.Vector3[] = [];
  private rulerObjects: THREE.Object3D[] = [];
  private rulerLabel: HTMLElement;
  private strokeLine: THREE.Object3D | null = null;
  private strokePoints: THREE.Vector3[] = [];
  private savedStrokes = new THREE.Group();
  private down: { x: number; y: number; id: number } | null = null;
  private drawingPointer: number | null = null;
  private resize: ResizeObserver;
  private frame = 0;
  private disposed = false;

  constructor(private container: HTMLElement) {
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true, alpha: false });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    this.renderer.localClippingEnabled = true;
    this.renderer.setClearColor(0x1d2733);
    const canvas = this.renderer.domElement;
    canvas.className = "viewer-canvas";
    canvas.style.touchAction = "none";
    container.appendChild(canvas);
    this.rulerLabel = document.createElement("div");
    this.rulerLabel.className = "ruler-label";
    this.rulerLabel.hidden = true;
    container.appendChild(this.rulerLabel);

    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 1.6);
    key.position.set(0.5, 1, 1);
    this.camera.add(key);
    this.scene.add(this.camera);
    this.scene.add(this.model, this.overlay);
    this.overlay.add(this.savedStrokes);
    this.marker = new THREE.Mesh(
      new THREE.SphereGeometry(1, 16, 12),
      new THREE.MeshBasicMaterial({ color: MARKER_COLOUR, depthTest: false, transparent: true, opacity: 0.9 }),
    );
    this.marker.renderOrder = 10;
    this.marker.visible = false;
    this.overlay.add(this.marker);

    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.addEventListener("change", () => this.requestRender());

    canvas.addEventListener("pointerdown", (e) => this.pointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.pointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.pointerUp(e));
    canvas.addEventListener("pointercancel", (e) => this.pointerUp(e));

    this.resize = new ResizeObserver(() => this.fitSize());
    this.resize.observe(container);
    this.fitSize();
    const loop = () => {
      if (this.disposed) return;
      this.frame = requestAnimationFrame(loop);
      if (this.controls.update()) this.dirty = true;
      if (this.dirty) this.draw();
    };
    loop();
  }

  private dirty = true;
  requestRender() {
    this.dirty = true;
  }

  private draw() {
    this.dirty = false;
    this.renderer.render(this.scene, this.camera);
    this.placeRulerLabel();
  }

  dispose() {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.controls.dispose();
    this.scene.traverse((o) => {
      const m = o as THREE.Mesh;
      m.geometry?.dispose?.();
      const mat = m.material as THREE.Material | THREE.Material[] | undefined;
      if (Array.isArray(mat)) mat.forEach((x) => x.dispose());
      else mat?.dispose?.();
    });
    this.renderer.dispose();
    this.renderer.forceContextLoss();
  }

  private fitSize() {
    const w = this.container.clientWidth || 300, h = this.container.clientHeight || 300;
    this.renderer.setSize(w, h, false);
    this.renderer.domElement.style.width = "100%";
    this.renderer.domElement.style.height = "100%";
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  /** Loads a GLB (bytes). */
  async load(glb: ArrayBuffer): Promise<void> {
    const loader = new GLTFLoader();
    const gltf = await new Promise<any>((resolve, reject) => loader.parse(glb, "", resolve, reject));
    this.model.clear();
    this.parts = [];
    gltf.scene.updateMatrixWorld(true);
    gltf.scene.traverse((o: THREE.Object3D) => {
      const mesh = o as THREE.Mesh;
      if (!mesh.isMesh) return;
      const source = mesh.material as THREE.MeshStandardMaterial;
      const material = new THREE.MeshStandardMaterial({
        color: source.color?.clone() ?? new THREE.Color(0xe8dcc4),
        roughness: 0.7,
        metalness: 0,
        side: THREE.DoubleSide,
        transparent: source.transparent,
        opacity: source.opacity ?? 1,
        clippingPlanes: [],
      });
      mesh.material = material;
      const index = mesh.geometry.index;
      const triangles = (index ? index.count : mesh.geometry.attributes.position.count) / 3;
      let name = mesh.name || o.parent?.name || `part ${this.parts.length + 1}`;
      if (this.parts.some((p) => p.name === name)) name = `${name} (${this.parts.length + 1})`;
      this.parts.push({ name, mesh, material, triangles });
    });
    this.model.add(gltf.scene);
    this.box.setFromObject(this.model);
    this.resetView();
    const size = this.box.getSize(new THREE.Vector3()).length();
    this.marker.scale.setScalar(Math.max(0.0015, size * 0.008));
    this.setClip(null, 0);
  }

  get triangles(): number {
    return this.parts.reduce((s, p) => s + p.triangles, 0);
  }

  /** Model bounds in mm along the glTF axes (x = L, y = S, z = A). */
  boundsMm(): { min: Vec3; max: Vec3 } {
    return { min: this.box.min.toArray().map((v) => v * 1000) as Vec3, max: this.box.max.toArray().map((v) => v * 1000) as Vec3 };
  }

  resetView() {
    const center = this.box.getCenter(new THREE.Vector3());
    const size = this.box.getSize(new THREE.Vector3());
    // Fit the front face (width × height) into the view, whichever of the two limits.
    const vFov = (this.camera.fov * Math.PI) / 180;
    const hFov = 2 * Math.atan(Math.tan(vFov / 2) * this.camera.aspect);
    const fitH = size.y / 2 / Math.tan(vFov / 2);
    const fitW = size.x / 2 / Math.tan(hFov / 2);
    const dist = Math.max(fitH, fitW, 0.01) * 1.15 + size.z / 2;
    // Anterior view (patient facing the viewer: +Z in glTF is anterior), from slightly above.
    this.camera.position.copy(center).add(new THREE.Vector3(0, 0.3, 1).normalize().multiplyScalar(dist));
    this.camera.near = dist / 100;
    this.camera.far = dist * 10;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.update();
    this.requestRender();
  }

  setVisible(name: string, visible: boolean) {
    const p = this.parts.find((x) => x.name === name);
    if (p) p.mesh.visible = visible;
    this.requestRender();
  }

  setColour(name: string, hex: string) {
    const p = this.parts.find((x) => x.name === name);
    if (p) p.material.color.set(hex);
    this.requestRender();
  }

  setLook(look: string) {
    const l = LOOKS[look] ?? LOOKS.bone;
    for (const p of this.parts) {
      p.material.roughness = l.roughness;
      p.material.metalness = l.metalness;
      p.material.opacity = l.opacity;
      p.material.transparent = l.opacity < 1;
      p.material.depthWrite = l.opacity >= 1;
      p.material.needsUpdate = true;
    }
    this.requestRender();
  }

  /** Clipping plane across `axis` (x: left-right, y: head-feet, z: front-back) at a fraction 0..1 of the model; null turns it off. */
  setClip(axis: "x" | "y" | "z" | null, fraction: number) {
    this.clipping = axis !== null;
    if (axis) {
      const n = new THREE.Vector3(axis === "x" ? -1 : 0, axis === "y" ? -1 : 0, axis === "z" ? -1 : 0);
      const lo = this.box.min[axis], hi = this.box.max[axis];
      const at = lo + (hi - lo) * Math.max(0, Math.min(1, fraction));
      this.clipPlane.set(n, at);
    }
    for (const p of this.parts) {
      p.material.clippingPlanes = this.clipping ? [this.clipPlane] : [];
      p.material.needsUpdate = true;
    }
    this.requestRender();
  }

  setMode(mode: ViewMode) {
    this.mode = mode;
    this.controls.enabled = mode !== "draw";
    this.renderer.domElement.dataset.mode = mode;
    if (mode !== "measure") this.clearRuler();
  }

  /** The marker of the linked cursor, at a point in LPS mm. */
  setMarker(lps: Vec3 | null) {
    if (!lps) this.marker.visible = false;
    else {
      this.marker.position.set(...lpsToGltf(lps));
      this.marker.visible = true;
    }
    this.requestRender();
  }

  private ndc(e: PointerEvent): THREE.Vector2 {
    const r = this.renderer.domElement.getBoundingClientRect();
    return new THREE.Vector2(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
  }

  /** The visible surface point under the pointer (respecting the clipping plane). */
  private pick(e: PointerEvent): THREE.Vector3 | null {
    this.raycaster.setFromCamera(this.ndc(e), this.camera);
    const meshes = this.parts.filter((p) => p.mesh.visible).map((p) => p.mesh);
    const hits = this.raycaster.intersectObjects(meshes, false);
    for (const h of hits) {
      if (this.clipping && this.clipPlane.distanceToPoint(h.point) < 0) continue;
      return h.point.clone();
    }
    return null;
  }

  /** Picks at canvas-relative fractions (0..1) — used by tests and keyboard users. */
  pickAt(fx: number, fy: number): Vec3 | null {
    const r = this.renderer.domElement.getBoundingClientRect();
    const p = this.pick({ clientX: r.left + fx * r.width, clientY: r.top + fy * r.height } as PointerEvent);
    return p ? gltfToLps(p.x, p.y, p.z) : null;
  }

  private pointerDown(e: PointerEvent) {
    this.down = { x: e.clientX, y: e.clientY, id: e.pointerId };
    if (this.mode === "draw") {
      const p = this.pick(e);
      if (!p) return;
      e.preventDefault();
      this.renderer.domElement.setPointerCapture(e.pointerId);
      this.drawingPointer = e.pointerId;
      this.strokePoints = [p];
      this.updateStrokeLine();
    }
  }

  private pointerMove(e: PointerEvent) {
    if (this.mode !== "draw" || this.drawingPointer !== e.pointerId) return;
    const p = this.pick(e);
    if (!p) return;
    const last = this.strokePoints[this.strokePoints.length - 1];
    if (last && last.distanceTo(p) < 0.0008) return; // 0.8 mm
    this.strokePoints.push(p);
    this.updateStrokeLine();
  }

  private pointerUp(e: PointerEvent) {
    const click = this.down && this.down.id === e.pointerId && Math.hypot(e.clientX - this.down.x, e.clientY - this.down.y) < 5;
    this.down = null;
    if (this.mode === "draw" && this.drawingPointer === e.pointerId) {
      this.drawingPointer = null;
      if (this.strokePoints.length) {
        this.onStroke?.({ kind: "surface", points_mm: this.strokePoints.map((p) => gltfToLps(p.x, p.y, p.z)) });
      }
      return;
    }
    if (!click) return;
    const p = this.pick(e);
    if (!p) return;
    if (this.mode === "measure") this.addRulerPoint(p);
    else {
      const lps = gltfToLps(p.x, p.y, p.z);
      this.setMarker(lps);
      this.onPick?.(lps);
    }
  }

  private lineOf(points: THREE.Vector3[], colour: number): THREE.Line {
    const line = new THREE.Line(
      new THREE.BufferGeometry().setFromPoints(points),
      new THREE.LineBasicMaterial({ color: colour, depthTest: false, transparent: true, linewidth: 2 }),
    );
    line.renderOrder = 5;
    return line;
  }

  private dotOf(p: THREE.Vector3, colour: number): THREE.Mesh {
    const m = new THREE.Mesh(this.marker.geometry, new THREE.MeshBasicMaterial({ color: colour, depthTest: false, transparent: true }));
    m.position.copy(p);
    m.scale.copy(this.marker.scale).multiplyScalar(0.6);
    m.renderOrder = 6;
    return m;
  }

  /** A stroke as a thin tube (WebGL lines are one pixel wide), drawn over the surface. */
  private tubeOf(points: THREE.Vector3[], colour: number): THREE.Object3D {
    const size = this.box.getSize(new THREE.Vector3()).length() || 0.3;
    const radius = Math.max(0.0004, size * 0.0025);
    if (points.length < 2) return this.dotOf(points[0], colour);
    const curve = new THREE.CatmullRomCurve3(points, false, "centripetal");
    const tube = new THREE.Mesh(
      new THREE.TubeGeometry(curve, Math.min(400, points.length * 3), radius, 6, false),
      new THREE.MeshBasicMaterial({ color: colour, depthTest: false, transparent: true, opacity: 0.95 }),
    );
    tube.renderOrder = 5;
    return tube;
  }

  private updateStrokeLine() {
    if (this.strokeLine) {
      this.overlay.remove(this.strokeLine);
      (this.strokeLine as any).geometry?.dispose?.();
    }
    this.strokeLine = this.tubeOf(this.strokePoints, STROKE_COLOUR) as any;
    this.overlay.add(this.strokeLine!);
    this.requestRender();
  }

  clearPendingStroke() {
    if (this.strokeLine) this.overlay.remove(this.strokeLine);
    this.strokeLine = null;
    this.strokePoints = [];
    this.requestRender();
  }

  /** Saved surface annotations, drawn in green with a dot at their start. */
  showSavedStrokes(strokes: Array<{ points_mm: Vec3[] }>) {
    this.savedStrokes.clear();
    for (const s of strokes) {
      const pts = s.points_mm.map((p) => new THREE.Vector3(...lpsToGltf(p)));
      if (!pts.length) continue;
      if (pts.length > 1) this.savedStrokes.add(this.tubeOf(pts, SAVED_COLOUR));
      this.savedStrokes.add(this.dotOf(pts[0], SAVED_COLOUR));
    }
    this.requestRender();
  }

  private addRulerPoint(p: THREE.Vector3) {
    if (this.ruler.length >= 2) this.clearRuler();
    this.ruler.push(p);
    const dot = this.dotOf(p, RULER_COLOUR);
    this.rulerObjects.push(dot);
    this.overlay.add(dot);
    if (this.ruler.length === 2) {
      const line = this.lineOf(this.ruler, RULER_COLOUR);
      this.rulerObjects.push(line);
      this.overlay.add(line);
      const mm = this.ruler[0].distanceTo(this.ruler[1]) * 1000;
      this.rulerLabel.textContent = `${mm.toFixed(1)} mm`;
      this.rulerLabel.hidden = false;
      const [a, b] = this.ruler.map((q) => gltfToLps(q.x, q.y, q.z));
      this.onMeasure?.(mm, a, b);
    }
    this.requestRender();
  }

  /** Measures between two LPS points (as if clicked). */
  measure(a: Vec3, b: Vec3): number {
    this.clearRuler();
    this.addRulerPoint(new THREE.Vector3(...lpsToGltf(a)));
    this.addRulerPoint(new THREE.Vector3(...lpsToGltf(b)));
    return this.ruler[0].distanceTo(this.ruler[1]) * 1000;
  }

  clearRuler() {
    for (const o of this.rulerObjects) this.overlay.remove(o);
    this.rulerObjects = [];
    this.ruler = [];
    this.rulerLabel.hidden = true;
    this.requestRender();
  }

  private placeRulerLabel() {
    if (this.ruler.length !== 2 || this.rulerLabel.hidden) return;
    const mid = this.ruler[0].clone().add(this.ruler[1]).multiplyScalar(0.5).project(this.camera);
    const w = this.container.clientWidth, h = this.container.clientHeight;
    this.rulerLabel.style.left = `${((mid.x + 1) / 2) * w}px`;
    this.rulerLabel.style.top = `${((1 - mid.y) / 2) * h}px`;
  }

  /** Non-background pixels of the current frame (for checks). */
  drawnPixels(): number {
    this.draw();
    const gl = this.renderer.getContext();
    const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
    const px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    const [br, bgc, bb] = [0x1d, 0x27, 0x33];
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - br) + Math.abs(px[i + 1] - bgc) + Math.abs(px[i + 2] - bb) > 30) n++;
    }
    return n;
  }
}
