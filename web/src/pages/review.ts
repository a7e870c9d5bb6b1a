import { api, fetchFile, materials, actionWithData, type OrderDetail, type Version } from "../api";
import { h, replace, card, shortId, actionButton, toast, parseJson, fmtDate, errorText } from "../ui";
import { stateBadge } from "./dashboard";
import { findingsView, loadReport } from "../findings";
import { annotationsView } from "./order";
import { parseNifti, type Vec3, type Volume } from "../nifti";
import type { ModelViewer, SurfaceStroke, ViewMode } from "../viewer3d";
import type { SliceViewer, SliceStroke, SliceMode, LabelEdit } from "../slices";
import type { Ctx } from "../main";

const POSITION_LIMIT = 1900; // the server keeps positions of at most 2000 characters

/** Rounds and thins a stroke until its JSON fits the server's limit. */
export function compactPosition(p: SurfaceStroke | SliceStroke): any {
  const round = (v: number) => Math.round(v * 10) / 10;
  const pts: number[][] = p.kind === "surface" ? p.points_mm.map((q) => q.map(round)) : p.points_vox.map((q) => q.map(round));
  let step = 1;
  while (true) {
    const kept = pts.filter((_, i) => i % step === 0 || i === pts.length - 1);
    const out = p.kind === "surface" ? { kind: "surface", points_mm: kept } : { kind: "slice", axis: p.axis, index: p.index, axes: p.axes, points_vox: kept };
    if (JSON.stringify(out).length <= POSITION_LIMIT || kept.length <= 2) return out;
    step++;
  }
}

function seg<T extends string>(options: Array<[T, string]>, value: T, onChange: (v: T) => void, label: string): HTMLElement {
  const wrap = h("div", { class: "seg", role: "radiogroup", "aria-label": label });
  for (const [v, text] of options) {
    const b = h("button", { type: "button", class: v === value ? "on" : "", role: "radio", "aria-checked": String(v === value), dataset: { value: v } }, text);
    b.addEventListener("click", () => {
      wrap.querySelectorAll("button").forEach((x) => {
        x.classList.toggle("on", x === b);
        x.setAttribute("aria-checked", String(x === b));
      });
      onChange(v);
    });
    wrap.appendChild(b);
  }
  return wrap;
}

