// End-to-end test of the web app in Debian's chromium (headless, playwright-core) against a real
// `medprint serve`: order with in-browser de-identification, review in 3D and slices,
// annotation, approval, sign-off, print desk, QC, delivery; screenshots of each screen.
//
// MEDPRINT_BIN: the medprint binary (default ../target/debug/medprint).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const bin = process.env.MEDPRINT_BIN ?? join(root, "target/debug/medprint");
const shots = join(here, "screenshots");
const data = resolve(root, "../shared/data");
const ADMIN_PW = "correct horse battery staple";
const PW = "a long enough password";

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

const tmp = mkdtempSync(join(tmpdir(), "medprint-e2e-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(bin, ["serve", "--bind", `127.0.0.1:${port}`, "--data-dir", join(tmp, "data"), "--admin-password", ADMIN_PW, "--lease-secs", "2"], {
  stdio: ["ignore", "ignore", "inherit"],
});
let browser;
const step = (text) => console.log(`· ${text}`);

async function api(path, { method = "GET", body, cookie } = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...(cookie ? { cookie } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return { json: text ? JSON.parse(text) : null, headers: r.headers };
}

async function login(email, password) {
  const r = await api("/api/login", { method: "POST", body: { email, password } });
  return r.headers.get("set-cookie").split(";")[0];
}

const orderState = async (id, cookie) => (await api(`/api/orders/${id}`, { cookie })).json;
const gatePassed = (d, gate) => d.gates.some((g) => g.gate === gate);

async function waitFor(what, fn, timeoutMs = 120000) {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.jpg`), type: "jpeg", quality: 55 });
}

try {
  mkdirSync(shots, { recursive: true });
  await waitFor("the server", () => fetch(`${base}/api/health`).then((r) => r.ok).catch(() => false), 60000);
  step("server up; creating the organisation and its users");
  const admin = await login("admin@localhost", ADMIN_PW);
  const org = (await api("/api/orgs", { method: "POST", body: { name: "Browser Hospital" }, cookie: admin })).json;
  await api("/api/users", { method: "POST", cookie: admin, body: { email: "admin@browser.org", name: "Olga Admin", role: "org_admin", password: PW, org_id: org.id } });
  const orgAdmin = await login("admin@browser.org", PW);
  const people = { surgeon: "Sam Surgeon", radiologist: "Rita Radiologist", clinical_director: "Dana Director", biomedical_engineer: "Ben Engineer", print_technician: "Tess Technician" };
  for (const [role, name] of Object.entries(people)) {
    await api("/api/users", { method: "POST", cookie: orgAdmin, body: { email: `${role}@browser.org`, name, role, password: PW } });
  }

  step("writing a DICOM series from the real abdominal CT, with a patient's identity");
  const series = join(tmp, "series");
  execFileSync(bin, ["export-dicom", join(data, "ct-abdomen-3mm/ct.nii.gz"), "--out", series, "--patient-name", "DOE^JANE", "--patient-id", "MRN-0042-SECRET", "--birth-date", "19580314"]);
  const files = readdirSync(series).map((n) => join(series, n));
  assert.ok(files.length >= 30);
  assert.ok(readFileSync(files[0]).includes("DOE^JANE"), "the written series carries the identity");

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"] });
  const as = async (role, viewport = { width: 1280, height: 860 }, extra = {}) => {
    const context = await browser.newContext({ viewport, ...extra });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[${role}] page error: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && console.error(`[${role}] console: ${m.text()}`));
    await page.goto(`${base}/#/login`);
    await page.fill("input[name=email]", role === "org_admin" ? "admin@browser.org" : `${role}@browser.org`);
    await page.fill("input[name=password]", PW);
    await page.click("button[type=submit]");
    await page.waitForSelector("header nav");
    return page;
  };

  step("surgeon: new order, files de-identified in the browser, uploaded, submitted");
  const surgeon = await as("surgeon");
  await shot(surgeon, "01-dashboard");
  await surgeon.goto(`${base}/#/new`);
  await surgeon.setInputFiles("input[name=anyfiles]", files);
  await surgeon.fill("input[name=patient_id]", "MRN-0042-SECRET");
  await surgeon.fill("input[name=org_secret]", "our organisation secret");
  await surgeon.fill("input[name=anatomy]", "lumbar spine, pelvis");
  await surgeon.fill("input[name=deadline]", "2027-01-15");
  await surgeon.fill("input[name=age]", "66");
  await surgeon.dispatchEvent("input[name=anatomy]", "change");
  await surgeon.waitForSelector(".quote:has-text('€')");
  await surgeon.click("button[type=submit]");
  await surgeon.waitForSelector("text=Follow the order", { timeout: 120000 });
  const removed = await surgeon.evaluate(() => window.__medprint.removed);
  for (const k of ["PatientName", "PatientID", "PatientBirthDate", "SOPInstanceUID"]) assert.ok(removed.includes(k), `${k} removed in the browser: ${removed}`);
  await shot(surgeon, "02-new-order-deidentified");

  step("the server holds no identifying tag");
  const stored = walk(join(tmp, "data/objects")).filter((p) => p.endsWith(".dcm"));
  assert.equal(stored.length, files.length);
  for (const p of stored) {
    const bytes = readFileSync(p);
    for (const secret of ["DOE^JANE", "MRN-0042", "19580314"]) assert.ok(!bytes.includes(secret), `${p} contains ${secret}`);
  }
  const orders = (await api("/api/orders", { cookie: orgAdmin })).json;
  const orderId = orders[0].id;
  const orderUrl = `${base}/#/orders/${orderId}`;

  step("processing: live progress, then review");
  await surgeon.click("text=Follow the order");
  await shot(surgeon, "03-order-progress");
  await waitFor("review", async () => (await api(`/api/orders/${orderId}`, { cookie: orgAdmin })).json.order.state === "review");
  await surgeon.goto(orderUrl);
  await surgeon.reload();
  await surgeon.waitForFunction(() => window.__medprint.triangles > 0, null, { timeout: 60000 });
  await surgeon.waitForFunction(() => window.__medprint.overlayPixels > 0, null, { timeout: 60000 });
  await surgeon.waitForTimeout(500);
  const coverage = await surgeon.evaluate(() => window.__medprint.viewer.coverage());
  assert.ok(coverage > 0.01, `the 3D view shows the model (coverage ${coverage})`);
  step(`3D: ${await surgeon.evaluate(() => window.__medprint.triangles)} triangles, ${(coverage * 100).toFixed(1)} % of the canvas; slice overlay ${await surgeon.evaluate(() => window.__medprint.overlayPixels)} px`);

  step("annotation drawn on the surface, saved, and there after a reload");
  await surgeon.selectOption("select[name=mode]", "draw");
  await surgeon.fill("input[name=note]", "include L5 completely");
  await surgeon.locator(".view3d canvas").scrollIntoViewIfNeeded();
  await surgeon.waitForTimeout(300);
  const [cx, cy] = await surgeon.evaluate(() => window.__medprint.viewer.visiblePointOnScreen());
  await surgeon.mouse.move(cx - 6, cy);
  await surgeon.mouse.down();
  for (let i = 0; i <= 12; i++) await surgeon.mouse.move(cx - 6 + i * 3, cy + (i % 2));
  await surgeon.mouse.up();
  await surgeon.waitForFunction(() => window.__medprint.annotations >= 1, null, { timeout: 10000 });
  await shot(surgeon, "04-review");
  await surgeon.reload();
  await surgeon.waitForSelector("ul.notes li:has-text('include L5 completely')");

  step("phone-sized screen: review and a touch annotation");
  const phone = await as("surgeon", { width: 390, height: 844 }, { hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
  await phone.goto(orderUrl);
  await phone.waitForFunction(() => window.__medprint.triangles > 0, null, { timeout: 60000 });
  const before = await phone.evaluate(() => window.__medprint.annotations ?? 0);
  await phone.evaluate(() => { window.__medprint.viewer.mode = "draw"; });
  const canvas = phone.locator(".view3d canvas");
  await canvas.scrollIntoViewIfNeeded();
  const [px, py] = await phone.evaluate(() => window.__medprint.viewer.visiblePointOnScreen());
  const cdp = await phone.context().newCDPSession(phone);
  const x0 = px - 5, y0 = py;
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: x0, y: y0 }] });
  for (let i = 1; i <= 10; i++) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: x0 + i, y: y0 + (i % 2) }] });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await phone.waitForFunction((n) => (window.__medprint.annotations ?? 0) > n, before, { timeout: 10000 });
  await shot(phone, "10-phone-review");
  step("review gates: radiologist verifies, surgeon approves with parts and material");
  const radiologist = await as("radiologist");
  await radiologist.goto(orderUrl);
  await radiologist.click("button[data-review=verify_segmentation]");
  await waitFor("segmentation verified", async () => gatePassed(await orderState(orderId, orgAdmin), "segmentation_verified"));
  await surgeon.goto(orderUrl);
  await surgeon.reload();
  await surgeon.click("button[data-review=approve_model]");
  await waitFor("sign-off", async () => (await api(`/api/orders/${orderId}`, { cookie: orgAdmin })).json.order.state === "sign_off");

  step("clinical director signs off");
  const director = await as("clinical_director");
  await director.goto(orderUrl);
  await director.waitForSelector("#signoff:has-text('Cost')");
  await shot(director, "05-sign-off");
  await director.click("button[data-action=sign_off]");
  await waitFor("spend approved", async () => (await orderState(orderId, orgAdmin)).order.state === "print_preparation");

  step("engineer approves the print plan; print desk prints, records QC, ships");
  const engineer = await as("biomedical_engineer");
  await engineer.goto(orderUrl);
  await engineer.click("button[data-action=approve_print_plan]");
  await waitFor("print plan approved", async () => gatePassed(await orderState(orderId, orgAdmin), "print_plan_approved"));
  const technician = await as("print_technician");
  await technician.goto(`${base}/#/desk`);
  await technician.waitForSelector(`a[href="#/orders/${orderId}"]`);
  await shot(technician, "06-print-desk");
  await technician.goto(orderUrl);
  await technician.selectOption("select[name=printer]", { index: 1 });
  await technician.click("text=Assign and start printing");
  await waitFor("printing", async () => (await orderState(orderId, orgAdmin)).order.state === "printing");
  await technician.reload();
  await technician.click("button[data-action=finish_printing]");
  await technician.waitForSelector("#qc");
  await technician.fill("#qc input[name=feature]", "pelvic width");
  await technician.fill("#qc input[name=model_mm]", "251.4");
  await technician.fill("#qc input[name=measured_mm]", "251.6");
  await shot(technician, "07-quality-control");
  await technician.click("#qc button[data-action=record_qc]");
  await waitFor("QC recorded", async () => gatePassed(await orderState(orderId, orgAdmin), "quality_control"));
  await technician.reload();
  await technician.click("button[data-action=ship]");
  await waitFor("shipped", async () => (await api(`/api/orders/${orderId}`, { cookie: orgAdmin })).json.order.state === "shipped");
  await surgeon.goto(orderUrl);
  await surgeon.reload();
  await surgeon.click("button[data-action=confirm_delivery]");
  await waitFor("delivered", async () => (await api(`/api/orders/${orderId}`, { cookie: orgAdmin })).json.order.state === "delivered");
  const detail = (await api(`/api/orders/${orderId}`, { cookie: orgAdmin })).json;
  const approval = detail.gates.find((g) => g.gate === "model_approved");
  assert.ok(JSON.parse(approval.data).parts.length > 0, "the approval records the parts to print");

  step("audit trail and administration");
  const admin2 = await as("org_admin");
  await admin2.goto(`${base}/#/orders/${orderId}/audit`);
  await admin2.waitForSelector("text=Chain intact");
  await shot(admin2, "08-audit-trail");
  await admin2.goto(`${base}/#/admin`);
  await admin2.waitForSelector("text=Tess Technician");
  await shot(admin2, "09-administration");

  console.log("web e2e: all steps passed");
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser?.close();
  server.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
