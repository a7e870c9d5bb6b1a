// Scan selection, in-browser de-identification with the table of what was removed, and the
// resumable upload box. Used by the new-order page and by draft orders.

import { h, replace, fmtBytes, progressBar, setProgress, errorText, toast } from "./ui";
import { filesFromDrop, filesFromInput, expandZips, type PickedFile } from "./files";
import type { DeidFileResult } from "./deid";
import { uploadAll, sha256Hex, type UploadProgress } from "./upload";

const ACTION_WORDS: Record<string, string> = { removed: "removed", blanked: "emptied", dummy: "replaced by a dummy value", replaced: "replaced by a new UID" };

/** A de-identified file ready to send; `sha256` (of the bytes sent) is its identity. */
export type ScanFile = DeidFileResult & { sha256: string };

/**
 * One file the user chose. Every chosen file ends either stored on the server or refused with
 * a plain reason (here or by the server); an order is not submitted before that.
 */
export interface Chosen {
  path: string;
  state: "ready" | "stored" | "refused";
  /** The de-identified content this file maps to (identical copies share it). */
  sha256?: string;
  reason?: string;
}

export interface ScanPanel {
  el: HTMLElement;
  /** Distinct de-identified files (by content; never by UID, which many series lack). */
  results: () => ScanFile[];
  /** Every chosen file and what became of it. */
  chosen: () => Chosen[];
  /** Records what the server did with the content `sha256`. */
  settle: (sha256: string, outcome: { state: "stored" } | { state: "refused"; reason: string }) => void;
  /** Clears the files (e.g. when the patient key, the UID salt, changes). */
  reset: () => void;
}

/** Counts of chosen files: stored, refused, still to send. */
export function tally(chosen: Chosen[]): { total: number; stored: number; refused: number; pending: number } {
  const stored = chosen.filter((c) => c.state === "stored").length;
  const refused = chosen.filter((c) => c.state === "refused").length;
  return { total: chosen.length, stored, refused, pending: chosen.length - stored - refused };
}

/** "N of M files stored", the refused files with their reasons, and what is left to send. */
export function storedSummary(chosen: Chosen[]): HTMLElement {
  const t = tally(chosen);
  const refused = chosen.filter((c) => c.state === "refused");
  return h(
    "div",
    { class: "stored-summary", "data-testid": "stored-summary" },
    h("p", { class: t.pending ? "muted" : t.stored ? "ok-text" : "error-text", "data-testid": "stored-count" },
      `${t.stored} of ${t.total} file${t.total === 1 ? "" : "s"} stored`,
      t.refused ? `, ${t.refused} refused` : "",
      t.pending ? `, ${t.pending} not sent yet` : ""),
    refused.length
      ? h("details", { class: "refused", open: true },
          h("summary", null, `${refused.length} file${refused.length === 1 ? "" : "s"} refused (not part of the order)`),
          h("ul", { "data-testid": "refused-list" }, refused.slice(0, 200).map((c) => h("li", null, h("span", { class: "mono" }, c.path), ` — ${c.reason ?? "refused"}`))))
      : null,
  );
}

