import { api, fileUrl, STATES, STATE_LABEL, ROLE_LABEL, type Job, type OrderDetail, type Progress, type Version } from "../api";
import { h, replace, card, field, fmtDate, fmtDuration, shortId, progressBar, setProgress, actionButton, toast, parseJson, badge } from "../ui";
import { ACTION_LABEL, GATE_LABEL, describeOrder } from "../workflow";
import { stateBadge } from "./dashboard";
import { findingsView, loadReport } from "../findings";
import { scanPanel, uploadBox, tally } from "../scanpanel";
import type { Ctx } from "../main";

/** The workflow as a row of steps with the current one marked. */
export function stepper(state: string): HTMLElement {
  const at = STATES.indexOf(state as any);
  return h(
    "ol",
    { class: `stepper ${state === "cancelled" ? "cancelled" : ""}`, "aria-label": "Order progress" },
    STATES.map((s, i) =>
      h("li", { class: i < at ? "done" : i === at ? "current" : "", "aria-current": i === at ? "step" : undefined }, h("span", null, STATE_LABEL[s])),
    ),
  );
}

const MAIN_FILES = ["model.stl", "model.3mf", "model.glb", "labels.nii.gz", "scan.nii.gz", "report.json"];

export function versionsView(orderId: string, versions: Version[], current: number): HTMLElement {
  if (!versions.length) return h("p", { class: "muted" }, "No model yet.");
  return h(
    "div",
    { class: "versions" },
    [...versions].reverse().map((v) => {
      const previews = v.files.filter((f) => f.startsWith("preview/") && f.endsWith(".png"));
      const print = v.files.filter((f) => f.startsWith("print/"));
      const params = v.params ?? {};
      const paramText = Object.entries(params)
        .filter(([k, val]) => val !== null && !(Array.isArray(val) && !val.length) && ["bone", "threshold_hu", "print_ready", "smooth", "modality", "hollow_mm", "separate_bones"].includes(k))
        .map(([k, val]) => `${k.replace(/_/g, " ")}: ${val}`)
        .join(" · ");
      return h(
        "article",
        { class: `version ${v.version === current ? "current" : ""}`, dataset: { version: v.version } },
        h("h3", null, `Version ${v.version}`, v.version === current ? badge("current", "state-review") : null, h("span", { class: "muted small" }, ` ${fmtDate(v.created_ms)}`)),
        paramText ? h("p", { class: "muted small" }, paramText) : null,
        h(
          "div",
          { class: "downloads" },
          MAIN_FILES.filter((f) => v.files.includes(f)).map((f) => h("a", { class: "button small", href: fileUrl(orderId, v.version, f), download: f }, f)),
        ),
        previews.length
          ? h(
              "div",
              { class: "previews" },
              previews.map((f) =>
                h("a", { href: fileUrl(orderId, v.version, f), target: "_blank", rel: "noopener" }, h("img", { src: fileUrl(orderId, v.version, f), alt: f.replace("preview/", "").replace(".png", "") + " preview", loading: "lazy" })),
              ),
            )
          : null,
        print.length
          ? h(
              "details",
              null,
              h("summary", null, `Print files (${print.length})`),
              h("div", { class: "downloads" }, print.map((f) => h("a", { class: "button small", href: fileUrl(orderId, v.version, f), download: f.split("/").pop() }, f.replace("print/", "")))),
            )
          : null,
      );
    }),
  );
}

export function gatesView(d: OrderDetail, names?: Map<string, string>): HTMLElement {
  const all = ["model_approved", "segmentation_verified", "spend_approved", "print_plan_approved", "quality_control"];
  return h(
    "ul",
    { class: "gates" },
    all.map((g) => {
      const passed = d.gates.filter((x) => x.gate === g);
      const last = passed[passed.length - 1];
      const data = last ? parseJson(last.data) : null;
      return h(
        "li",
        { class: last ? (g === "quality_control" && data && data.passed === false ? "gate failed" : "gate passed") : "gate", dataset: { gate: g } },
        h("span", { class: "gate-mark", "aria-hidden": "true" }, last ? (g === "quality_control" && data?.passed === false ? "✗" : "✓") : "○"),
        h("div", null,
          h("strong", null, GATE_LABEL[g] ?? g),
          last
            ? h("div", { class: "small muted" },
                `${names?.get(last.user_id) ?? ROLE_LABEL[last.role] ?? last.role} · ${fmtDate(last.at_ms)}`,
                last.comment ? h("div", { class: "gate-comment" }, `“${last.comment}”`) : null,
                data && Object.keys(data).length ? h("div", { class: "gate-data" }, gateDataText(g, data)) : null)
            : h("div", { class: "small muted" }, "not yet"),
        ),
      );
    }),
  );
}

