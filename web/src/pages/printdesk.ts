import { api, fileUrl, actionWithData, type Order, type OrderDetail } from "../api";
import { h, replace, shortId, actionButton, toast, parseJson, fmtDate } from "../ui";
import { stateBadge } from "./dashboard";
import { loadReport } from "../findings";
import { describeOrder, GATE_LABEL } from "../workflow";
import type { Ctx } from "../main";

export const PRINTERS = [
  "Prusa MK4 #1 (FDM, PLA/PETG)",
  "Prusa MK4 #2 (FDM, PLA/PETG)",
  "Formlabs Form 4 (SLA, resin)",
  "EOS P110 (SLS, PA12)",
];

const QUEUE_STATES = ["print_preparation", "printing", "quality_control"];

function chosenMaterial(d: OrderDetail): string {
  const g = d.gates.filter((x) => x.gate === "model_approved").pop();
  const data = parseJson(g?.data) ?? {};
  return data.material ?? /material: ([^;\n]+)/i.exec(g?.comment ?? "")?.[1]?.trim() ?? d.order.prescription?.material_preferences?.[0] ?? "–";
}

function chosenParts(d: OrderDetail): string {
  const g = d.gates.filter((x) => x.gate === "model_approved").pop();
  const data = parseJson(g?.data) ?? {};
  if (Array.isArray(data.parts)) return data.parts.join(", ");
  return /Parts to print: ([^;\n]+)/.exec(g?.comment ?? "")?.[1] ?? "all";
}

/** The printer the server recorded when printing last started. */
function printerOf(d: OrderDetail): string | null {
  const printer = d.printing?.printer;
  return typeof printer === "string" ? printer : null;
}

async function qcForm(d: OrderDetail, refresh: () => Promise<void>): Promise<HTMLElement> {
  const version = d.order.current_version;
  const report = await loadReport(d.order.id, version);
  const rows = h("tbody");
  const addRow = (feature = "", model = "", measured = "") => {
    const f = h("input", { type: "text", value: feature, placeholder: "e.g. width", "aria-label": "Feature" });
    const m = h("input", { type: "number", step: "0.01", min: "0", value: model, class: "narrow", "aria-label": "Model (mm)" });
    const x = h("input", { type: "number", step: "0.01", min: "0", value: measured, class: "narrow", "aria-label": "Measured (mm)", "data-testid": "qc-measured" });
    const dev = h("td", { class: "num dev" });
    const upd = () => {
      const dv = Number(x.value) - Number(m.value);
      dev.textContent = x.value && m.value ? `${dv >= 0 ? "+" : ""}${dv.toFixed(2)}` : "";
      dev.classList.toggle("bad", Math.abs(dv) > Number(tol.value || 0.5));
    };
    m.addEventListener("input", upd);
    x.addEventListener("input", upd);
    const rm = h("button", { type: "button", class: "link small", onclick: () => tr.remove() }, "remove");
    const tr = h("tr", null, h("td", null, f), h("td", null, m), h("td", null, x), dev, h("td", null, rm));
    rows.appendChild(tr);
    upd();
  };
  const tol = h("input", { type: "number", step: "0.1", min: "0.1", max: "10", value: "0.5", class: "narrow", "aria-label": "Tolerance (mm)" });
  const b = report?.model?.bounds_mm;
  if (b) {
    const [lo, hi] = b;
    addRow("overall width (left–right)", (hi[0] - lo[0]).toFixed(2));
    addRow("overall depth (front–back)", (hi[1] - lo[1]).toFixed(2));
    addRow("overall height (head–feet)", (hi[2] - lo[2]).toFixed(2));
  } else addRow();
  const last = d.gates.filter((g) => g.gate === "quality_control").pop();
  const lastData = parseJson(last?.data);
  return h(
    "div",
    { class: "qc" },
    lastData && lastData.passed === false ? h("p", { class: "warning" }, `Last QC failed (worst deviation ${Number(lastData.worst_deviation_mm).toFixed(2)} mm): reprinted?`) : null,
    h("table", { class: "compact qc-table" }, h("thead", null, h("tr", null, h("th", null, "Feature"), h("th", null, "Model mm"), h("th", null, "Measured mm"), h("th", null, "Δ"), h("th", null, ""))), rows),
    h("div", { class: "row" }, h("button", { type: "button", class: "small", onclick: () => addRow() }, "Add measurement"), h("label", { class: "inline" }, "Tolerance mm ", tol)),
    actionButton("Record QC", async () => {
      const measurements = [...rows.querySelectorAll("tr")].map((tr) => {
        const [f, m, x] = [...tr.querySelectorAll("input")] as HTMLInputElement[];
        return { feature: f.value.trim() || "dimension", model_mm: Number(m.value), measured_mm: Number(x.value) };
      }).filter((r) => r.model_mm > 0 && r.measured_mm > 0);
      if (!measurements.length) throw new Error("Enter at least one measured dimension.");
      await api.action(d.order.id, "record_qc", { measurements, tolerance_mm: Number(tol.value) || 0.5 });
      const after = await api.order(d.order.id);
      const g = parseJson(after.gates.filter((x) => x.gate === "quality_control").pop()?.data);
      toast(g?.passed ? "QC passed." : "QC failed: the order goes back to printing.", g?.passed ? "ok" : "error");
      await refresh();
    }, { class: "primary", "data-action": "record_qc" }),
  );
}