/** A browser-side refusal in plain words: the message without the file name it starts with. */
function reasonOf(path: string, message: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

export function scanPanel(opts: { salt: () => string | null; onChange: (results: ScanFile[]) => void }): ScanPanel {
  let results: ScanFile[] = [];
  let chosen: Chosen[] = [];
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
      const leaks: string[] = [];
      for (const s of skipped) chosen.push({ path: s.path, state: "refused", reason: s.reason });
      const bar = progressBar(0, `De-identifying 0/${files.length}`);
      replace(status, bar);
      const known = new Set(results.map((r) => r.sha256));
      let n = 0;
      for (const f of files) {
        try {
          const r = await d.deidentify(f.path, await f.read());
          const sha256 = await sha256Hex(r.bytes);
          // The same file chosen twice (e.g. in a folder and a zip) is sent once; files without
          // UIDs or sharing a UID with other content are different files and all go.
          const previous = chosen.find((c) => c.sha256 === sha256);
          chosen.push({ path: f.path, state: previous?.state === "stored" ? "stored" : "ready", sha256 });
          if (!known.has(sha256)) {
            known.add(sha256);
            results.push({ ...r, sha256 });
          }
        } catch (e) {
          const message = errorText(e);
          if (e instanceof DeidLeakError) leaks.push(message);
          const reason = e instanceof DeidLeakError ? "identity still found after de-identification; not sent" : e instanceof NotDicomError ? reasonOf(f.path, message) : `could not be read here (${reasonOf(f.path, message)})`;
          chosen.push({ path: f.path, state: "refused", reason });
        }
        n++;
        if (n % 5 === 0 || n === files.length) {
          setProgress(bar, n / files.length, `De-identifying ${n}/${files.length}`);
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      const rows = summarise(results);
      const t = tally(chosen);
      (window as any).__medprint.deid = { files: results.length, chosen: t.total, refused: t.refused, removed: rows.map((r) => ({ tag: r.tag, keyword: r.keyword, action: r.action, files: r.files })) };
      renderReport(rows, leaks);
      replace(
        status,
        h("p", { class: results.length ? "ok-text" : "error-text" },
          results.length
            ? `${results.length} image file${results.length === 1 ? "" : "s"} de-identified (${fmtBytes(results.reduce((s, r) => s + r.bytes.length, 0))}), ready to upload` +
                (t.total > results.length + t.refused ? ` (${t.total - results.length - t.refused} identical cop${t.total - results.length - t.refused === 1 ? "y" : "ies"} sent once)` : "") +
                (t.refused ? `; ${t.refused} file${t.refused === 1 ? "" : "s"} refused (listed below).` : ".")
            : "No DICOM image was found in what you chose."),
        storedSummary(chosen),
      );
      opts.onChange(results);
    } finally {
      busy = false;
      zone.classList.remove("busy");
    }
  }

  function renderReport(rows: ReturnType<typeof import("./deid").summarise>, leaks: string[]) {
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
    );
  }

  const el = h("div", { class: "scan-panel" }, zone, status, report);
  return {
    el,
    results: () => results,
    chosen: () => chosen,
    settle: (sha256, outcome) => {
      for (const c of chosen) {
        if (c.sha256 !== sha256) continue;
        c.state = outcome.state;
        c.reason = outcome.state === "refused" ? outcome.reason : undefined;
      }
    },
    reset: () => {
      results = [];
      chosen = [];
      replace(report);
      replace(status);
      opts.onChange(results);
    },
  };
}

/**
 * Upload box: progress bar, resume after failures, "N of M files stored" with the refused files
 * and their reasons. `run` resolves true when every chosen file is stored or refused.
 */
export function uploadBox(): { el: HTMLElement; run: (orderId: string, panel: ScanPanel) => Promise<boolean> } {
  const bar = progressBar(0, "");
  const text = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const summary = h("div");
  const el = h("div", { class: "upload-box", hidden: true }, bar, text, summary);
  const run = async (orderId: string, panel: ScanPanel) => {
    el.hidden = false;
    el.classList.remove("failed", "done");
    const show = (p: UploadProgress) => {
      setProgress(bar, p.total ? p.sent / p.total : 1, `${Math.round((p.total ? p.sent / p.total : 1) * 100)} %`);
      text.textContent =
        `${p.filesDone}/${p.filesTotal} files · ${fmtBytes(p.sent)} of ${fmtBytes(p.total)}` +
        (p.skipped ? ` · ${p.skipped} already on the server` : "") +
        (p.retries ? ` · resumed ${p.retries}×` : "");
      replace(summary, storedSummary(panel.chosen()));
    };
    const hooks = (window as any).__medprint;
    const publish = () => {
      const t = tally(panel.chosen());
      hooks.stored = { ...t, refusedFiles: panel.chosen().filter((c) => c.state === "refused").map((c) => ({ path: c.path, reason: c.reason })) };
    };
    try {
      const p = await uploadAll(
        orderId,
        panel.results().map((r) => ({ name: r.name.split(/[/!]/).pop() || r.name, bytes: r.bytes, sopInstanceUid: r.sopInstanceUid, sha256: r.sha256 })),
        {
          chunkSize: hooks.chunkSize ?? 4 * 1024 * 1024,
          maxRetries: hooks.maxRetries ?? 8,
          onProgress: show,
          onFile: (item, outcome) => {
            if (item.sha256) panel.settle(item.sha256, outcome.state === "stored" ? { state: "stored" } : outcome);
          },
        },
      );
      show(p);
      hooks.upload = { ...p };
      publish();
      const t = tally(panel.chosen());
      if (t.pending) throw new Error(`${t.pending} file(s) were not sent`);
      el.classList.add("done");
      return t.stored > 0;
    } catch (e) {
      publish();
      replace(summary, storedSummary(panel.chosen()));
      text.textContent = `Upload stopped: ${errorText(e)}. Press “Upload” again to continue where it stopped.`;
      el.classList.add("failed");
      return false;
    }
  };
  return { el, run };
}
