import { api, ROLE_LABEL, type Role, type Org } from "../api";
import { h, replace, card, field, actionButton, toast, fmtDate } from "../ui";
import type { Ctx } from "../main";

const ORG_ROLES: Role[] = ["surgeon", "radiologist", "clinical_director", "biomedical_engineer", "print_technician", "org_admin"];

function userForm(roles: Role[], orgs: Org[] | null, done: () => Promise<void>): HTMLElement {
  const name = h("input", { type: "text", required: true, "data-testid": "user-name" });
  const email = h("input", { type: "email", required: true, "data-testid": "user-email" });
  const role = h("select", { "data-testid": "user-role" }, roles.map((r) => h("option", { value: r }, ROLE_LABEL[r])));
  const password = h("input", { type: "password", minlength: "12", autocomplete: "new-password", required: true, "data-testid": "user-password" });
  const org = orgs ? h("select", null, orgs.map((o) => h("option", { value: o.id }, o.name))) : null;
  return h(
    "div",
    { class: "user-form" },
    h("div", { class: "grid2" },
      field("Name", name),
      field("E-mail", email),
      field("Role", role),
      field("Initial password", password, "at least 12 characters; ask them to keep it safe"),
      org ? field("Organisation", org) : null),
    actionButton("Create user", async () => {
      if (password.value.length < 12) throw new Error("The password needs at least 12 characters.");
      await api.createUser({ name: name.value.trim(), email: email.value.trim(), role: role.value as Role, password: password.value, ...(org ? { org_id: org.value } : {}) });
      toast(`${name.value.trim() || email.value.trim()} can now sign in.`, "ok");
      name.value = email.value = password.value = "";
      await done();
    }, { class: "primary", "data-testid": "create-user" }),
  );
}

export async function adminPage(ctx: Ctx) {
  const { main, me } = ctx;
  const role = me.user.role;
  if (role !== "org_admin" && role !== "system_admin") {
    replace(main, card("Administration", h("p", null, "Only administrators manage users.")));
    return;
  }
  if (role === "system_admin") {
    const host = h("div");
    const render = async () => {
      const orgs = await api.orgs();
      const orgName = h("input", { type: "text", placeholder: "Hospital or department", "data-testid": "org-name" });
      replace(
        host,
        card(
          "Organisations",
          h("table", { class: "compact" }, h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Created"))), h("tbody", null, orgs.map((o) => h("tr", null, h("td", null, o.name), h("td", null, fmtDate(o.created_ms)))))),
          h("div", { class: "row" }, orgName, actionButton("Create organisation", async () => {
            if (!orgName.value.trim()) throw new Error("Give the organisation a name.");
            await api.createOrg(orgName.value.trim());
            toast("Organisation created.", "ok");
            await render();
          }, { class: "primary" })),
        ),
        card("Organisation administrator", h("p", { class: "muted" }, "System administrators create organisation administrators; they create everyone else."), userForm(["org_admin", "system_admin"], orgs, render)),
      );
    };
    replace(main, h("div", { class: "page-head" }, h("h1", null, "Organisations")), host);
    await render();
    return;
  }
  const list = h("div");
  const render = async () => {
    const users = await api.users();
    replace(
      list,
      h(
        "table",
        { class: "compact users" },
        h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "E-mail"), h("th", null, "Role"), h("th", { class: "hide-s" }, "Since"))),
        h("tbody", null, users.map((u) => h("tr", { dataset: { email: u.email } }, h("td", null, u.name), h("td", null, u.email), h("td", null, ROLE_LABEL[u.role] ?? u.role), h("td", { class: "hide-s" }, fmtDate(u.created_ms))))),
      ),
    );
  };
  const tokenOut = h("code", { class: "token" });
  const label = h("input", { type: "text", placeholder: "e.g. PACS bridge", value: "CLI" });
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", null, `Users of ${me.org?.name ?? "your organisation"}`)),
    card("Users", list),
    card("New user", userForm(ORG_ROLES, null, render)),
    card("API token for the command line", h("div", { class: "row" }, label, actionButton("Create token", async () => {
      const t = await api.token(label.value.trim() || "CLI");
      tokenOut.textContent = t.token;
    })), h("p", { class: "small muted" }, "Shown once: copy it now. "), tokenOut),
  );
  await render();
}
