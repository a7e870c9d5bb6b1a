// The pipeline's findings in plain words: warnings and anomalies first, then what was measured.
import { fetchFile, type Version } from "./api";
import { h, badge, fmtDuration } from "./ui";
import type { Vec3 } from "./nifti";

const reports = new Map<string, Promise<any | null>>();

/** report.json of a version (cached), or null. */
export function loadReport(orderId: string, version: number): Promise<any | null> {
  const key = `${orderId}/${version}`;
  let p = reports.get(key);
  if (!p) {
    p = fetchFile(orderId, version, "report.json")
      .then((b) => (b ? JSON.parse(new TextDecoder().decode(b)) : null))
      .catch(() => null);
    reports.set(key, p);
  }
  return p;
}

const KIND_WORDS: Record<string, string> = {
  modality_mismatch: "Scan type",
  metal_object: "Metal",
  scanner_table: "Scanner table",
  high_noise: "Noise",
  thick_slices: "Slice thickness",
  uneven_slices: "Slice spacing",
  truncated_field_of_view: "Field of view",
  low_contrast: "Contrast",
};

function snake(s: string): string {
  return s.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

export function findingsView(version: Version, report: any | null, onLocate?: (lps: Vec3) => void): HTMLElement {
  const seg = version.summary?.segmentation ?? report?.segmentation ?? {};
  const warnings: string[] = version.summary?.warnings ?? report?.warnings ?? [];
  const anomalies: any[] = report?.anomalies?.anomalies ?? seg?.anomalies ?? [];
  const items: HTMLElement[] = [];
  for (const a of anomalies) {
    const sev = String(a.severity ?? "info").toLowerCase();
    items.push(
      h(
        "li",
        { class: `finding sev-${sev}` },
        badge(KIND_WORDS[snake(String(a.kind ?? ""))] ?? String(a.kind ?? "Finding"), `sev-${sev}`),
        " ",
        String(a.message ?? ""),
        typeof a.trust === "number" && a.trust < 1 ? h("span", { class: "muted" }, ` (trust in the result ${Math.round(a.trust * 100)} %)`) : null,
        a.location_mm && onLocate ? h("button", { type: "button", class: "link small", onclick: () => onLocate(a.location_mm as Vec3) }, "show") : null,
      ),
    );
  }
  // Serious anomalies also appear among the warnings: show each once.
  const said = anomalies.map((a) => String(a.message ?? "").slice(0, 40)).filter(Boolean);
  for (const w of warnings.filter((w) => !said.some((m) => w.includes(m)))) items.push(h("li", { class: "finding sev-warning" }, badge("Warning", "sev-warning"), " ", w));
  const facts: Array<[string, string]> = [];
  const t = seg.threshold;
  if (t?.threshold_hu !== undefined) facts.push(["Bone threshold", `${Math.round(t.threshold_hu)} HU${t.method ? ` (${String(t.method).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()})` : ""}`]);
  if (seg.bone_volume_mm3 !== undefined) facts.push(["Bone volume", `${(seg.bone_volume_mm3 / 1000).toFixed(1)} cm³`]);
  if (seg.patient_adjustment?.note) facts.push(["Patient adjustment", seg.patient_adjustment.note]);
  if (seg.islands_removed) facts.push(["Small fragments removed", String(seg.islands_removed)]);
  if (seg.table_voxels_removed) facts.push(["Scanner table removed", `${seg.table_voxels_removed} voxels`]);
  if (seg.metal_voxels_excluded) facts.push(["Metal kept out of the bone", `${seg.metal_voxels_excluded} voxels`]);
  const m = report?.model;
  if (m) {
    facts.push(["Model", `${m.triangles?.toLocaleString?.() ?? m.triangles} triangles, ${m.shells} part${m.shells === 1 ? "" : "s"}, ${m.printable ? "closed and printable" : "NOT printable as is"}`]);
    if (m.bounds_mm) {
      const [lo, hi] = m.bounds_mm;
      facts.push(["Size", `${(hi[0] - lo[0]).toFixed(0)} × ${(hi[1] - lo[1]).toFixed(0)} × ${(hi[2] - lo[2]).toFixed(0)} mm (left-right × front-back × head-feet)`]);
    }
  }
  if (report?.print?.pieces) facts.push(["Print pieces", `${report.print.pieces.length} (${[...new Set(report.print.pieces.map((p: any) => p.role))].join(", ")})`]);
  if (version.summary?.total_ms) facts.push(["Processing time", fmtDuration(version.summary.total_ms)]);
  return h(
    "div",
    { class: "findings" },
    items.length ? h("ul", { class: "finding-list" }, items) : h("p", { class: "ok-text" }, "No warnings: the scan looked as expected."),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
  );
}
