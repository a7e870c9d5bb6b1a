// The medprint web app: a small hash-routed single-page app over the order server's API.

import "./style.css";
import { ApiError, fetchBytes, get, Me, post } from "./api";
import { deidentify, patientKey, Removed, sha256Hex, UidMap } from "./deid";
import { uploadFile } from "./upload";
import { Viewer3D } from "./viewer3d";
import { Axis, PRESETS, readNifti, SliceView, Volume } from "./slices";

const app = document.getElementById("app") as HTMLElement;
let me: Me | null = null;

/** Test hooks read by the browser tests. */
const hooks: Record<string, unknown> = {};
(window as any).__medprint = hooks;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, any> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const STATE_WORDS: Record<string, string> = {
  draft: "Draft: add the scan",
  uploaded: "Waiting for processing",
  processing: "Processing",
  review: "Ready for review",
  sign_off: "Waiting for sign-off",
  print_preparation: "Print preparation",
  printing: "Printing",
  quality_control: "Quality control",
  shipped: "Shipped",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

const ACTION_WORDS: Record<string, string> = {
  submit: "Submit for processing",
  approve_model: "Approve model",
  verify_segmentation: "Verify segmentation",
  request_changes: "Request changes",
  rerun: "Re-run",
  sign_off: "Approve spend",
  decline: "Decline",
  approve_print_plan: "Approve print plan",
  start_printing: "Start printing",
  finish_printing: "Printing finished",
  record_qc: "Record QC",
  ship: "Mark shipped",
  confirm_delivery: "Confirm delivery",
  cancel_order: "Cancel order",
};

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
}

function flash(text: string, kind: "ok" | "error" = "ok") {
  const el = h("div", { class: `flash ${kind}`, role: "status" }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 5000);
}

function fmtTime(ms: number): string {
  return new Date(ms).toLocaleString();
}

function navigate(hash: string) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------- layout and routing ----------

function layout(title: string, ...content: Node[]) {
  const role = me?.user.role ?? "";
  const links: [string, string][] = [["#/", "Orders"]];
  if (role === "surgeon" || role === "radiologist") links.push(["#/new", "New order"]);
  if (role === "print_technician") links.push(["#/desk", "Print desk"]);
  if (role === "org_admin" || role === "system_admin") links.push(["#/admin", "Administration"]);
  app.replaceChildren(
    h("header", {},
      h("a", { href: "#/", class: "brand" }, "medprint"),
      h("nav", {}, ...links.map(([href, text]) => h("a", { href }, text))),
      h("span", { class: "who" }, me ? `${me.user.name} · ${role.replace(/_/g, " ")} · ${me.org.name}` : ""),
      me ? h("button", { class: "link", onclick: logout }, "Sign out") : null,
    ),
    h("main", {}, h("h1", {}, title), ...content),
  );
}

async function logout() {
  await post("/api/logout").catch(() => undefined);
  me = null;
  navigate("#/login");
}