export async function reviewPage(ctx: Ctx) {
  const { main, params, me } = ctx;
  const id = params.id;
  let d: OrderDetail = await api.order(id);
  const version: Version | undefined = d.versions.find((v) => v.version === d.order.current_version) ?? d.versions[d.versions.length - 1];
  if (!version) {
    replace(main, card("Review", h("p", null, "This order has no model yet."), h("a", { href: `#/orders/${id}` }, "Back to the order")));
    return;
  }
  const hooks = ((window as any).__medprint.review = { ready: false } as any);
  let viewer: ModelViewer | null = null;
  let slices: SliceViewer | null = null;
  let pending: SurfaceStroke | SliceStroke | null = null;

  // --- layout -------------------------------------------------------------------------
  const viewHost = h("div", { class: "viewer", "data-testid": "viewer3d" }, h("p", { class: "loading" }, "Loading the model…"));
  const sliceHost = h("div", { class: "slice-host", "data-testid": "slices" }, h("p", { class: "loading" }, "Loading the scan…"));
  const measureOut = h("span", { class: "measure-out", "data-testid": "measure" });
  const clipAxis = h("select", { "aria-label": "Clipping plane" }, h("option", { value: "" }, "No clipping"), h("option", { value: "y" }, "Clip head–feet"), h("option", { value: "x" }, "Clip left–right"), h("option", { value: "z" }, "Clip front–back"));
  const clipPos = h("input", { type: "range", min: "0", max: "1", step: "0.01", value: "0.5", "aria-label": "Clipping plane position", disabled: true });
  const applyClip = () => {
    clipPos.disabled = !clipAxis.value;
    viewer?.setClip((clipAxis.value || null) as any, Number(clipPos.value));
  };
  clipAxis.addEventListener("change", applyClip);
  clipPos.addEventListener("input", applyClip);
  const look = h("select", { "aria-label": "Look" });
  const { LOOKS } = await import("../viewer3d");
  for (const [k, v] of Object.entries(LOOKS)) look.appendChild(h("option", { value: k }, v.label));
  look.addEventListener("change", () => viewer?.setLook(look.value));
  const mode3d = seg<ViewMode>([["rotate", "Rotate"], ["measure", "Measure"], ["draw", "Draw"]], "rotate", (m) => {
    viewer?.setMode(m);
    measureOut.textContent = m === "measure" ? "Click two points on the surface." : m === "draw" ? "Drag on the surface to draw." : "";
  }, "3D tool");
  const tools3d = h("div", { class: "toolbar" }, mode3d, h("button", { type: "button", onclick: () => viewer?.resetView() }, "Reset view"), look, clipAxis, clipPos, measureOut);

  const { WINDOWS } = await import("../slices");
  const wlWidth = h("input", { type: "number", value: String(WINDOWS.bone.width), "aria-label": "Window width", class: "narrow" });
  const wlLevel = h("input", { type: "number", value: String(WINDOWS.bone.level), "aria-label": "Window level", class: "narrow" });
  const applyWl = () => slices?.setWindow(Number(wlWidth.value) || 1, Number(wlLevel.value) || 0);
  wlWidth.addEventListener("change", applyWl);
  wlLevel.addEventListener("change", applyWl);
  const presets = seg<keyof typeof WINDOWS>(
    (Object.keys(WINDOWS) as Array<keyof typeof WINDOWS>).map((k) => [k, k === "bone" ? "Bone" : k === "soft" ? "Soft tissue" : "Lung"]),
    "bone",
    (k) => {
      wlWidth.value = String(WINDOWS[k].width);
      wlLevel.value = String(WINDOWS[k].level);
      applyWl();
    },
    "Window preset",
  );
  const overlayOn = h("input", { type: "checkbox", checked: true, "aria-label": "Show the segmentation" });
  const overlayAlpha = h("input", { type: "range", min: "0.1", max: "1", step: "0.05", value: "0.5", "aria-label": "Overlay opacity" });
  const applyOverlay = () => {
    if (!slices) return;
    slices.overlay = overlayOn.checked;
    slices.overlayOpacity = Number(overlayAlpha.value);
    slices.render();
  };
  overlayOn.addEventListener("change", applyOverlay);
  overlayAlpha.addEventListener("input", applyOverlay);
  const brush = h("input", { type: "range", min: "1", max: "10", step: "1", value: "2", "aria-label": "Brush radius (voxels)" });
  brush.addEventListener("input", () => slices && (slices.brushRadius = Number(brush.value)));
  const editInfo = h("span", { class: "small muted", "data-testid": "edit-info" });
  const modeSlices = seg<SliceMode>([["cursor", "Cursor"], ["draw", "Draw"], ["brush", "Brush"], ["erase", "Eraser"]], "cursor", (m) => {
    if (slices) slices.mode = m;
    brush.hidden = !(m === "brush" || m === "erase");
  }, "Slice tool");
  brush.hidden = true;
  const toolsSlices = h(
    "div",
    { class: "toolbar" },
    presets,
    h("label", { class: "inline" }, "W ", wlWidth),
    h("label", { class: "inline" }, "L ", wlLevel),
    h("label", { class: "inline" }, overlayOn, " Overlay"),
    overlayAlpha,
    modeSlices,
    brush,
  );

  // Parts: visibility, colour, print selection.
  const partsHost = h("div", { class: "parts" }, h("p", { class: "muted" }, "…"));
  const material = h("select", { "data-testid": "print-material" });
  const pref = d.order.prescription?.material_preferences?.[0];
  for (const m of await materials()) material.appendChild(h("option", { value: m, selected: m === pref }, m));
  const printChecks = new Map<string, HTMLInputElement>();

  // Annotation panel.
  const pendingInfo = h("p", { class: "small muted", "data-testid": "pending" }, "Choose Draw (3D or slices) and draw; then write a note.");
  const note = h("textarea", { rows: 2, placeholder: "Note for the team", "data-testid": "annotation-text" });
  const canAnnotate = me.permissions.includes("annotate") && ["review", "sign_off", "print_preparation"].includes(d.order.state);
  const annotationsHost = h("div");
  const saveAnnotation = actionButton("Save annotation", async () => {
    const text = note.value.trim();
    if (!text) {
      toast("Write a note for the annotation.", "error");
      return;
    }
    const position = pending ? compactPosition(pending) : { kind: "note", cursor_mm: slices?.cursorLps().map((v) => Math.round(v * 10) / 10) };
    await api.annotate(id, text, position);
    note.value = "";
    pending = null;
    hooks.pending = null;
    pendingInfo.textContent = "Saved. Draw again for another annotation.";
    viewer?.clearPendingStroke();
    if (slices) {
      slices.pending = null;
    }
    d = await api.order(id);
    showAnnotations();
    toast("Annotation saved.", "ok");
  }, { class: "primary", "data-testid": "save-annotation", disabled: !canAnnotate });

  const showAnnotations = () => {
    replace(annotationsHost, annotationsView(d));
    hooks.annotations = d.annotations.length;
    const surf: Array<{ points_mm: Vec3[] }> = [];
    const sl: Array<{ stroke: SliceStroke; text: string }> = [];
    for (const a of d.annotations) {
      const p = parseJson(a.position);
      if (p?.kind === "surface" && Array.isArray(p.points_mm)) surf.push(p);
      if (p?.kind === "slice" && Array.isArray(p.points_vox)) sl.push({ stroke: p, text: a.text });
    }
    viewer?.showSavedStrokes(surf);
    if (slices) {
      slices.annotations = sl;
      slices.render();
    }
    // Clicking an annotation moves the cursor to it.
    annotationsHost.querySelectorAll<HTMLElement>("li[data-annotation]").forEach((li) => {
      const a = d.annotations.find((x) => x.id === li.dataset.annotation);
      const p = parseJson(a?.position);
      if (!p) return;
      li.classList.add("clickable");
      li.title = "Show";
      li.addEventListener("click", () => {
        if (p.kind === "surface" && p.points_mm?.length) locate(p.points_mm[0]);
        if (p.kind === "slice" && slices) {
          const axisIndex = { axial: 2, coronal: 1, sagittal: 0 } as const;
          const v = [...slices.cursor] as Vec3;
          const ax = p.axes ?? "";
          const [a0, a1] = [ax.charCodeAt(0) - 105, ax.charCodeAt(1) - 105];
          if (p.points_vox?.length && a0 >= 0 && a1 >= 0) {
            v[a0] = p.points_vox[0][0];
            v[a1] = p.points_vox[0][1];
            v[3 - a0 - a1] = p.index;
          } else v[axisIndex[p.axis as keyof typeof axisIndex] ?? 2] = p.index;
          slices.setCursorVoxel(v, true);
        }
      });
    });
  };

  const locate = (lps: Vec3) => {
    slices?.setCursorLps(lps);
    viewer?.setMarker(lps);
  };

  // Decision panel.
  const decisionHost = h("div");
  const renderDecision = () => {
    const comment = h("textarea", { rows: 2, placeholder: "Comment", "data-testid": "review-comment" });
    const can = (a: string) => d.actions.includes(a) && !d.gates.some((g) => g.gate === (a === "approve_model" ? "model_approved" : "segmentation_verified") && g.role === me.user.role);
    const chosenParts = () => [...printChecks.entries()].filter(([, c]) => c.checked).map(([n]) => n);
    const buttons: HTMLElement[] = [];
    if (can("approve_model")) {
      buttons.push(
        actionButton("Approve model", async () => {
          const parts = chosenParts();
          if (!parts.length) throw new Error("Choose at least one part to print.");
          const text = `${comment.value.trim()}${comment.value.trim() ? "\n" : ""}Parts to print: ${parts.join(", ")}; material: ${material.value}`;
          await actionWithData(id, "approve_model", { comment: text }, { parts, material: material.value });
          await afterDecision("Model approved.");
        }, { class: "primary", "data-action": "approve_model" }),
      );
    }
    if (can("verify_segmentation")) {
      buttons.push(
        actionButton("Verify segmentation", async () => {
          await api.action(id, "verify_segmentation", { comment: comment.value.trim() });
          await afterDecision("Segmentation verified.");
        }, { class: "primary", "data-action": "verify_segmentation" }),
      );
    }
    let changes: HTMLElement | null = null;
    if (d.actions.includes("request_changes")) {
      const bone = h("select", { "aria-label": "Bone" }, h("option", { value: "" }, "Bone: unchanged"), h("option", { value: "hard" }, "Hard bone"), h("option", { value: "soft" }, "Soft bone"));
      const thr = h("input", { type: "number", step: "10", placeholder: "e.g. 180", class: "narrow", "aria-label": "Threshold (HU)" });
      const smooth = h("input", { type: "number", min: "0", max: "50", step: "1", placeholder: String((version.params as any)?.smooth ?? ""), class: "narrow", "aria-label": "Smoothing iterations" });
      changes = h(
        "details",
        { class: "changes" },
        h("summary", null, "Request changes (a new version is made)"),
        h("div", { class: "row" }, bone, h("label", { class: "inline" }, "Threshold HU ", thr), h("label", { class: "inline" }, "Smoothing ", smooth)),
        h("p", { class: "small muted" }, "Brush/eraser edits on the slices are applied to the segmentation of the new version, after the edits of earlier versions."),
        editInfo,
        actionButton("Request changes", async () => {
          const p: Record<string, unknown> = { ...(version.params ?? {}) };
          if (bone.value) p.bone = bone.value;
          if (thr.value) p.threshold_hu = Number(thr.value);
          if (smooth.value) p.smooth = Number(smooth.value);
          let text = comment.value.trim() || "Changes requested";
          if (slices?.hasEdits()) {
            const c = slices.editCounts();
            p.label_edits = [...((p.label_edits as LabelEdit[] | undefined) ?? []), ...slices.labelEdits()];
            text += `\nSegmentation edits: +${c.added} / −${c.removed} voxels in ${slices.edits.length} stroke(s).`;
          }
          await api.action(id, "request_changes", { comment: text, params: p });
          slices?.clearEdits();
          toast("Changes requested: a new version is being made.", "ok");
          ctx.go(`#/orders/${id}`);
        }, { "data-action": "request_changes" }),
      );
    }
    const passed = d.gates.filter((g) => g.gate === "model_approved" || g.gate === "segmentation_verified");
    replace(
      decisionHost,
      passed.length ? h("ul", { class: "small" }, passed.map((g) => h("li", null, `✓ ${g.gate.replace("_", " ")} by ${g.role.replace("_", " ")} (${fmtDate(g.at_ms)})`))) : null,
      buttons.length || changes ? comment : null,
      buttons.length ? h("div", { class: "row" }, buttons) : null,
      changes,
      !buttons.length && !changes ? h("p", { class: "muted" }, d.order.state === "review" ? "Nothing to decide for your role here." : `The order is in ${d.order.state.replace("_", " ")}.`) : null,
    );
  };
  const afterDecision = async (msg: string) => {
    d = await api.order(id);
    toast(d.order.state === "sign_off" ? `${msg} Review complete: the order goes to sign-off.` : msg, "ok");
    replace(headState, stateBadge(d.order.state));
    renderDecision();
  };

  const headState = h("span", null, stateBadge(d.order.state));
  replace(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, `Review · order ${shortId(id)} `, headState),
      h("div", { class: "row" }, h("span", { class: "muted" }, `version ${version.version}`), h("a", { class: "button", href: `#/orders/${id}` }, "Order")),
    ),
    h(
      "div",
      { class: "review-grid" },
      h("section", { class: "card pane3d" }, tools3d, viewHost),
      h("section", { class: "card paneslices" }, toolsSlices, sliceHost),
    ),
    h(
      "div",
      { class: "review-side" },
      card("Parts", partsHost, h("div", { class: "row" }, h("label", { class: "inline" }, "Print material ", material))),
      card("Annotate", pendingInfo, note, h("div", { class: "row" }, saveAnnotation), annotationsHost),
      card("Decision", decisionHost),
      card("Findings", h("div", { "data-testid": "findings" }, "…")),
    ),
  );
  renderDecision();
  showAnnotations();
  loadReport(id, version.version).then((report) => {
    const host = main.querySelector('[data-testid="findings"]');
    if (host) replace(host as HTMLElement, findingsView(version, report, locate));
  });

  // --- data -----------------------------------------------------------------------
  const glbName = version.files.includes("model-web.glb") ? "model-web.glb" : "model.glb";
  const [glb, scanBytes, labelBytes] = await Promise.all([
    fetchFile(id, version.version, glbName).catch(() => null),
    version.files.includes("scan.nii.gz") ? fetchFile(id, version.version, "scan.nii.gz").catch(() => null) : Promise.resolve(null),
    version.files.includes("labels.nii.gz") ? fetchFile(id, version.version, "labels.nii.gz").catch(() => null) : Promise.resolve(null),
  ]);
  let disposed = false;

  // 3D
  try {
    if (!glb) throw new Error("this version has no 3D model");
    const { ModelViewer } = await import("../viewer3d");
    replace(viewHost);
    viewer = new ModelViewer(viewHost);
    await viewer.load(glb);
    viewer.onPick = (lps) => slices?.setCursorLps(lps);
    viewer.onMeasure = (mm) => {
      measureOut.textContent = `Distance: ${mm.toFixed(1)} mm`;
      hooks.measuredMm = mm;
    };
    viewer.onStroke = (s) => {
      pending = s;
      if (slices) slices.pending = null;
      pendingInfo.textContent = `Surface stroke of ${s.points_mm.length} points ready: write a note and save.`;
      hooks.pending = "surface";
    };
    hooks.triangles = viewer.triangles;
    (window as any).__medprint.triangles = viewer.triangles;
    hooks.viewer = viewer;
    renderParts();
  } catch (e) {
    replace(viewHost, h("p", { class: "error-text" }, `The 3D view is not available: ${errorText(e)}`));
  }

  // Slices
  try {
    let scan: Volume | null = null, labels: Volume | null = null;
    if (scanBytes) scan = parseNifti(scanBytes);
    if (labelBytes) labels = parseNifti(labelBytes);
    if (!scan && !labels) throw new Error("this version has neither scan.nii.gz nor labels.nii.gz");
    const { SliceViewer } = await import("../slices");
    replace(sliceHost);
    if (!scan) sliceHost.appendChild(h("p", { class: "small muted" }, "The scan itself is not available for this version: labels only."));
    const grid = h("div", { class: "slice-grid" });
    sliceHost.appendChild(grid);
    slices = new SliceViewer(grid, scan, labels);
    // Start on the slices through the middle of the bone when the labels say where it is.
    if (labels) {
      const [nx, ny, nz] = labels.dims;
      let sx = 0, sy = 0, sz = 0, n = 0;
      for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if (labels.data[i + nx * (j + ny * k)]) {
        sx += i; sy += j; sz += k; n++;
      }
      if (n) slices.setCursorVoxel([sx / n, sy / n, sz / n]);
    }
    slices.onCursor = (lps) => viewer?.setMarker(lps);
    slices.onStroke = (s) => {
      pending = s;
      viewer?.clearPendingStroke();
      pendingInfo.textContent = `Stroke on ${s.axis} slice ${s.index + 1} (${s.points_vox.length} points) ready: write a note and save.`;
      hooks.pending = "slice";
    };
    slices.onEdit = () => {
      const c = slices!.editCounts();
      editInfo.textContent = `Edits: +${c.added} / −${c.removed} voxels in ${slices!.edits.length} stroke(s). `;
    };
    hooks.slices = slices;
    hooks.overlay = () => slices!.overlayCounts();
    showAnnotations();
  } catch (e) {
    replace(sliceHost, h("p", { class: "error-text" }, `The slices are not available: ${errorText(e)}`));
  }
  hooks.ready = true;

  function renderParts() {
    if (!viewer) return;
    const rows = viewer.parts.map((p) => {
      const vis = h("input", { type: "checkbox", checked: true, "aria-label": `Show ${p.name}` });
      vis.addEventListener("change", () => viewer!.setVisible(p.name, vis.checked));
      const colour = h("input", { type: "color", value: `#${p.material.color.getHexString()}`, "aria-label": `Colour of ${p.name}` });
      colour.addEventListener("input", () => viewer!.setColour(p.name, colour.value));
      const print = h("input", { type: "checkbox", checked: true, "aria-label": `Print ${p.name}` });
      printChecks.set(p.name, print);
      return h("tr", { dataset: { part: p.name } }, h("td", null, vis), h("td", null, p.name), h("td", null, colour), h("td", null, print), h("td", { class: "muted small" }, `${p.triangles.toLocaleString()} △`));
    });
    replace(
      partsHost,
      h("table", { class: "compact parts-table" }, h("thead", null, h("tr", null, h("th", null, "Show"), h("th", null, "Part"), h("th", null, "Colour"), h("th", null, "Print"), h("th", null, ""))), h("tbody", null, rows)),
    );
  }

  return () => {
    disposed = true;
    viewer?.dispose();
    slices?.dispose();
    void disposed;
  };
}
