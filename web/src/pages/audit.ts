import { api, type AuditEntry } from "../api";
import { h, replace, card, shortId, fmtDate, parseJson, downloadBlob } from "../ui";
import type { Ctx } from "../main";

export async function auditPage(ctx: Ctx) {
  const { main, params, me } = ctx;
  const id = params.id;
  if (!me.permissions.includes("view_audit")) {
    replace(main, card("Audit trail", h("p", null, "Only organisation administrators and clinical directors read audit trails.")));
    return;
  }
  const [trail, users] = await Promise.all([api.audit(id), me.user.role === "org_admin" ? api.users().catch(() => []) : Promise.resolve([])]);
  const names = new Map(users.map((u) => [u.id, `${u.name} (${u.role.replace(/_/g, " ")})`]));
  const entries: AuditEntry[] = trail.entries;
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", null, `Audit trail · order ${shortId(id)}`), h("div", { class: "row" },
      h("button", { type: "button", onclick: () => downloadBlob(`audit-${id}.json`, JSON.stringify(trail, null, 2), "application/json") }, "Download JSON"),
      h("a", { class: "button", href: `#/orders/${id}` }, "Order"))),
    h(
      "div",
      { class: `chain ${trail.intact ? "intact" : "broken"}`, "data-testid": "chain-status", role: "status" },
      h("strong", null, trail.intact ? "✓ Chain intact" : "✗ Chain broken"),
      h("span", null, trail.intact ? ` — ${entries.length} entries, every hash links to the one before.` : ` — ${trail.problem ?? "an entry does not match its hash"}`),
      h("div", { class: "mono small" }, `head ${trail.head_hash || "–"}`),
    ),
    card(
      null,
      h(
        "table",
        { class: "audit" },
        h("thead", null, h("tr", null, h("th", null, "#"), h("th", null, "When"), h("th", null, "Who"), h("th", null, "What"), h("th", { class: "hide-s" }, "Details"), h("th", { class: "hide-s" }, "Hash"))),
        h(
          "tbody",
          null,
          entries.map((e) => {
            const details = parseJson(e.details) ?? {};
            const text = Object.entries(details)
              .filter(([, v]) => v !== null && v !== "" && !(typeof v === "object" && !Object.keys(v as object).length))
              .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
              .join(" · ");
            return h(
              "tr",
              null,
              h("td", null, String(e.seq)),
              h("td", null, fmtDate(e.at_ms)),
              h("td", null, names.get(e.actor) ?? shortId(e.actor || "system")),
              h("td", null, e.action),
              h("td", { class: "hide-s details" }, text.length > 240 ? text.slice(0, 240) + "…" : text),
              h("td", { class: "hide-s mono small", title: e.hash }, e.hash.slice(0, 12)),
            );
          }),
        ),
      ),
    ),
  );
}