async function route() {
  const path = location.hash.replace(/^#/, "") || "/";
  if (!me && path !== "/login") {
    try {
      me = await get("/api/me");
    } catch {
      return navigate("#/login");
    }
  }
  const parts = path.split("/").filter(Boolean);
  try {
    if (path === "/login") return loginPage();
    if (parts.length === 0) return dashboard();
    if (parts[0] === "new") return newOrderPage();
    if (parts[0] === "desk") return printDesk();
    if (parts[0] === "admin") return adminPage();
    if (parts[0] === "orders" && parts[1] && parts[2] === "audit") return auditPage(parts[1]);
    if (parts[0] === "orders" && parts[1]) return orderPage(parts[1]);
    layout("Not found", h("p", {}, "This page does not exist."));
  } catch (e) {
    layout("Error", h("p", { class: "error" }, message(e)));
  }
}

window.addEventListener("hashchange", route);

// ---------- login ----------

function loginPage() {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error" });
  const form = h("form", { class: "card narrow" },
    h("label", {}, "E-mail", email),
    h("label", {}, "Password", password),
    h("button", { type: "submit" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/api/login", { email: email.value, password: password.value });
      me = await get("/api/me");
      navigate("#/");
    } catch (err) {
      error.textContent = message(err);
    }
  });
  app.replaceChildren(h("main", { class: "login" }, h("h1", {}, "medprint"), h("p", {}, "Patient-specific anatomical models, from scan to print."), form));
}

// ---------- dashboard ----------

/** What the signed-in person is expected to do with an order in this state. */
function taskFor(role: string, state: string): string | null {
  const tasks: Record<string, Record<string, string>> = {
    surgeon: { draft: "upload the scan", review: "review and approve the model", shipped: "confirm delivery" },
    radiologist: { draft: "upload the scan", review: "verify the segmentation" },
    clinical_director: { sign_off: "approve the spend" },
    biomedical_engineer: { review: "check the model", print_preparation: "approve the print plan" },
    print_technician: { print_preparation: "print when approved", printing: "finish printing", quality_control: "record QC and ship" },
  };
  return tasks[role]?.[state] ?? null;
}

async function dashboard() {
  if (me?.user.role === "system_admin") return adminPage();
  const orders: any[] = await get("/api/orders");
  const role = me?.user.role ?? "";
  const mine = orders.filter((o) => taskFor(role, o.state));
  const row = (o: any) =>
    h("tr", {},
      h("td", {}, h("a", { href: `#/orders/${o.id}` }, (o.prescription?.anatomy ?? []).join(", ") || "order")),
      h("td", {}, STATE_WORDS[o.state] ?? o.state),
      h("td", {}, taskFor(role, o.state) ?? ""),
      h("td", {}, o.prescription?.deadline ?? ""),
      h("td", {}, fmtTime(o.created_ms)),
    );
  const table = (list: any[]) =>
    list.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Anatomy", "State", "Your task", "Deadline", "Created"].map((t) => h("th", {}, t)))), h("tbody", {}, ...list.map(row)))
      : h("p", { class: "muted" }, "Nothing here.");
  layout("Orders", h("h2", {}, "Waiting for you"), table(mine), h("h2", {}, "All orders of your organisation"), table(orders));
}

// ---------- new order ----------

async function filesFromDrop(items: DataTransferItemList): Promise<File[]> {
  const out: File[] = [];
  const walk = async (entry: any): Promise<void> => {
    if (entry.isFile) {
      out.push(await new Promise<File>((res, rej) => entry.file(res, rej)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch: any[] = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  const entries = [...items].map((i) => (i as any).webkitGetAsEntry?.()).filter(Boolean);
  for (const e of entries) await walk(e);
  return out;
}

function newOrderPage() {
  const files: File[] = [];
  const count = h("p", { class: "muted" }, "No files yet.");
  const drop = h("div", { class: "drop", tabindex: "0" }, "Drop a folder of DICOM files here, or ", h("label", { class: "link" }, "choose files", h("input", { type: "file", multiple: true, webkitdirectory: true, hidden: true, name: "files" })));
  const fileInput = drop.querySelector("input") as HTMLInputElement;
  const anyFiles = h("input", { type: "file", multiple: true, name: "anyfiles", class: "visually-hidden" });
  const addFiles = (list: Iterable<File>) => {
    for (const f of list) if (!f.name.startsWith(".")) files.push(f);
    count.textContent = `${files.length} files selected`;
  };
  fileInput.addEventListener("change", () => addFiles(fileInput.files ?? []));
  anyFiles.addEventListener("change", () => addFiles(anyFiles.files ?? []));
  drop.addEventListener("dragover", (e) => e.preventDefault());
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    if (e.dataTransfer) addFiles(await filesFromDrop(e.dataTransfer.items));
  });
  const f = (name: string, label: string, input: HTMLElement) => h("label", {}, label, ((input as any).name = name, input));
  const anatomy = h("input", { placeholder: "e.g. pelvis, L4" });
  const scanType = h("select", {}, h("option", { value: "ct" }, "CT"), h("option", { value: "mr" }, "MRI"));
  const bone = h("select", {}, h("option", { value: "hard" }, "hard (adult cortical)"), h("option", { value: "soft" }, "soft (paediatric, osteoporotic)"));
  const age = h("input", { type: "number", min: "0", max: "130" });
  const sex = h("select", {}, h("option", { value: "" }, "—"), h("option", { value: "female" }, "female"), h("option", { value: "male" }, "male"), h("option", { value: "unknown" }, "unknown"));
  const weight = h("input", { type: "number", min: "1", max: "500" });
  const deadline = h("input", { type: "date" });
  const address = h("input", {});
  const material = h("select", {});
  const notes = h("textarea", { rows: "3" });
  const patientId = h("input", { autocomplete: "off", placeholder: "hospital number (stays on this computer)" });
  const secret = h("input", { type: "password", value: localStorage.getItem("medprint.orgSecret") ?? "", placeholder: "organisation secret" });
  const quote = h("div", { class: "quote muted" }, "Quote: fill in the anatomy.");
  const removedTable = h("div", {});
  const progress = h("progress", { max: "1", value: "0" });
  const status = h("p", { class: "muted" });
  get("/api/materials").then((ms: any[]) => ms.forEach((m) => material.append(h("option", { value: m.name }, `${m.name} (${m.process})`)))).catch(() => undefined);
  const refreshQuote = async () => {
    try {
      const q = await get(`/api/quote?anatomy=${encodeURIComponent(anatomy.value)}&material=${encodeURIComponent(material.value || "PLA")}&deadline=${deadline.value}`);
      quote.textContent = `Quote: €${q.price_eur.toFixed(2)} (${q.material.name}, about ${Math.round(q.volume_cm3)} cm³), ready ${q.ready_date}${q.express ? " with express service" : ""}${q.meets_deadline ? "" : " — later than the deadline"}`;
    } catch (e) {
      quote.textContent = `Quote unavailable: ${message(e)}`;
    }
  };
  for (const el of [anatomy, material, deadline]) el.addEventListener("change", refreshQuote);
  const submit = h("button", { type: "submit" }, "Create order and upload");
  const form = h("form", { class: "card" },
    h("h2", {}, "1. Scan"), drop, h("p", {}, "or pick individual files: ", anyFiles), count,
    h("h2", {}, "2. Patient (never sent: only a keyed hash)"), f("patient_id", "Patient identity", patientId), f("org_secret", "Organisation secret", secret),
    h("h2", {}, "3. Prescription"),
    h("div", { class: "grid" },
      f("anatomy", "Anatomy", anatomy), f("scan_type", "Scan type", scanType), f("bone", "Bone", bone), f("age", "Age (years)", age),
      f("sex", "Sex", sex), f("weight", "Weight (kg)", weight), f("deadline", "Needed by", deadline), f("address", "Delivery address", address),
      f("material", "Material", material)),
    f("notes", "Notes", notes), quote, submit, progress, status, removedTable,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!files.length) return flash("Add the scan's files first.", "error");
    if (!patientId.value || !secret.value) return flash("Enter the patient identity and the organisation secret.", "error");
    submit.disabled = true;
    localStorage.setItem("medprint.orgSecret", secret.value);
    try {
      const prescription: Record<string, unknown> = {
        anatomy: anatomy.value.split(",").map((s) => s.trim()).filter(Boolean),
        scan_type: scanType.value,
        bone_type: bone.value,
        material_preferences: material.value ? [material.value] : [],
        notes: notes.value,
      };
      if (age.value) prescription.patient_age = Number(age.value);
      if (sex.value) prescription.sex = sex.value;
      if (weight.value) prescription.weight_kg = Number(weight.value);
      if (deadline.value) prescription.deadline = deadline.value;
      if (address.value) prescription.delivery_address = address.value;
      const key = await patientKey(secret.value, patientId.value);
      const order = await post("/api/orders", { prescription, patient_key: key });
      const uids = new UidMap();
      const removedAll = new Map<string, Removed & { files: number }>();
      const total = files.reduce((s, f) => s + f.size, 0);
      let done = 0;
      let refused = 0;
      for (const [i, file] of files.entries()) {
        status.textContent = `De-identifying and uploading ${i + 1} / ${files.length}: ${file.name}`;
        let result;
        try {
          result = deidentify(await file.arrayBuffer(), uids);
        } catch {
          refused++;
          done += file.size;
          continue;
        }
        for (const r of result.removed) {
          const k = `${r.tag}${r.action}`;
          const prev = removedAll.get(k);
          removedAll.set(k, { ...r, files: (prev?.files ?? 0) + 1 });
        }
        const sha = await sha256Hex(result.bytes);
        const before = done;
        await uploadFile(order.id, file.name, result.bytes, sha, result.sopInstanceUid, (sent) => {
          progress.value = (before + (sent / result.bytes.byteLength) * file.size) / total;
        });
        done += file.size;
        progress.value = done / total;
      }
      removedTable.replaceChildren(
        h("h2", {}, "Removed before upload"),
        h("table", { class: "removed" }, h("thead", {}, h("tr", {}, h("th", {}, "Tag"), h("th", {}, "Attribute"), h("th", {}, "Action"), h("th", {}, "Files"))),
          h("tbody", {}, ...[...removedAll.values()].map((r) => h("tr", {}, h("td", {}, r.tag), h("td", {}, r.keyword), h("td", {}, r.action), h("td", {}, String(r.files)))))),
      );
      hooks.removed = [...removedAll.values()].map((r) => r.keyword);
      status.textContent = `${files.length - refused} files uploaded${refused ? `, ${refused} not DICOM (skipped)` : ""}.`;
      await post(`/api/orders/${order.id}/actions/submit`, {});
      flash("Order submitted for processing.");
      const go = h("a", { href: `#/orders/${order.id}`, class: "button" }, "Follow the order");
      status.append(" ", go);
    } catch (err) {
      flash(message(err), "error");
      status.textContent = message(err);
    } finally {
      submit.disabled = false;
    }
  });
  layout("New order", form);
  refreshQuote();
}

// ---------- order page ----------

let events: EventSource | null = null;

async function orderPage(id: string) {
  events?.close();
  const d = await get(`/api/orders/${id}`);
  const o = d.order;
  const job = d.jobs[d.jobs.length - 1];
  const bar = h("progress", { max: "1000", value: String(job?.progress_permille ?? 0) });
  const stage = h("span", { class: "muted" }, job ? `${job.stage || job.state}` : "");
  const progressBox = h("div", { class: "card" }, h("h2", {}, "Processing"), bar, " ", stage);
  if (["uploaded", "processing"].includes(o.state)) {
    events = new EventSource(`/api/orders/${id}/events`);
    events.addEventListener("progress", (ev) => {
      const s = JSON.parse((ev as MessageEvent).data);
      if (s.job) {
        bar.value = Math.round(s.job.progress * 1000);
        const eta = s.job.eta_ms >= 0 ? `, about ${Math.ceil(s.job.eta_ms / 1000)} s left` : "";
        stage.textContent = `${s.job.state}: ${s.job.stage || ""}${eta}${s.job.error ? ` — ${s.job.error}` : ""}`;
      }
      if (s.state !== o.state) {
        events?.close();
        orderPage(id);
      }
    });
  }
  const version = d.versions.find((v: any) => v.version === o.current_version);
  const warnings: string[] = version?.summary?.warnings ?? [];
  const actions = h("div", { class: "actions" });
  const comment = h("input", { placeholder: "comment (optional)", name: "comment" });
  for (const a of d.actions as string[]) {
    if (a === "record_qc") continue;
    actions.append(
      h("button", { "data-action": a, class: a === "cancel_order" || a === "decline" ? "secondary" : "", onclick: () => doAction(id, a, { comment: comment.value }) }, ACTION_WORDS[a] ?? a),
    );
  }
  const gates = h("ul", { class: "gates" },
    ...["model_approved", "segmentation_verified", "spend_approved", "print_plan_approved"].map((g) => {
      const passed = d.gates.find((x: any) => x.gate === g);
      return h("li", { class: passed ? "passed" : "" }, `${g.replace(/_/g, " ")}: ${passed ? `${passed.role.replace(/_/g, " ")} · ${fmtTime(passed.at_ms)}` : "waiting"}`);
    }),
  );
  const presc = o.prescription ?? {};
  const info = h("div", { class: "card" },
    h("p", {}, h("strong", {}, STATE_WORDS[o.state] ?? o.state), ` · version ${o.current_version} · created ${fmtTime(o.created_ms)}`),
    h("p", {}, `Anatomy: ${(presc.anatomy ?? []).join(", ") || "—"} · ${presc.scan_type ?? ""} · bone ${presc.bone_type ?? "—"} · needed by ${presc.deadline ?? "—"}`),
    presc.notes ? h("p", { class: "muted" }, presc.notes) : null,
    h("p", {}, `Files: ${d.files.stored} stored, ${d.files.rejected} refused`),
    warnings.length ? h("div", { class: "warnings" }, h("h3", {}, "Findings about the scan"), h("ul", {}, ...warnings.map((w) => h("li", {}, w)))) : null,
    h("h3", {}, "Quality gates before printing"), gates,
    d.actions.length ? h("div", {}, comment, actions) : null,
    h("p", {}, h("a", { href: `#/orders/${id}/audit` }, "Audit trail")),
  );
  const versions = h("div", { class: "card" }, h("h2", {}, "Versions"),
    ...d.versions.map((v: any) =>
      h("details", { open: v.version === o.current_version },
        h("summary", {}, `Version ${v.version} · ${fmtTime(v.created_ms)}`),
        h("p", {}, ...["model.stl", "model.3mf", "model.glb", "labels.nii.gz", "report.json"].filter((n) => v.files.includes(n)).flatMap((n) => [h("a", { href: `/api/orders/${id}/versions/${v.version}/files/${n}`, download: n }, n), " "])),
      ),
    ),
  );
  const content: Node[] = [info];
  if (["uploaded", "processing"].includes(o.state) || job?.state === "failed") content.push(progressBox);
  if (me?.user.role === "clinical_director" && o.state === "sign_off") content.push(await signOffPanel(id, d));
  if (d.actions.includes("record_qc")) content.push(qcPanel(id));
  if (d.actions.includes("start_printing")) content.push(printerPanel(id));
  if (version) content.push(await reviewPanel(id, d, version));
  content.push(versions);
  layout(`Order ${id.slice(0, 8)}`, ...content);
}

async function doAction(id: string, action: string, body: Record<string, unknown>) {
  try {
    await post(`/api/orders/${id}/actions/${action}`, body);
    flash(`${ACTION_WORDS[action] ?? action}: done.`);
    orderPage(id);
  } catch (e) {
    flash(message(e), "error");
  }
}

async function signOffPanel(id: string, d: any) {
  const q = await get(`/api/orders/${id}/quote`).catch(() => null);
  const approvals = d.gates.filter((g: any) => g.gate === "model_approved" || g.gate === "segmentation_verified");
  return h("div", { class: "card", id: "signoff" },
    h("h2", {}, "Sign-off"),
    q ? h("p", {}, `Cost: €${q.price_eur.toFixed(2)} (${q.material.name}, ${Math.round(q.volume_cm3)} cm³ measured on the model), ready ${q.ready_date}${q.meets_deadline ? "" : " — misses the deadline"}`) : h("p", {}, "Quote unavailable."),
    h("ul", {}, ...q ? q.breakdown.map((b: [string, number]) => h("li", {}, `${b[0]}: €${b[1].toFixed(2)}`)) : []),
    h("p", {}, `Deadline: ${d.order.prescription?.deadline ?? "—"}`),
    h("p", {}, "Model approved by: ", approvals.map((g: any) => `${g.role.replace(/_/g, " ")} (${fmtTime(g.at_ms)})`).join(", ") || "—"),
  );
}

const PRINTERS = ["Formlabs Form 4 (resin)", "Prusa MK4 #1 (PLA/PETG)", "Prusa MK4 #2 (PLA/PETG)", "EOS P110 (PA12)"];

function printerPanel(id: string) {
  const printer = h("select", { name: "printer" }, ...PRINTERS.map((p) => h("option", { value: p }, p)));
  return h("div", { class: "card" }, h("h2", {}, "Printer"), printer,
    h("button", { onclick: () => doAction(id, "start_printing", { data: { printer: printer.value } }) }, "Assign and start printing"));
}

function qcPanel(id: string) {
  const rows = h("tbody", {});
  const addRow = () =>
    rows.append(h("tr", {}, h("td", {}, h("input", { name: "feature", placeholder: "e.g. pelvic width" })), h("td", {}, h("input", { name: "model_mm", type: "number", step: "0.01" })), h("td", {}, h("input", { name: "measured_mm", type: "number", step: "0.01" }))));
  addRow();
  const tolerance = h("input", { type: "number", step: "0.1", value: "0.5", name: "tolerance" });
  const record = async () => {
    const measurements = [...rows.querySelectorAll("tr")].map((tr) => {
      const v = (n: string) => (tr.querySelector(`[name=${n}]`) as HTMLInputElement).value;
      return { feature: v("feature"), model_mm: Number(v("model_mm")), measured_mm: Number(v("measured_mm")) };
    }).filter((m) => m.feature);
    await doAction(id, "record_qc", { measurements, tolerance_mm: Number(tolerance.value) });
  };
  return h("div", { class: "card", id: "qc" }, h("h2", {}, "Quality control"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Dimension"), h("th", {}, "Model (mm)"), h("th", {}, "Measured (mm)"))), rows),
    h("button", { class: "secondary", onclick: addRow }, "Add dimension"), h("label", {}, "Tolerance (mm)", tolerance),
    h("button", { onclick: record, "data-action": "record_qc" }, "Record QC"));
}

// ---------- review ----------

async function reviewPanel(id: string, d: any, version: any) {
  const base = `/api/orders/${id}/versions/${version.version}/files`;
  const view3d = h("div", { class: "view3d" });
  const sliceHost = h("div", { class: "slicehost" });
  const partsList = h("div", { class: "parts" });
  const readout = h("span", { class: "readout" }, "");
  const mode = h("select", { name: "mode" }, h("option", { value: "orbit" }, "Orbit (double-click: move slices)"), h("option", { value: "measure" }, "Ruler (mm)"), h("option", { value: "draw" }, "Draw on surface"));
  const clip = h("input", { type: "range", min: "0", max: "1", step: "0.01", value: "1", name: "clip" });
  const note = h("input", { placeholder: "note for this annotation", name: "note" });
  const axis = h("select", { name: "axis" }, h("option", { value: "axial" }, "axial"), h("option", { value: "coronal" }, "coronal"), h("option", { value: "sagittal" }, "sagittal"));
  const preset = h("select", { name: "preset" }, ...Object.keys(PRESETS).map((p) => h("option", { value: p }, p)));
  const slider = h("input", { type: "range", min: "0", max: "0", step: "1", name: "slice" });
  const overlay = h("input", { type: "checkbox", checked: true, name: "overlay" });
  const drawSlices = h("input", { type: "checkbox", name: "drawslices" });
  const notes = h("ul", { class: "notes" }, ...d.annotations.map((a: any) => h("li", {}, `${a.text} (v${a.version}, ${fmtTime(a.created_ms)})`)));
  const material = h("select", { name: "print_material" });
  get("/api/materials").then((ms: any[]) => ms.forEach((m) => material.append(h("option", { value: m.name }, m.name)))).catch(() => undefined);
  const panel = h("div", { class: "card review" },
    h("h2", {}, `Review · version ${version.version}`),
    h("div", { class: "toolbar" }, mode, h("label", {}, "Clip", clip), readout),
    h("div", { class: "split" },
      h("div", {}, view3d, partsList),
      h("div", {}, h("div", { class: "toolbar" }, axis, preset, h("label", {}, overlay, "labels"), h("label", {}, drawSlices, "draw")), slider, sliceHost),
    ),
    h("div", { class: "toolbar" }, note, h("label", {}, "Print in", material)),
    h("h3", {}, "Annotations"), notes,
  );
  const pending: { position: any }[] = [];
  const saveAnnotation = async (position: any) => {
    try {
      const text = note.value || (position.kind === "surface" ? "mark on the model" : `mark on ${position.axis} slice ${position.index}`);
      const a = await post(`/api/orders/${id}/annotations`, { text, position });
      notes.append(h("li", {}, `${a.text} (v${a.version}, ${fmtTime(a.created_ms)})`));
      hooks.annotations = ((hooks.annotations as number) ?? 0) + 1;
      note.value = "";
    } catch (e) {
      pending.push({ position });
      flash(message(e), "error");
    }
  };
  // 3D.
  const viewer = new Viewer3D(view3d);
  hooks.viewer = viewer;
  viewer.load(`${base}/model-web.glb`).then(() => {
    hooks.triangles = viewer.triangles;
    viewer.parts.forEach((p, i) => {
      const show = h("input", { type: "checkbox", checked: true, onchange: (e: Event) => viewer.setPartVisible(i, (e.target as HTMLInputElement).checked) });
      const colour = h("input", { type: "color", value: `#${(p.mesh.material as any).color.getHexString()}`, oninput: (e: Event) => viewer.setPartColour(i, (e.target as HTMLInputElement).value) });
      const finish = h("select", { onchange: (e: Event) => viewer.setPartFinish(i, (e.target as HTMLSelectElement).value) }, h("option", {}, "matte"), h("option", {}, "glossy"), h("option", {}, "translucent"));
      const printIt = h("input", { type: "checkbox", checked: true, class: "print-part", "data-part": p.name });
      partsList.append(h("div", { class: "part" }, show, " ", p.name, " ", colour, finish, h("label", {}, printIt, "print")));
    });
    for (const a of d.annotations) if (a.position?.kind === "surface") viewer.showStroke(JSON.parse(JSON.stringify(a.position.points_mm)));
  }).catch((e) => flash(`3D model: ${message(e)}`, "error"));
  mode.addEventListener("change", () => (viewer.mode = mode.value as any));
  clip.addEventListener("input", () => viewer.setClip(Number(clip.value)));
  viewer.onMeasure = (mm) => (readout.textContent = `distance ${mm.toFixed(1)} mm`);
  viewer.onStroke = (points) => saveAnnotation({ kind: "surface", points_mm: points });
  // Slices.
  Promise.all([
    version.files.includes("scan.nii.gz") ? fetchBytes(`${base}/scan.nii.gz`).then(readNifti).catch(() => null) : Promise.resolve(null),
    fetchBytes(`${base}/labels.nii.gz`).then(readNifti),
  ]).then(([scan, labels]: [Volume | null, Volume]) => {
    const sv = new SliceView(sliceHost, scan, labels);
    hooks.slices = sv;
    const sync = () => {
      slider.max = String(sv.sliceCount() - 1);
      slider.value = String(sv.sliceIndex());
      hooks.overlayPixels = sv.overlayPixels;
    };
    // Start on the slice with the most segmentation.
    let best = 0, bestCount = -1;
    const [nx, ny, nz] = labels.dims;
    for (let k = 0; k < nz; k++) {
      let c = 0;
      for (let i = k * nx * ny; i < (k + 1) * nx * ny; i++) if (labels.data[i]) c++;
      if (c > bestCount) { bestCount = c; best = k; }
    }
    sv.setSlice(best);
    sync();
    axis.addEventListener("change", () => { sv.axis = axis.value as Axis; sv.render(); sync(); });
    preset.addEventListener("change", () => { sv.window = PRESETS[preset.value]; sv.render(); });
    slider.addEventListener("input", () => { sv.setSlice(Number(slider.value)); sync(); });
    overlay.addEventListener("change", () => { sv.overlay = overlay.checked; sv.render(); sync(); });
    drawSlices.addEventListener("change", () => (sv.drawing = drawSlices.checked));
    sv.onPick = (lps) => viewer.showCursor(lps);
    viewer.onPick = (lps) => { sv.moveTo(lps); sync(); viewer.showCursor(lps); };
    sv.onStroke = (ax, index, points) => saveAnnotation({ kind: "slice", axis: ax, index, points_vox: points });
    for (const a of d.annotations) if (a.position?.kind === "slice") sv.showStroke(a.position.axis, a.position.index, a.position.points_vox);
  }).catch((e) => flash(`slices: ${message(e)}`, "error"));
  // The approval carries the parts and material chosen for printing.
  for (const act of ["approve_model", "verify_segmentation", "request_changes"]) {
    if (!d.actions.includes(act)) continue;
    const b = h("button", { "data-review": act, class: act === "request_changes" ? "secondary" : "", onclick: () => {
      const parts = [...panel.querySelectorAll<HTMLInputElement>(".print-part")].filter((c) => c.checked).map((c) => c.dataset.part);
      const body: Record<string, unknown> = { comment: note.value, data: { parts, material: material.value } };
      if (act === "request_changes") body.params = { ...(version.params ?? {}) };
      doAction(id, act, body);
    } }, ACTION_WORDS[act]);
    panel.append(b, " ");
  }
  return panel;
}

// ---------- print desk, audit, administration ----------

async function printDesk() {
  const orders: any[] = await get("/api/orders");
  const queue = orders.filter((o) => ["print_preparation", "printing", "quality_control"].includes(o.state));
  layout("Print desk",
    queue.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ...["Order", "Anatomy", "State", "Material", "Needed by"].map((t) => h("th", {}, t)))),
          h("tbody", {}, ...queue.map((o) => h("tr", {},
            h("td", {}, h("a", { href: `#/orders/${o.id}` }, o.id.slice(0, 8))),
            h("td", {}, (o.prescription?.anatomy ?? []).join(", ")),
            h("td", {}, STATE_WORDS[o.state] ?? o.state),
            h("td", {}, (o.prescription?.material_preferences ?? []).join(", ")),
            h("td", {}, o.prescription?.deadline ?? "")))))
      : h("p", { class: "muted" }, "The print queue is empty."));
}

