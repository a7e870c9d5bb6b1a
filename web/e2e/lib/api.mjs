// A tiny API client for test setup (cookie sessions, JSON).
import { createHash } from "node:crypto";

export class Client {
  constructor(base) {
    this.base = base;
    this.cookie = "";
  }
  async req(method, path, body, headers = {}) {
    const h = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    let payload;
    if (body instanceof Uint8Array || body instanceof Buffer) payload = body;
    else if (body !== undefined) {
      h["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await fetch(this.base + path, { method, headers: h, body: payload });
    const set = r.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0];
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    if (!r.ok) {
      const e = new Error(`${method} ${path} → ${r.status}: ${text}`);
      e.status = r.status;
      e.body = json;
      throw e;
    }
    return json;
  }
  get(p) { return this.req("GET", p); }
  post(p, b = {}) { return this.req("POST", p, b); }
  async login(email, password) { return this.post("/api/login", { email, password }); }
  /** Uploads raw bytes to an order (used only for API-level checks, not by the browser flow). */
  async upload(orderId, name, bytes) {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const a = await this.post(`/api/orders/${orderId}/files`, { name, size: bytes.length, sha256, kind: "dicom", sop_instance_uid: "" });
    if (a.held) return a;
    return this.req("PATCH", `/api/uploads/${a.upload.id}`, bytes, {
      "upload-offset": String(a.offset),
      "content-type": "application/offset+octet-stream",
    });
  }
}

export const PASSWORD = "a long test password 123";

/** admin → org → org_admin → one user per role. Returns {org, users:{role: {email}}}. */
export async function setupOrg(base, adminPassword, orgName = "Springfield General") {
  const admin = new Client(base);
  await admin.login("admin@localhost", adminPassword);
  const org = await admin.post("/api/orgs", { name: orgName });
  const slug = org.id.slice(0, 6).toLowerCase();
  const orgAdminEmail = `orgadmin-${slug}@example.org`;
  await admin.post("/api/users", { email: orgAdminEmail, name: "Olivia Admin", role: "org_admin", password: PASSWORD, org_id: org.id });
  const oa = new Client(base);
  await oa.login(orgAdminEmail, PASSWORD);
  const people = {
    surgeon: "Dr Sam Surgeon",
    radiologist: "Dr Rita Radiologist",
    clinical_director: "Dr Dana Director",
    biomedical_engineer: "Eli Engineer",
    print_technician: "Tess Technician",
  };
  const users = { org_admin: { email: orgAdminEmail, name: "Olivia Admin" } };
  for (const [role, name] of Object.entries(people)) {
    const email = `${role.replace(/_/g, "-")}-${slug}@example.org`;
    await oa.post("/api/users", { email, name, role, password: PASSWORD });
    users[role] = { email, name };
  }
  return { org, users };
}
