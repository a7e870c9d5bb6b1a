import { api, materials, quote, materialName, type Prescription, type Order } from "../api";
import { h, replace, field, card, toast, errorText, fmtEur } from "../ui";
import { loadOrgSecret, saveOrgSecret, newSecret, normaliseIdentity, patientKey } from "../patientkey";
import { scanPanel, uploadBox, tally } from "../scanpanel";
import type { Ctx } from "../main";

export const ANATOMY_SUGGESTIONS = ["pelvis", "hip", "femur", "tibia", "knee", "spine", "vertebra", "rib", "skull", "mandible", "humerus", "scapula", "hand", "foot"];

function isoDate(d: Date) {
  return d.toISOString().slice(0, 10);
}

export async function newOrderPage(ctx: Ctx) {
  const { me, main } = ctx;
  if (!me.permissions.includes("create_order")) {
    replace(main, card("New order", h("p", null, "Only surgeons and radiologists place orders.")));
    return;
  }
  const orgId = me.org?.id ?? me.user.org_id;

  // 1. Patient identity → keyed hash (never sent).
  const secret = h("input", { type: "password", autocomplete: "off", value: loadOrgSecret(orgId), "data-testid": "org-secret" });
  const identity = h("input", { type: "text", autocomplete: "off", placeholder: "e.g. hospital number", "data-testid": "patient-id" });
  const birth = h("input", { type: "date", "data-testid": "patient-birth" });
  const keyOut = h("code", { class: "key", "data-testid": "patient-key" }, "–");
  let key: string | null = null;
  const updateKey = async () => {
    const s = secret.value.trim();
    saveOrgSecret(orgId, s);
    const id = identity.value.trim();
    const k = s && id ? await patientKey(s, normaliseIdentity([id, birth.value])) : null;
    if (k !== key) {
      if (scans.results().length) {
        scans.reset();
        toast("The patient changed: choose the scan again.", "info");
      }
      key = k;
    }
    keyOut.textContent = key ? `${key.slice(0, 16)}…` : "–";
    refresh();
  };
  for (const el of [secret, identity, birth]) el.addEventListener("input", () => void updateKey());
  const genSecret = h("button", {
    type: "button",
    class: "small",
    onclick: () => {
      if (secret.value && !confirm("Replace the organisation key? Patients keyed with the old one will not match new orders.")) return;
      secret.value = newSecret();
      void updateKey();
    },
  }, "Generate");
  const patientCard = card(
    "1 · Patient",
    h("p", { class: "muted" }, "The identity stays in this browser. Only a keyed hash (HMAC-SHA-256 with your organisation key) is sent, so orders of the same patient can be linked without naming them."),
    h("div", { class: "grid2" },
      field("Patient identifier", identity),
      field("Date of birth", birth, "optional, makes the key more specific"),
    ),
    h("details", { class: "secret", open: !secret.value },
      h("summary", null, "Organisation key (kept in this browser)"),
      h("div", { class: "row" }, field("Key", secret, "The same key must be used on every workstation of your organisation."), genSecret),
    ),
    h("p", { class: "small" }, "Patient key: ", keyOut),
  );

  // 2. Scan
  const scans = scanPanel({ salt: () => key, onChange: () => refresh() });
  const scanCard = card("2 · Scan", scans.el);

  // 3. Prescription
  const anatomy = h("input", { type: "text", list: "anatomy-list", placeholder: "pelvis, femur", "data-testid": "anatomy" });
  const anatomyList = h("datalist", { id: "anatomy-list" }, ANATOMY_SUGGESTIONS.map((a) => h("option", { value: a })));
  const scanType = h("select", { "data-testid": "scan-type" }, h("option", { value: "ct" }, "CT"), h("option", { value: "mr" }, "MRI"));
  const boneType = h("select", null, h("option", { value: "hard" }, "Hard bone"), h("option", { value: "soft" }, "Soft / low-density bone"));
  const age = h("input", { type: "number", min: "0", max: "130", step: "1", inputmode: "numeric" });
  const sex = h("select", null, h("option", { value: "unknown" }, "Not given"), h("option", { value: "female" }, "Female"), h("option", { value: "male" }, "Male"));
  const weight = h("input", { type: "number", min: "0.5", max: "500", step: "0.1", inputmode: "decimal" });
  const deadline = h("input", { type: "date", value: isoDate(new Date(Date.now() + 14 * 86400000)), min: isoDate(new Date()), "data-testid": "deadline" });
  const address = h("textarea", { rows: 2, placeholder: "Theatre, ward or department" });
  const material = h("select", { "data-testid": "material" });
  const notes = h("textarea", { rows: 3, placeholder: "What the model is for, what matters most" });
  for (const m of await materials()) material.appendChild(h("option", { value: m }, m));
  const quoteBox = h("div", { class: "quote", "aria-live": "polite" }, "–");
  let quoteSeq = 0;
  const updateQuote = async () => {
    const seq = ++quoteSeq;
    const q = await quote({ anatomy: anatomyValues(), material: material.value, deadline: deadline.value });
    if (seq !== quoteSeq) return;
    if (!q) replace(quoteBox, h("span", { class: "muted" }, "Quote unavailable"));
    else
      replace(
        quoteBox,
        h("strong", { class: "price" }, fmtEur(q.price_eur)),
        h("span", null, ` · ${materialName(q)} · ready ${q.ready_date}`),
        q.volume_cm3 ? h("span", { class: "muted" }, ` · ~${Math.round(q.volume_cm3)} cm³ ${q.measured ? "measured" : "typical for the anatomy"}`) : null,
      );
  };
  const anatomyValues = () => anatomy.value.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
  for (const el of [anatomy, material, deadline]) el.addEventListener("change", () => void updateQuote());
  anatomy.addEventListener("input", () => void updateQuote());
  void updateQuote();

  const prescriptionCard = card(
    "3 · Prescription",
    h("div", { class: "grid2" },
      field("Anatomy", anatomy, "comma separated"),
      field("Scan type", scanType),
      field("Bone", boneType),
      field("Needed by", deadline),
      field("Patient age (years)", age),
      field("Sex", sex),
      field("Weight (kg)", weight),
      field("Material", material),
    ),
    anatomyList,
    field("Delivery address", address),
    field("Notes for the team", notes),
    h("div", { class: "quote-row" }, h("span", { class: "muted" }, "Quote: "), quoteBox),
  );

  // 4. Send
  const upload = uploadBox();
  let order: Order | null = null;
  let uploaded = false;
  const sendBtn = h("button", { type: "button", class: "primary", "data-testid": "create-upload" }, "Create order and upload");
  const submitBtn = h("button", { type: "button", class: "primary", disabled: true, "data-testid": "submit-order" }, "Submit for processing");
  const printReady = h("input", { type: "checkbox", checked: true });
  const sendHint = h("p", { class: "muted small" });
  function refresh() {
    const n = scans.results().length;
    const t = tally(scans.chosen());
    // Submitting waits until every chosen file is stored or refused with its reason.
    uploaded = uploaded && t.pending === 0 && t.stored > 0;
    const ready = !!key && n > 0;
    sendBtn.disabled = !ready || uploaded;
    sendBtn.textContent = order ? "Upload (resume)" : "Create order and upload";
    sendHint.textContent = !key
      ? "Enter the patient identity and organisation key."
      : !n
        ? "Choose the scan."
        : uploaded
          ? `Uploaded: ${t.stored} of ${t.total} files stored${t.refused ? `, ${t.refused} refused` : ""}.`
          : `${n} file${n === 1 ? "" : "s"} will be sent.`;
    submitBtn.disabled = !uploaded;
  }
  const prescription = (): Prescription => ({
    anatomy: anatomyValues(),
    scan_type: scanType.value as "ct" | "mr",
    bone_type: boneType.value as "hard" | "soft",
    patient_age: age.value ? Number(age.value) : null,
    sex: sex.value as "female" | "male" | "unknown",
    weight_kg: weight.value ? Number(weight.value) : null,
    deadline: deadline.value || null,
    delivery_address: address.value.trim() || null,
    material_preferences: material.value ? [material.value] : [],
    notes: notes.value.trim(),
  });
  sendBtn.addEventListener("click", async () => {
    if (!key) return;
    sendBtn.disabled = true;
    try {
      if (!order) order = await api.createOrder(prescription(), key);
      uploaded = await upload.run(order.id, scans);
      if (uploaded) toast("Scan uploaded.", "ok");
    } catch (e) {
      toast(errorText(e), "error", 8000);
    } finally {
      refresh();
    }
  });
  submitBtn.addEventListener("click", async () => {
    if (!order) return;
    submitBtn.disabled = true;
    try {
      await api.action(order.id, "submit", printReady.checked ? {} : { params: { print_ready: false, bone: boneType.value } });
      toast("Submitted: processing starts now.", "ok");
      ctx.go(`#/orders/${order.id}`);
    } catch (e) {
      toast(errorText(e), "error", 8000);
      submitBtn.disabled = false;
    }
  });
  const sendCard = card(
    "4 · Send",
    sendHint,
    h("div", { class: "row" }, sendBtn),
    upload.el,
    h("label", { class: "check" }, printReady, " Prepare for printing (pieces, dowels, tag)"),
    h("div", { class: "row" }, submitBtn),
  );
  refresh();
  replace(main, h("div", { class: "page-head" }, h("h1", null, "New order")), h("div", { class: "new-order" }, patientCard, scanCard, prescriptionCard, sendCard));
  identity.focus();
}
