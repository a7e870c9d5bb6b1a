import { api, STATE_LABEL, STATES, type Order, type OrderDetail } from "../api";
import { h, replace, fmtDate, shortId, badge, card } from "../ui";
import { ACTION_LABEL, ROLE_STATES, tasksOf, taskHref, describeOrder } from "../workflow";
import type { Ctx } from "../main";

export function stateBadge(state: string): HTMLElement {
  return badge(STATE_LABEL[state as keyof typeof STATE_LABEL] ?? state, `state-${state}`);
}

export async function dashboardPage(ctx: Ctx) {
  const { me, main } = ctx;
  if (me.user.role === "system_admin") {
    ctx.go("#/admin");
    return;
  }
  replace(main, h("p", { class: "muted" }, "Loading orders…"));
  const orders = await api.orders();
  const interesting = new Set(ROLE_STATES[me.user.role] ?? []);
  const candidates = orders.filter((o) => interesting.has(o.state)).slice(0, 40);
  const details = new Map<string, OrderDetail>();
  await Promise.all(
    candidates.map(async (o) => {
      try {
        details.set(o.id, await api.order(o.id));
      } catch {
        /* listed below anyway */
      }
    }),
  );
  const tasks: Array<{ order: Order; action: string }> = [];
  for (const o of candidates) {
    const d = details.get(o.id);
    if (!d) continue;
    for (const a of tasksOf(d)) tasks.push({ order: o, action: a });
  }

  const taskList = tasks.length
    ? h(
        "ul",
        { class: "tasks" },
        tasks.map(({ order, action }) =>
          h(
            "li",
            null,
            h(
              "a",
              { href: taskHref(order, action), class: "task", dataset: { order: order.id, action } },
              h("span", { class: "task-action" }, ACTION_LABEL[action] ?? action),
              h("span", { class: "task-order" }, `Order ${shortId(order.id)} · ${describeOrder(order)}`),
              order.prescription?.deadline ? h("span", { class: "task-deadline" }, `needed by ${order.prescription.deadline}`) : null,
            ),
          ),
        ),
      )
    : h("p", { class: "muted" }, "Nothing is waiting for you.");

  let filter = "";
  const tableHost = h("div");
  const renderTable = () => {
    const shown = filter ? orders.filter((o) => o.state === filter) : orders;
    replace(
      tableHost,
      shown.length
        ? h(
            "table",
            { class: "orders" },
            h("thead", null, h("tr", null, h("th", null, "Order"), h("th", null, "Anatomy"), h("th", null, "State"), h("th", { class: "hide-s" }, "Needed by"), h("th", { class: "hide-s" }, "Updated"))),
            h(
              "tbody",
              null,
              shown.map((o) =>
                h(
                  "tr",
                  { onclick: () => ctx.go(`#/orders/${o.id}`), class: "clickable", dataset: { order: o.id } },
                  h("td", null, h("a", { href: `#/orders/${o.id}` }, shortId(o.id))),
                  h("td", null, describeOrder(o)),
                  h("td", null, stateBadge(o.state)),
                  h("td", { class: "hide-s" }, o.prescription?.deadline ?? "–"),
                  h("td", { class: "hide-s" }, fmtDate(o.updated_ms)),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, orders.length ? "No order in this state." : "No orders yet."),
    );
  };
  const counts = new Map<string, number>();
  for (const o of orders) counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
  const chips = h(
    "div",
    { class: "chips", role: "group", "aria-label": "Filter by state" },
    [["", `All (${orders.length})`] as [string, string]]
      .concat([...STATES, "cancelled"].filter((s) => counts.has(s)).map((s) => [s, `${STATE_LABEL[s as keyof typeof STATE_LABEL]} (${counts.get(s)})`] as [string, string]))
      .map(([s, label]) => {
        const b = h("button", { type: "button", class: `chip ${s === filter ? "on" : ""}` }, label);
        b.addEventListener("click", () => {
          filter = s;
          chips.querySelectorAll(".chip").forEach((c) => c.classList.remove("on"));
          b.classList.add("on");
          renderTable();
        });
        return b;
      }),
  );
  renderTable();
  const canOrder = me.permissions.includes("create_order");
  replace(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, `Good ${new Date().getHours() < 12 ? "morning" : new Date().getHours() < 18 ? "afternoon" : "evening"}, ${me.user.name || me.user.email}`),
      canOrder ? h("a", { class: "button primary", href: "#/new" }, "New order") : null,
    ),
    card("Waiting for you", taskList),
    card("Orders of " + (me.org?.name ?? "your organisation"), chips, tableHost),
  );
}
