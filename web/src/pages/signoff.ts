import { api, fileUrl, materials, quote, materialName, type OrderDetail } from "../api";
import { h, replace, card, shortId, actionButton, toast, fmtEur, parseJson } from "../ui";
import { stateBadge } from "./dashboard";
import { gatesView } from "./order";
import { findingsView, loadReport } from "../findings";
import { describeOrder } from "../workflow";
import type { Ctx } from "../main";

export async function signOffPage(ctx: Ctx) {
  const { main, params } = ctx;
  const id = params.id;
  let d: OrderDetail = await api.order(id);
  const o = d.order;
  const version = d.versions.find((v) => v.version === o.current_version);
  const approval = d.gates.filter((g) => g.gate === "model_approved").pop();
  const approvalData = parseJson(approval?.data) ?? {};
  const chosen = approvalData.material ?? /material: ([^;\n]+)/.exec(approval?.comment ?? "")?.[1]?.trim() ?? o.prescription?.material_preferences?.[0] ?? "PLA";
  const material = h("select", { "data-testid": "signoff-material" });
  for (const m of await materials()) material.appendChild(h("option", { value: m, selected: m === chosen }, m));
  const quoteHost = h("div", { class: "quote big", "data-testid": "signoff-quote", "aria-live": "polite" }, "…");
  const updateQuote = async () => {
    const q = await quote({ orderId: id, material: material.value, anatomy: o.prescription?.anatomy, deadline: o.prescription?.deadline ?? undefined });
    if (!q) {
      replace(quoteHost, h("span", { class: "muted" }, "Quote unavailable"));
      return;
    }
    const late = o.prescription?.deadline && q.ready_date > o.prescription.deadline;
    replace(
      quoteHost,
      h("div", null, h("strong", { class: "price" }, fmtEur(q.price_eur)), ` for ${materialName(q)}`),
      h("div", { class: late ? "warning" : "muted" }, `Ready ${q.ready_date}${o.prescription?.deadline ? ` · needed by ${o.prescription.deadline}${late ? " — later than needed" : ""}` : ""}`),
      q.volume_cm3 ? h("div", { class: "muted small" }, `${q.volume_cm3.toFixed(0)} cm³ ${q.measured ? "measured on the model" : "typical for the anatomy"}`) : null,
      Array.isArray(q.breakdown) && q.breakdown.length
        ? h("table", { class: "compact" }, h("tbody", null, q.breakdown.map((b: any) => (Array.isArray(b) ? h("tr", null, h("td", null, String(b[0])), h("td", { class: "num" }, fmtEur(Number(b[1])))) : h("tr", null, h("td", { colspan: 2 }, JSON.stringify(b)))))))
        : null,
    );
  };
  material.addEventListener("change", () => void updateQuote());
  void updateQuote();

  const comment = h("textarea", { rows: 2, placeholder: "Comment (required to decline)", "data-testid": "signoff-comment" });
  const buttons = h("div", { class: "row" });
  const renderButtons = () => {
    replace(
      buttons,
      d.actions.includes("sign_off")
        ? actionButton("Sign off", async () => {
            await api.action(id, "sign_off", { comment: `${comment.value.trim()}${comment.value.trim() ? "\n" : ""}Material: ${material.value}` });
            toast("Signed off: the order goes to print preparation.", "ok");
            ctx.go(`#/orders/${id}`);
          }, { class: "primary", "data-action": "sign_off" })
        : null,
      d.actions.includes("decline")
        ? actionButton("Decline", async () => {
            if (!comment.value.trim()) throw new Error("Say why in the comment.");
            await api.action(id, "decline", { comment: comment.value.trim() });
            toast("Declined: the order goes back to review.", "ok");
            ctx.go(`#/orders/${id}`);
          }, { class: "danger", "data-action": "decline" })
        : null,
      !d.actions.includes("sign_off") ? h("p", { class: "muted" }, o.state === "sign_off" ? "Only the clinical director signs off." : `The order is in ${o.state.replace("_", " ")}.`) : null,
    );
  };
  renderButtons();
  const report = version ? await loadReport(id, version.version) : null;
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", null, `Sign-off · order ${shortId(id)} `, stateBadge(o.state)), h("a", { class: "button", href: `#/orders/${id}` }, "Order")),
    h("p", { class: "muted" }, describeOrder(o)),
    h(
      "div",
      { class: "grid2 top" },
      card("Cost", h("label", { class: "inline" }, "Material ", material), quoteHost),
      card(
        "Model",
        version?.files.includes("preview/model.png") ? h("img", { class: "model-preview", src: fileUrl(id, version.version, "preview/model.png"), alt: "Rendered model" }) : null,
        h("p", null, h("a", { href: `#/orders/${id}/review` }, "Open the 3D review")),
      ),
    ),
    h("div", { class: "grid2 top" }, card("Who approved", gatesView(d)), card("Findings", version ? findingsView(version, report) : h("p", null, "–"))),
    card("Decision", comment, buttons),
  );
}
