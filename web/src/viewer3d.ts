// The 3D model viewer: orbit and zoom, per-part visibility, colour and finish, a ruler in mm, a
// clipping plane, free-hand strokes drawn on the surface, and a cursor linked to the slices.
//
// The GLB is in metres with X = L, Y = S, Z = −P (see medprint-mesh's glb.rs); patient LPS
// millimetres are (x, −z, y) × 1000 of a glTF point.

import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

export type Mode = "orbit" | "measure" | "draw";

export function gltfToLpsMm(p: THREE.Vector3): [number, number, number] {
  return [p.x * 1000, -p.z * 1000, p.y * 1000];
}

export function lpsMmToGltf(p: number[]): THREE.Vector3 {
  return new THREE.Vector3(p[0] / 1000, p[2] / 1000, -p[1] / 1000);
}

export interface Part {
  name: string;
  mesh: THREE.Mesh;
}

export class Viewer3D {
  readonly renderer: THREE.WebGLRenderer;
  readonly scene = new THREE.Scene();
  readonly camera = new THREE.PerspectiveCamera(40, 1, 0.001, 10);
  readonly controls: OrbitControls;
  parts: Part[] = [];
  mode: Mode = "orbit";
  triangles = 0;
  private clip = new THREE.Plane(new THREE.Vector3(0, -1, 0), 10);
  private box = new THREE.Box3();
  private raycaster = new THREE.Raycaster();
  private measurePoints: THREE.Vector3[] = [];
  private overlay = new THREE.Group();
  private stroke: THREE.Vector3[] | null = null;
  private cursor: THREE.Mesh;
  onMeasure: (mm: number) => void = () => {};
  onStroke: (pointsMm: number[][]) => void = () => {};
  onPick: (lpsMm: [number, number, number]) => void = () => {};

  constructor(private host: HTMLElement) {
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    this.renderer.localClippingEnabled = true;
    this.scene.background = new THREE.Color(0x10151c);
    host.appendChild(this.renderer.domElement);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x404050, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(1, 2, 1.5);
    this.camera.add(sun);
    this.scene.add(this.camera);
    this.scene.add(this.overlay);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.cursor = new THREE.Mesh(new THREE.SphereGeometry(1, 16, 12), new THREE.MeshBasicMaterial({ color: 0xffd400 }));
    this.cursor.visible = false;
    this.overlay.add(this.cursor);
    const el = this.renderer.domElement;
    el.style.touchAction = "none";
    el.addEventListener("pointerdown", (e) => this.pointerDown(e));
    el.addEventListener("pointermove", (e) => this.pointerMove(e));
    el.addEventListener("pointerup", () => this.pointerUp());
    new ResizeObserver(() => this.resize()).observe(host);
    this.resize();
    // Render on demand only: a software-rendered canvas must not hold the main thread.
    this.controls.addEventListener("change", () => this.requestRender());
    this.requestRender();
  }

  private pending = false;

