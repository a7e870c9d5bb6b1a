// Scan selection, in-browser de-identification with the table of what was removed, and the
// resumable upload box. Used by the new-order page and by draft orders.

import { h, replace, fmtBytes, progressBar, setProgress, errorText, toast } from "./ui";
import { filesFromDrop, filesFromInput, expandZips, type PickedFile } from "./files";
import type { DeidFileResult } from "./deid";
import { uploadAll, type UploadProgress } from "./upload";

const ACTION_WORDS: Record<string, string> = { removed: "removed", blanked: "emptied", dummy: "replaced by a dummy value", replaced: "replaced by a new UID" };

export interface ScanPanel {
  el: HTMLElement;
  results: () => DeidFileResult[];
  /** Clears the files (e.g. when the patient key, the UID salt, changes). */
  reset: () => void;
}

export function scanPanel(opts: { salt: () => string | null; onChange: (results: DeidFileResult[]) => void }): ScanPanel {
  let results: DeidFileResult[] = [];
  let busy = false;
  const status = h("div", { class: "deid-status", role: "status", "aria-live": "polite" });
  const report = h("div", { class: "deid-report" });
  const fileInput = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "file-input" });
  const folderInput = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "folder-input" });
  folderInput.setAttribute("webkitdirectory", "");
  const zone = h(
    "div",
    { class: "dropzone", tabindex: "0", role: "button", "aria-label": "Drop a scan folder or files here" },
    h("div", { class: "dropzone-icon", "aria-hidden": "true" }, "⬇"),
    h("strong", null, "Drop the scan folder, DICOM files or a zip here"),
    h("span", { class: "muted" }, "Patient details are removed in this browser before anything is sent."),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", onclick: () => fileInput.click() }, "Choose files"),
      h("button", { type: "button", onclick: () => folderInput.click() }, "Choose folder"),
    ),
    fileInput,
    folderInput,
  );
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      fileInput.click();
    }
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer) await take(await filesFromDrop(e.dataTransfer));
  });
  fileInput.addEventListener("change", () => void take(filesFromInput(fileInput)));
  folderInput.addEventListener("change", () => void take(filesFromInput(folderInput)));

  async function take(picked: PickedFile[]) {
    if (busy) return;
    const salt = opts.salt();
    if (!salt) {
      toast("Enter the patient identity first: it keys the de-identification.", "error");
      return;
    }
    busy = true;
    zone.classList.add("busy");
    try {
      const { Deidentifier, NotDicomError, DeidLeakError, summarise } = await import("./deid");
      const { files, skipped } = await expandZips(picked);
      const d = new Deidentifier(salt);
      const out: DeidFileResult[] = [];
      const refused: string[] = [...skipped];
      const leaks: string[] = [];
      const bar = progressBar(0, `De-identifying 0/${files.length}`);
      replace(status, bar);
      let n = 0;
      for (const f of files) {
        try {
          const r = await d.deidentify(f.path, await f.read());
          out.push(r);
        } catch (e) {
          if (e instanceof DeidLeakError) leaks.push(e.message);
          else if (e instanceof NotDicomError) refused.push(e.message);
          else refused.push(`${f.path}: ${errorText(e)}`);
        }
        n++;
        if (n % 5 === 0 || n === files.length) {
          setProgress(bar, n / files.length, `De-identifying ${n}/${files.length}`);
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      // Same file picked twice (e.g. folder and zip): keep one per SOP instance.
      const seen = new Set(results.map((r) => r.sopInstanceUid));
      for (const r of out) if (!seen.has(r.sopInstanceUid)) {
        seen.add(r.sopInstanceUid);
        results.push(r);
      }
      const rows = summarise(results);
      (window as any).__medprint.deid = { files: results.length, removed: rows.map((r) => ({ tag: r.tag, keyword: r.keyword, action: r.action, files: r.files })) };
      renderReport(rows, refused, leaks);
      replace(
        status,
        h("p", { class: results.length ? "ok-text" : "error-text" },
          results.length ? `${results.length} image file${results.length === 1 ? "" : "s"} de-identified (${fmtBytes(results.reduce((s, r) => s + r.bytes.length, 0))}), ready to upload.` : "No DICOM image was found in what you chose."),
      );
      opts.onChange(results);
    } finally {
      busy = false;
      zone.classList.remove("busy");
    }
  }

  function renderReport(rows: ReturnType<typeof import("./deid").summarise>, refused: string[], leaks: string[]) {
    const series = new Map<string, { modality: string; files: number; rows: number; columns: number }>();
    for (const r of results) {
      const s = series.get(r.seriesUid) ?? { modality: r.modality, files: 0, rows: r.rows, columns: r.columns };
      s.files++;
      series.set(r.seriesUid, s);
    }
    const burned = results.filter((r) => r.burnedIn).length;
    replace(
      report,
      series.size
        ? h(
            "div",
            { class: "series-list" },
            h("h3", null, "Series found"),
            h(
              "ul",
              null,
              [...series.values()].map((s) => h("li", null, `${s.modality || "?"} · ${s.files} image${s.files === 1 ? "" : "s"} · ${s.columns}×${s.rows} pixels`)),
            ),
          )
        : null,
      burned
        ? h("p", { class: "warning" }, `${burned} image(s) say they carry burned-in annotation: text in the pixels cannot be removed here. Check them before sending.`)
        : null,
      leaks.length ? h("div", { class: "warning" }, h("strong", null, "Not sent (identity found after de-identification):"), h("ul", null, leaks.map((l) => h("li", null, l)))) : null,
      rows.length
        ? h(
            "details",
            { class: "removed", open: true },
            h("summary", null, `What was removed or replaced (${rows.length} attributes) — values are never shown`),
            h(
              "table",
              { class: "removed-table", "data-testid": "deid-table" },
              h("thead", null, h("tr", null, h("th", null, "Tag"), h("th", null, "Attribute"), h("th", null, "What happened"), h("th", null, "Files"))),
              h(
                "tbody",
                null,
                rows.map((r) =>
                  h("tr", { dataset: { keyword: r.keyword } }, h("td", { class: "mono" }, r.tag), h("td", null, r.keyword), h("td", null, ACTION_WORDS[r.action] ?? r.action), h("td", null, String(r.files))),
                ),
              ),
            ),
            h("p", { class: "muted small" }, "Patient sex, age, size and weight are kept: the segmentation uses them. Private attributes and overlays are removed; UIDs are replaced consistently so the series stays together. The server de-identifies again on arrival."),
          )
        : null,
      refused.length
        ? h("details", { class: "skipped" }, h("summary", null, `${refused.length} file(s) skipped`), h("ul", null, refused.slice(0, 200).map((s) => h("li", null, s))))
        : null,
    );
  }

  const el = h("div", { class: "scan-panel" }, zone, status, report);
  return {
    el,
    results: () => results,
    reset: () => {
      results = [];
      replace(report);
      replace(status);
      opts.onChange(results);
    },
  };
}

/** Upload box: progress bar, resume after failures, retry button. */
export function uploadBox(): { el: HTMLElement; run: (orderId: string, results: DeidFileResult[]) => Promise<boolean> } {
  const bar = progressBar(0, "");
  const text = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const el = h("div", { class: "upload-box", hidden: true }, bar, text);
  const run = async (orderId: string, results: DeidFileResult[]) => {
    el.hidden = false;
    const show = (p: UploadProgress) => {
      setProgress(bar, p.total ? p.sent / p.total : 1, `${Math.round((p.total ? p.sent / p.total : 1) * 100)} %`);
      text.textContent =
        `${p.filesDone}/${p.filesTotal} files · ${fmtBytes(p.sent)} of ${fmtBytes(p.total)}` +
        (p.skipped ? ` · ${p.skipped} already on the server` : "") +
        (p.retries ? ` · resumed ${p.retries}×` : "");
    };
    try {
      const hooks = (window as any).__medprint;
      const p = await uploadAll(
        orderId,
        results.map((r) => ({ name: r.name.split(/[/!]/).pop() || r.name, bytes: r.bytes, sopInstanceUid: r.sopInstanceUid })),
        { chunkSize: hooks.chunkSize ?? 4 * 1024 * 1024, maxRetries: hooks.maxRetries ?? 8, onProgress: show },
      );
      show(p);
      hooks.upload = { ...p };
      el.classList.add("done");
      return true;
    } catch (e) {
      text.textContent = `Upload stopped: ${errorText(e)}. Press “Upload” again to continue where it stopped.`;
      el.classList.add("failed");
      return false;
    }
  };
  return { el, run };
}