function gateDataText(gate: string, data: any): string {
  if (gate === "quality_control") {
    return `${data.passed ? "passed" : "failed"}: worst deviation ${Number(data.worst_deviation_mm ?? 0).toFixed(2)} mm (tolerance ${data.tolerance_mm} mm)`;
  }
  const parts: string[] = [];
  if (data.material) parts.push(`material ${data.material}`);
  if (Array.isArray(data.parts)) parts.push(`parts: ${data.parts.join(", ")}`);
  if (data.printer) parts.push(`printer ${data.printer}`);
  return parts.join(" · ");
}

export function annotationsView(d: OrderDetail): HTMLElement {
  if (!d.annotations.length) return h("p", { class: "muted" }, "No annotations.");
  return h(
    "ul",
    { class: "annotations" },
    d.annotations.map((a) => {
      const pos = parseJson(a.position);
      const where = pos?.kind === "surface" ? "on the 3D model" : pos?.kind === "slice" ? `on ${pos.axis} slice ${Number(pos.index) + 1}` : "";
      return h("li", { dataset: { annotation: a.id } }, h("span", null, a.text), h("span", { class: "muted small" }, ` — v${a.version}${where ? ", " + where : ""}, ${fmtDate(a.created_ms)}`));
    }),
  );
}

export async function orderPage(ctx: Ctx) {
  const { main, params, me } = ctx;
  const id = params.id;
  let d: OrderDetail = await api.order(id);
  let events: EventSource | null = null;
  let closed = false;

  const progressHost = h("div");
  const bar = progressBar(0, "");
  const stage = h("p", { class: "stage", "data-testid": "stage" });
  const failure = h("p", { class: "error-text", "data-testid": "job-error", hidden: true });
  const progressCard = card("Processing", bar, stage, failure);

  const showProgress = (p: Progress) => {
    const job = p.job;
    const active = job && (job.state === "queued" || job.state === "running");
    if (!job || (!active && p.state !== "uploaded" && p.state !== "processing" && job.state !== "failed")) {
      progressCard.hidden = true;
      return;
    }
    progressCard.hidden = false;
    const frac = job.state === "done" ? 1 : job.progress ?? 0;
    setProgress(bar, frac, `${Math.round(frac * 100)} %`);
    const eta = job.eta_ms !== null && job.eta_ms !== undefined && active ? ` · about ${fmtDuration(job.eta_ms)} left` : "";
    stage.textContent =
      job.state === "queued"
        ? "Waiting for a worker…"
        : job.state === "failed"
          ? "Processing failed."
          : job.state === "cancelled"
            ? "Processing was cancelled."
            : `${job.stage || "working"}${eta}`;
    stage.classList.toggle("error-text", job.state === "failed");
    // The server records the reason in plain words (what to do next); paths stay in its log.
    failure.hidden = job.state !== "failed";
    failure.textContent = job.state === "failed" ? job.error || "The processing failed; re-run the order." : "";
  };

  const render = async () => {
    const o = d.order;
    const version = d.versions.find((v) => v.version === o.current_version) ?? d.versions[d.versions.length - 1];
    const report = version ? await loadReport(o.id, version.version) : null;
    if (closed) return;
    const links: HTMLElement[] = [];
    if (["review", "sign_off", "print_preparation", "printing", "quality_control", "shipped", "delivered"].includes(o.state) && version)
      links.push(h("a", { class: `button ${o.state === "review" ? "primary" : ""}`, href: `#/orders/${o.id}/review` }, o.state === "review" ? "Open review" : "View model"));
    if (o.state === "sign_off" || me.user.role === "clinical_director") links.push(h("a", { class: `button ${o.state === "sign_off" ? "primary" : ""}`, href: `#/orders/${o.id}/sign-off` }, "Sign-off"));
    if (["print_preparation", "printing", "quality_control"].includes(o.state) && ["print_technician", "biomedical_engineer"].includes(me.user.role))
      links.push(h("a", { class: "button", href: "#/print" }, "Print desk"));
    if (me.permissions.includes("view_audit")) links.push(h("a", { class: "button", href: `#/orders/${o.id}/audit` }, "Audit trail"));

    // Generic actions (those with their own screen are linked above).
    const special = new Set(["approve_model", "verify_segmentation", "request_changes", "rerun", "sign_off", "decline", "record_qc", "start_printing", "finish_printing", "ship"]);
    const comment = h("textarea", { rows: 2, placeholder: "Comment (optional)", "data-testid": "action-comment" });
    const generic = d.actions.filter((a) => !special.has(a) && !(a === "submit" && o.state === "draft"));
    const onlyCancel = generic.length === 1 && generic[0] === "cancel_order";
    const actionsCard = onlyCancel
      ? h("details", { class: "card more-actions" }, h("summary", null, "Cancel this order…"), comment, h("div", { class: "row" }, actionButton("Cancel order", async () => {
          if (!confirm("Cancel this order? This cannot be undone.")) return;
          await api.action(o.id, "cancel_order", comment.value.trim() ? { comment: comment.value.trim() } : {});
          d = await api.order(id);
          await render();
        }, { class: "danger", "data-action": "cancel_order" })))
      : generic.length
      ? card(
          "Actions",
          generic.includes("approve_print_plan") ? printPlanSummary(report) : null,
          comment,
          h(
            "div",
            { class: "row" },
            generic.map((a) =>
              actionButton(
                ACTION_LABEL[a] ?? a,
                async () => {
                  if (a === "cancel_order" && !confirm("Cancel this order? This cannot be undone.")) return;
                  await api.action(o.id, a, comment.value.trim() ? { comment: comment.value.trim() } : {});
                  toast(`${ACTION_LABEL[a] ?? a}: done`, "ok");
                  d = await api.order(id);
                  await render();
                },
                { class: a === "cancel_order" ? "danger" : "primary", "data-action": a },
              ),
            ),
          ),
        )
      : null;

    let draftCard: HTMLElement | null = null;
    if (o.state === "draft" && d.actions.includes("submit")) {
      // Submitting waits until every chosen file is stored or refused with its reason.
      const canSubmit = () => d.files.stored > 0 && !d.files.receiving && tally(scans.chosen()).pending === 0;
      const scans = scanPanel({
        salt: () => o.patient_key,
        onChange: () => {
          sendBtn.disabled = !scans.results().length;
          submit.disabled = !canSubmit();
        },
      });
      const upload = uploadBox();
      const sendBtn = h("button", { type: "button", class: "primary", disabled: true }, "Upload");
      sendBtn.addEventListener("click", async () => {
        sendBtn.disabled = true;
        const done = await upload.run(o.id, scans);
        d = await api.order(id);
        sendBtn.disabled = done;
        submit.disabled = !canSubmit();
      });
      const submit = actionButton("Submit for processing", async () => {
        await api.action(o.id, "submit", {});
        d = await api.order(id);
        await render();
      }, { class: "primary", disabled: !canSubmit(), "data-testid": "submit-order" });
      draftCard = card(
        "Scan",
        h("p", null, `${d.files.stored} file(s) stored on the server${d.files.receiving ? `, ${d.files.receiving} incomplete (choose the same files again to resume)` : ""}${d.files.rejected ? `, ${d.files.rejected} rejected` : ""}.`),
        scans.el,
        h("div", { class: "row" }, sendBtn),
        upload.el,
        h("div", { class: "row" }, submit),
      );
    }

    const job = d.jobs[d.jobs.length - 1];
    const rerunCard = d.actions.includes("rerun") ? rerunForm(o.id, job, async () => {
      d = await api.order(id);
      await render();
    }) : null;
    const serverFiles = h("div", { "data-testid": "server-files" }, h("p", { class: "muted" }, "…"));
    replace(
      main,
      h(
        "div",
        { class: "page-head" },
        h("h1", null, `Order ${shortId(o.id)} `, stateBadge(o.state)),
        h("div", { class: "row" }, links),
      ),
      h("p", { class: "muted" }, `${describeOrder(o)} · created ${fmtDate(o.created_ms)}${o.prescription?.deadline ? ` · needed by ${o.prescription.deadline}` : ""}`),
      stepper(o.state),
      progressHost,
      rerunCard,
      draftCard,
      onlyCancel ? null : actionsCard,
      h(
        "div",
        { class: "grid2 top" },
        card("Findings", version ? findingsView(version, report) : h("p", { class: "muted" }, "Findings appear when the scan has been processed.")),
        card("Quality gates", gatesView(d)),
      ),
      card("Versions and downloads", versionsView(o.id, d.versions, o.current_version)),
      h("div", { class: "grid2 top" }, card("Prescription", prescriptionView(d)), card("Annotations", annotationsView(d))),
      card("Scan on the server", serverFiles),
      onlyCancel ? actionsCard : null,
    );
    void api.files(o.id).then((rows) => replace(serverFiles, serverFilesView(rows))).catch(() => replace(serverFiles, h("p", { class: "muted" }, "–")));
    replace(progressHost, progressCard);
    showProgress({ state: o.state, current_version: o.current_version, job: job ? { id: job.id, state: job.state, progress: job.progress_permille / 1000, stage: job.stage, eta_ms: job.eta_ms, error: job.error, version: job.version } : null });
  };

  await render();

  // Live progress (server-sent events); state changes reload the order.
  let lastState = d.order.state;
  let lastVersion = d.order.current_version;
  // A job that ends without changing the order's state (a failure that is seen only after the
  // order went back to "uploaded") also reloads the page: it then offers the re-run.
  const jobKey = (job: { id: string; state: string } | null | undefined) => (job && ["failed", "done", "cancelled"].includes(job.state) ? `${job.id}:${job.state}` : "");
  const lastJobOf = d.jobs[d.jobs.length - 1];
  let lastJob = jobKey(lastJobOf);
  const connect = () => {
    if (closed) return;
    events = new EventSource(`/api/orders/${encodeURIComponent(id)}/events`, { withCredentials: true });
    events.addEventListener("progress", async (ev) => {
      const p = JSON.parse((ev as MessageEvent).data) as Progress;
      (window as any).__medprint.progress = p;
      showProgress(p);
      if (p.state !== lastState || p.current_version !== lastVersion || jobKey(p.job) !== lastJob) {
        lastState = p.state;
        lastVersion = p.current_version;
        lastJob = jobKey(p.job);
        d = await api.order(id);
        await render();
        showProgress(p);
      }
    });
    events.onerror = () => {
      // EventSource reconnects by itself; if the session ended the next fetch reports it.
    };
  };
  connect();
  return () => {
    closed = true;
    events?.close();
  };
}