async function auditPage(id: string) {
  const a = await get(`/api/orders/${id}/audit`);
  layout("Audit trail",
    h("p", { class: a.intact ? "ok" : "error" }, a.intact ? `Chain intact: ${a.entries.length} entries, head ${a.head_hash.slice(0, 16)}…` : `CHAIN BROKEN: ${a.problem}`),
    h("table", {}, h("thead", {}, h("tr", {}, ...["#", "When", "Who", "Action", "Details", "Hash"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...a.entries.map((e: any) => h("tr", {}, h("td", {}, String(e.seq)), h("td", {}, fmtTime(e.at_ms)), h("td", {}, e.actor.slice(0, 13)), h("td", {}, e.action), h("td", { class: "details" }, e.details), h("td", { class: "hash" }, e.hash.slice(0, 12)))))),
    h("p", {}, h("a", { href: `#/orders/${id}` }, "Back to the order")),
  );
}

async function adminPage() {
  const role = me?.user.role;
  const content: Node[] = [];
  if (role === "system_admin") {
    const orgs: any[] = await get("/api/orgs");
    const name = h("input", { name: "org_name", placeholder: "organisation name" });
    content.push(h("h2", {}, "Organisations"), h("ul", {}, ...orgs.map((o) => h("li", {}, `${o.name} (${o.id.slice(0, 8)})`))),
      h("div", { class: "toolbar" }, name, h("button", { onclick: async () => { try { await post("/api/orgs", { name: name.value }); adminPage(); } catch (e) { flash(message(e), "error"); } } }, "Create organisation")));
  }
  const users: any[] = await get("/api/users");
  const email = h("input", { name: "user_email", type: "email", placeholder: "e-mail" });
  const uname = h("input", { name: "user_name", placeholder: "name" });
  const urole = h("select", { name: "user_role" }, ...(role === "system_admin" ? ["org_admin", "system_admin"] : ["surgeon", "radiologist", "clinical_director", "biomedical_engineer", "print_technician", "org_admin"]).map((r) => h("option", { value: r }, r.replace(/_/g, " "))));
  const pw = h("input", { name: "user_password", type: "password", placeholder: "initial password (12+ characters)" });
  content.push(h("h2", {}, "Users"), h("table", {}, h("tbody", {}, ...users.map((u) => h("tr", {}, h("td", {}, u.name), h("td", {}, u.email), h("td", {}, u.role.replace(/_/g, " ")))))),
    h("div", { class: "toolbar" }, email, uname, urole, pw, h("button", { onclick: async () => { try { await post("/api/users", { email: email.value, name: uname.value, role: urole.value, password: pw.value }); flash("User created."); adminPage(); } catch (e) { flash(message(e), "error"); } } }, "Create user")));
  layout("Administration", ...content);
}

route();
