// medprint web app: session, navigation and hash routes.
import "./style.css";
import { api, ROLE_LABEL, type Me } from "./api";
import { h, replace, toast, errorText } from "./ui";
import { loginPage } from "./pages/login";
import { dashboardPage } from "./pages/dashboard";
import { newOrderPage } from "./pages/neworder";
import { orderPage } from "./pages/order";
import { reviewPage } from "./pages/review";
import { signOffPage } from "./pages/signoff";
import { printDeskPage } from "./pages/printdesk";
import { auditPage } from "./pages/audit";
import { adminPage } from "./pages/admin";

export type Cleanup = (() => void) | void;
export interface Ctx {
  me: Me;
  main: HTMLElement;
  params: Record<string, string>;
  go: (hash: string) => void;
  refreshMe: () => Promise<void>;
}
type Page = (ctx: Ctx) => Cleanup | Promise<Cleanup>;

// Test and debugging hooks (read-only figures).
(window as any).__medprint = (window as any).__medprint ?? {};

const routes: Array<[RegExp, Page, string[]]> = [
  [/^\/?$/, dashboardPage, []],
  [/^\/new$/, newOrderPage, []],
  [/^\/orders\/([^/]+)$/, orderPage, ["id"]],
  [/^\/orders\/([^/]+)\/review$/, reviewPage, ["id"]],
  [/^\/orders\/([^/]+)\/sign-off$/, signOffPage, ["id"]],
  [/^\/orders\/([^/]+)\/audit$/, auditPage, ["id"]],
  [/^\/print$/, printDeskPage, []],
  [/^\/admin$/, adminPage, []],
];

const app = document.getElementById("app")!;
let me: Me | null = null;
let cleanup: Cleanup = undefined;
let renderSeq = 0;

function go(hash: string) {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

function navLinks(m: Me): Array<[string, string]> {
  const links: Array<[string, string]> = [];
  const r = m.user.role;
  if (r !== "system_admin") links.push(["#/", "Orders"]);
  if (r === "surgeon" || r === "radiologist") links.push(["#/new", "New order"]);
  if (r === "print_technician" || r === "biomedical_engineer") links.push(["#/print", "Print desk"]);
  if (r === "org_admin" || r === "system_admin") links.push(["#/admin", r === "system_admin" ? "Organisations" : "Users"]);
  return links;
}

function shell(m: Me): HTMLElement {
  const current = location.hash || "#/";
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    navLinks(m).map(([href, label]) =>
      h("a", { href, class: current === href || (href !== "#/" && current.startsWith(href)) ? "active" : "" }, label),
    ),
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "M"), "medprint"),
    nav,
    h(
      "div",
      { class: "who" },
      h("span", { class: "who-name" }, m.user.name || m.user.email),
      h("span", { class: "who-role" }, `${ROLE_LABEL[m.user.role] ?? m.user.role} · ${m.org?.name ?? ""}`),
      h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: async () => {
            try {
              await api.logout();
            } catch {
              /* the session may be gone already */
            }
            me = null;
            go("#/login");
          },
        },
        "Sign out",
      ),
    ),
  );
  return h("div", { class: "shell" }, header, main);
}

async function route() {
  const seq = ++renderSeq;
  if (typeof cleanup === "function") {
    try {
      cleanup();
    } catch {
      /* ignore */
    }
  }
  cleanup = undefined;
  const path = (location.hash || "#/").slice(1).split("?")[0];
  if (path === "/login") {
    me = null;
    replace(app);
    cleanup = await loginPage(app, async () => {
      me = await api.me();
      go("#/");
    });
    return;
  }
  if (!me) {
    try {
      me = await api.me();
    } catch {
      go("#/login");
      return;
    }
  }
  if (seq !== renderSeq) return;
  const m = me;
  const el = shell(m);
  replace(app, el);
  const main = el.querySelector("main") as HTMLElement;
  for (const [re, page, names] of routes) {
    const match = re.exec(path);
    if (!match) continue;
    const params: Record<string, string> = {};
    names.forEach((n, i) => (params[n] = decodeURIComponent(match[i + 1])));
    try {
      const c = await page({
        me: m,
        main,
        params,
        go,
        refreshMe: async () => {
          me = await api.me();
        },
      });
      if (seq !== renderSeq) {
        if (typeof c === "function") c();
      } else cleanup = c;
    } catch (e) {
      replace(main, h("div", { class: "card error" }, h("h2", null, "This page could not be shown"), h("p", null, errorText(e))));
    }
    return;
  }
  replace(main, h("div", { class: "card" }, h("h2", null, "Not found"), h("p", null, h("a", { href: "#/" }, "Back to the orders"))));
}

window.addEventListener("hashchange", () => void route());
window.addEventListener("medprint:unauthorised", () => {
  if (location.hash !== "#/login") {
    me = null;
    toast("Your session has ended. Please sign in again.", "info");
    go("#/login");
  }
});
void route();