/**
 * Re-running with other parameters (modality, bone, threshold, print preparation); open and
 * first on the page after a failed run, which the parameters can often cure.
 */
function rerunForm(orderId: string, job: Job | undefined, after: () => Promise<void>): HTMLElement {
  const previous: Record<string, unknown> = parseJson(job?.params ?? "") ?? {};
  const failed = job?.state === "failed";
  const select = (label: string, testid: string, options: Array<[string, string]>, value: unknown) => {
    const el = h("select", { "aria-label": label, "data-testid": testid }, options.map(([v, text]) => h("option", { value: v }, text)));
    el.value = value === null || value === undefined ? "" : String(value);
    return el;
  };
  const modality = select("Scan type", "rerun-modality", [["", "As the scan says"], ["ct", "CT"], ["mr", "MRI"]], previous.modality);
  const bone = select("Bone", "rerun-bone", [["hard", "Hard bone"], ["soft", "Soft / low-density bone"]], previous.bone ?? "hard");
  const threshold = h("input", { type: "number", step: "10", min: "-1024", max: "4000", class: "narrow", placeholder: "estimated", "aria-label": "Threshold (HU)", "data-testid": "rerun-threshold" });
  if (typeof previous.threshold_hu === "number") threshold.value = String(previous.threshold_hu);
  const printReady = h("input", { type: "checkbox", checked: previous.print_ready !== false, "data-testid": "rerun-print-ready" });
  const comment = h("textarea", { rows: 2, placeholder: "Why (optional)" });
  return h(
    "details",
    { class: `card rerun ${failed ? "failed" : ""}`, open: failed, "data-testid": "rerun" },
    h("summary", null, failed ? "Run it again with other parameters" : "Re-run processing with other parameters"),
    h("div", { class: "grid2" },
      field("Scan type", modality, "MRI when an MRI was ordered as CT"),
      field("Bone", bone),
      field("Bone threshold (HU)", threshold, "empty: estimated from the scan"),
      h("label", { class: "check" }, printReady, " Prepare for printing (pieces, dowels, tag)"),
    ),
    comment,
    h("div", { class: "row" },
      actionButton("Re-run processing", async () => {
        const params: Record<string, unknown> = { ...previous };
        params.modality = modality.value || null;
        params.bone = bone.value;
        params.threshold_hu = threshold.value.trim() === "" ? null : Number(threshold.value);
        params.print_ready = printReady.checked;
        await api.action(orderId, "rerun", { comment: comment.value.trim(), params });
        toast("Processing starts again with the new parameters.", "ok");
        await after();
      }, { class: "primary", "data-action": "rerun" }),
    ),
  );
}