export async function printDeskPage(ctx: Ctx) {
  const { main, me } = ctx;
  const host = h("div", { class: "print-queue" });
  const refresh = async () => {
    const orders: Order[] = (await api.orders()).filter((o) => QUEUE_STATES.includes(o.state));
    const details = await Promise.all(orders.map((o) => api.order(o.id)));
    const cards = await Promise.all(details.map((d) => orderCard(d)));
    replace(host, cards.length ? cards : h("p", { class: "muted" }, "The print queue is empty."));
  };
  const orderCard = async (d: OrderDetail): Promise<HTMLElement> => {
    const o = d.order;
    const body: Array<HTMLElement | null> = [];
    const comment = h("input", { type: "text", placeholder: "Comment", class: "grow" });
    if (o.state === "print_preparation") {
      if (d.actions.includes("approve_print_plan") && !d.gates.some((g) => g.gate === "print_plan_approved")) {
        body.push(h("div", { class: "row" }, comment, actionButton("Approve print plan", async () => {
          await api.action(o.id, "approve_print_plan", { comment: comment.value.trim() });
          toast("Print plan approved.", "ok");
          await refresh();
        }, { class: "primary", "data-action": "approve_print_plan" })));
      }
      if (d.missing_gates.length) body.push(h("p", { class: "muted small" }, `Waiting for: ${d.missing_gates.map((g) => GATE_LABEL[g] ?? g).join(", ")}`));
      if (d.actions.includes("start_printing")) {
        const printer = h("select", { "aria-label": "Printer", "data-testid": "printer" }, PRINTERS.map((p) => h("option", { value: p }, p)));
        const mat = chosenMaterial(d).toLowerCase();
        const match = PRINTERS.find((p) => p.toLowerCase().includes(mat === "pa12" ? "pa12" : mat.includes("resin") ? "resin" : "pla"));
        if (match) printer.value = match;
        const start = actionButton("Start printing", async () => {
          await actionWithData(o.id, "start_printing", { comment: `Printer: ${printer.value}${comment.value.trim() ? ` — ${comment.value.trim()}` : ""}` }, { printer: printer.value });
          toast(`Printing on ${printer.value}.`, "ok");
          await refresh();
        }, { class: "primary", "data-action": "start_printing", disabled: d.missing_gates.length > 0 });
        body.push(h("div", { class: "row" }, h("label", { class: "inline" }, "Printer ", printer), start));
      }
    }
    if (o.state === "printing" && d.actions.includes("finish_printing")) {
      body.push(h("div", { class: "row" }, comment, actionButton("Finish printing", async () => {
        await api.action(o.id, "finish_printing", { comment: comment.value.trim() });
        toast("Printed: measure it for quality control.", "ok");
        await refresh();
      }, { class: "primary", "data-action": "finish_printing" })));
    }
    if (o.state === "quality_control") {
      const passed = d.gates.some((g) => g.gate === "quality_control" && parseJson(g.data)?.passed === true);
      if (d.actions.includes("record_qc") && !passed) body.push(await qcForm(d, refresh));
      if (d.actions.includes("ship") && passed) {
        const tracking = h("input", { type: "text", placeholder: "Courier and tracking number", class: "grow", "data-testid": "tracking" });
        body.push(h("p", { class: "ok-text" }, "QC passed."), h("div", { class: "row" }, tracking, actionButton("Ship", async () => {
          await api.action(o.id, "ship", { comment: tracking.value.trim() ? `Shipped: ${tracking.value.trim()}` : "Shipped" });
          toast("Shipped.", "ok");
          await refresh();
        }, { class: "primary", "data-action": "ship" })));
      }
    }
    const printer = o.state === "print_preparation" ? null : printerOf(d);
    return h(
      "article",
      { class: "card queue-item", dataset: { order: o.id, state: o.state } },
      h("div", { class: "page-head" }, h("h2", null, h("a", { href: `#/orders/${o.id}` }, `Order ${shortId(o.id)}`), " ", stateBadge(o.state)), o.prescription?.deadline ? h("span", { class: "muted" }, `needed by ${o.prescription.deadline}`) : null),
      h("p", null, `${describeOrder(o)} · material ${chosenMaterial(d)} · parts: ${chosenParts(d)}${printer ? ` · printer ${printer}` : ""}`),
      h("div", { class: "downloads" },
        d.versions.find((v) => v.version === o.current_version)?.files.includes("print/print.3mf")
          ? h("a", { class: "button small", href: fileUrl(o.id, o.current_version, "print/print.3mf"), download: "print.3mf" }, "print.3mf")
          : null,
        h("a", { class: "button small", href: fileUrl(o.id, o.current_version, "model.stl"), download: "model.stl" }, "model.stl"),
        h("span", { class: "muted small" }, `updated ${fmtDate(o.updated_ms)}`)),
      ...body,
    );
  };
  replace(main, h("div", { class: "page-head" }, h("h1", null, "Print desk"), h("button", { type: "button", onclick: () => void refresh() }, "Refresh")), host);
  if (!["print_technician", "biomedical_engineer"].includes(me.user.role)) host.before(h("p", { class: "muted" }, "Read only: printing is done by print technicians."));
  await refresh();
}