  /** Draws the next frame (once, however often it is asked for before then). */
  requestRender() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.renderer.render(this.scene, this.camera);
    });
  }

  private resize() {
    const w = this.host.clientWidth || 300;
    const h = this.host.clientHeight || 300;
    this.renderer.setSize(w, h);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  async load(url: string): Promise<void> {
    const gltf = await new GLTFLoader().loadAsync(url);
    this.parts = [];
    this.triangles = 0;
    gltf.scene.traverse((o) => {
      const mesh = o as THREE.Mesh;
      if (!mesh.isMesh) return;
      const material = (mesh.material as THREE.MeshStandardMaterial).clone();
      material.clippingPlanes = [this.clip];
      material.side = THREE.DoubleSide;
      mesh.material = material;
      const index = mesh.geometry.getIndex();
      this.triangles += (index ? index.count : mesh.geometry.getAttribute("position").count) / 3;
      this.parts.push({ name: mesh.name || o.parent?.name || `part ${this.parts.length + 1}`, mesh });
    });
    this.scene.add(gltf.scene);
    this.box.setFromObject(gltf.scene);
    const size = this.box.getSize(new THREE.Vector3()).length();
    const centre = this.box.getCenter(new THREE.Vector3());
    this.controls.target.copy(centre);
    this.camera.position.copy(centre).add(new THREE.Vector3(0, 0, size * 1.3));
    this.camera.near = size / 100;
    this.camera.far = size * 20;
    this.camera.updateProjectionMatrix();
    this.cursor.scale.setScalar(size / 150);
    this.setClip(1);
  }

  /** Clipping plane height: 0 = everything removed, 1 = nothing removed (cuts from the top). */
  setClip(fraction: number) {
    const y = this.box.min.y + (this.box.max.y - this.box.min.y) * fraction + 1e-4;
    this.clip.constant = y;
    this.requestRender();
  }

  setPartVisible(i: number, visible: boolean) {
    this.parts[i].mesh.visible = visible;
    this.requestRender();
  }

  setPartColour(i: number, hex: string) {
    (this.parts[i].mesh.material as THREE.MeshStandardMaterial).color.set(hex);
    this.requestRender();
  }

  setPartFinish(i: number, finish: string) {
    const m = this.parts[i].mesh.material as THREE.MeshStandardMaterial;
    m.roughness = finish === "glossy" ? 0.25 : 0.75;
    m.transparent = finish === "translucent";
    m.opacity = finish === "translucent" ? 0.45 : 1;
    m.needsUpdate = true;
    this.requestRender();
  }

  private hit(e: PointerEvent): THREE.Vector3 | null {
    const r = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    const hits = this.raycaster.intersectObjects(this.parts.filter((p) => p.mesh.visible).map((p) => p.mesh), false);
    const visible = hits.find((h) => this.clip.distanceToPoint(h.point) >= 0);
    return visible ? visible.point.clone() : null;
  }

  private pointerDown(e: PointerEvent) {
    if (this.mode === "orbit") {
      const p = this.hit(e);
      if (p && e.detail >= 2) this.onPick(gltfToLpsMm(p));
      return;
    }
    this.controls.enabled = false;
    const p = this.hit(e);
    if (!p) return;
    if (this.mode === "measure") {
      this.measurePoints.push(p);
      this.addDot(p, 0x4fc3f7);
      if (this.measurePoints.length === 2) {
        const [a, b] = this.measurePoints;
        this.addLine([a, b], 0x4fc3f7);
        this.onMeasure(a.distanceTo(b) * 1000);
        this.measurePoints = [];
      }
    } else {
      this.stroke = [p];
    }
  }

  private pointerMove(e: PointerEvent) {
    if (this.mode !== "draw" || !this.stroke) return;
    const p = this.hit(e);
    if (p && p.distanceTo(this.stroke[this.stroke.length - 1]) > 0.0001) {
      this.stroke.push(p);
      if (this.stroke.length > 1) this.addLine(this.stroke.slice(-2), 0xff5252);
    }
  }

  private pointerUp() {
    this.controls.enabled = true;
    if (this.mode === "draw" && this.stroke && this.stroke.length > 1) {
      this.onStroke(this.stroke.map((p) => gltfToLpsMm(p).map((v) => Math.round(v * 10) / 10)));
    }
    this.stroke = null;
  }

  private addDot(p: THREE.Vector3, colour: number) {
    const s = this.box.getSize(new THREE.Vector3()).length() / 250;
    const dot = new THREE.Mesh(new THREE.SphereGeometry(s, 12, 8), new THREE.MeshBasicMaterial({ color: colour }));
    dot.position.copy(p);
    this.overlay.add(dot);
    this.requestRender();
  }

  addLine(points: THREE.Vector3[], colour: number) {
    const g = new THREE.BufferGeometry().setFromPoints(points);
    const line = new THREE.Line(g, new THREE.LineBasicMaterial({ color: colour, depthTest: false }));
    line.renderOrder = 10;
    this.overlay.add(line);
    this.requestRender();
  }

  /** Draws a saved surface stroke (points in patient mm). */
  showStroke(pointsMm: number[][]) {
    this.addLine(pointsMm.map(lpsMmToGltf), 0xff8a80);
  }

  /** Moves the linked cursor to a patient point (mm). */
  showCursor(lpsMm: number[]) {
    this.cursor.position.copy(lpsMmToGltf(lpsMm));
    this.cursor.visible = true;
    this.requestRender();
  }

  /** Client coordinates of a visible point of the model near the centre of the view (for
   * tests and for placing labels). */
  visiblePointOnScreen(): [number, number] | null {
    const r = this.renderer.domElement.getBoundingClientRect();
    let best: [number, number] | null = null;
    let bestD = Infinity;
    const v = new THREE.Vector3();
    for (const part of this.parts) {
      const pos = part.mesh.geometry.getAttribute("position");
      const step = Math.max(1, Math.floor(pos.count / 2000));
      for (let i = 0; i < pos.count; i += step) {
        v.fromBufferAttribute(pos, i).applyMatrix4(part.mesh.matrixWorld).project(this.camera);
        if (Math.abs(v.x) > 0.9 || Math.abs(v.y) > 0.9 || v.z > 1) continue;
        const d = v.x * v.x + v.y * v.y;
        if (d >= bestD) continue;
        const x = r.left + ((v.x + 1) / 2) * r.width;
        const y = r.top + ((1 - v.y) / 2) * r.height;
        const e = { clientX: x, clientY: y } as PointerEvent;
        if (this.hit(e)) {
          bestD = d;
          best = [x, y];
        }
      }
    }
    return best;
  }

  /** Fraction of canvas pixels that differ from the background (a test of "not blank"). */
  coverage(): number {
    const gl = this.renderer.getContext();
    const w = gl.drawingBufferWidth;
    const h = gl.drawingBufferHeight;
    const px = new Uint8Array(w * h * 4);
    this.renderer.render(this.scene, this.camera);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - 0x10) + Math.abs(px[i + 1] - 0x15) + Math.abs(px[i + 2] - 0x1c) > 30) n++;
    return n / (w * h);
  }
}