function printPlanSummary(report: any): HTMLElement | null {
  const pieces: any[] = report?.print?.pieces ?? [];
  if (!pieces.length) return null;
  return h(
    "details",
    { class: "print-plan", open: true },
    h("summary", null, `Print plan: ${pieces.length} pieces`),
    h(
      "table",
      { class: "compact" },
      h("thead", null, h("tr", null, h("th", null, "Piece"), h("th", null, "Role"), h("th", null, "Volume"), h("th", null, "Triangles"))),
      h("tbody", null, pieces.map((p) => h("tr", null, h("td", null, p.name), h("td", null, p.role), h("td", null, p.volume_mm3 ? `${(p.volume_mm3 / 1000).toFixed(1)} cm³` : "–"), h("td", null, String(p.triangles ?? "–"))))),
    ),
  );
}

/** What the server holds and what its own de-identification (the second pass) still found. */
function serverFilesView(rows: any[]): HTMLElement {
  const stored = rows.filter((r) => r.state === "stored" || r.state === "expanded");
  const rejected = rows.filter((r) => r.state === "rejected");
  const receiving = rows.filter((r) => r.state === "receiving");
  const found = new Map<string, number>();
  let uids = 0;
  for (const r of stored) {
    const rep = parseJson(r.deid_report);
    for (const x of rep?.removed ?? []) if (!/UID$/.test(x.keyword ?? "")) found.set(x.keyword, (found.get(x.keyword) ?? 0) + 1);
    uids += rep?.uids_replaced ?? 0;
  }
  return h(
    "div",
    null,
    h("p", null, `${stored.length} file(s) stored, ${receiving.length} incomplete, ${rejected.length} rejected.`),
    stored.length
      ? found.size
        ? h("p", { class: "warning small" }, `The server's de-identification still found and removed: ${[...found.keys()].join(", ")}.`)
        : h("p", { class: "ok-text small" }, `The server's own de-identification found nothing left to remove${uids ? " (it replaced the UIDs once more)" : ""}: the files were clean when they arrived.`)
      : null,
    rejected.length ? h("ul", { class: "small" }, rejected.slice(0, 20).map((r) => h("li", null, `${r.name}: ${r.error}`))) : null,
  );
}

function prescriptionView(d: OrderDetail): HTMLElement {
  const p = d.order.prescription ?? ({} as any);
  const rows: Array<[string, string]> = [
    ["Anatomy", p.anatomy?.join(", ") || "–"],
    ["Scan", (p.scan_type ?? "–").toUpperCase()],
    ["Bone", p.bone_type ?? "–"],
    ["Patient", [p.patient_age ? `${p.patient_age} y` : "", p.sex && p.sex !== "unknown" ? p.sex : "", p.weight_kg ? `${p.weight_kg} kg` : ""].filter(Boolean).join(", ") || "–"],
    ["Needed by", p.deadline ?? "–"],
    ["Deliver to", p.delivery_address ?? "–"],
    ["Material", p.material_preferences?.join(", ") || "–"],
    ["Notes", p.notes || "–"],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}
