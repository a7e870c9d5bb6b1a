// End-to-end: a real medprint server, Debian's chromium, every role, one order from scan to
// delivery. The scan is a real CT (shared data) written as DICOM WITH the patient's identity;
// the test proves that the identity never reaches the server (no request body, no stored file).
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync, mkdtempSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { startServer, ADMIN_PASSWORD } from "./lib/server.mjs";
import { Client, setupOrg, PASSWORD } from "./lib/api.mjs";
import { writeSeries, IDENTITY } from "./lib/series.mjs";
import { launch, Shots, login } from "./lib/browser.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "..");
const data = process.env.MEDPRINT_DATA ?? resolve(root, "..", "shared", "data");
const bin = resolve(web, process.env.MEDPRINT_BIN ?? resolve(root, "target", "debug", "medprint"));
const outDir = join(here, "out");
mkdirSync(outDir, { recursive: true });
const SECRETS = ["DOE^JANE", "MRN-0042", "19580314"];
const DESKTOP = { width: 1366, height: 900 };

const t0 = Date.now();
const log = (m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}`);
let current = "setup";
async function step(name, fn) {
  current = name;
  log(`▶ ${name}`);
  await fn();
}

const server = await startServer({ bin, webDist: join(web, "dist"), logFile: join(outDir, "server.log") });
const browser = await launch();
const shots = new Shots(browser, join(here, "screenshots"), join(web, "docs", "screenshots"));
const seriesDir = mkdtempSync(join(tmpdir(), "medprint-series-"));
const pages = [];
let failed = false;

async function newPage(viewport = DESKTOP, extra = {}) {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, ...extra });
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  page.on("pageerror", (e) => log(`  page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) log(`  console error: ${m.text()}`);
  });
  page.on("response", (r) => {
    const u = new URL(r.url());
    // Quotes and materials may be missing on older servers (the app then says "quote unavailable").
    if (r.status() >= 400 && !/^\/api\/(quote|materials|orders\/[^/]+\/quote)/.test(u.pathname)) log(`  HTTP ${r.status()} ${r.request().method()} ${u.pathname}`);
  });
  pages.push(page);
  return page;
}

/** Waits until the order reaches `state` (API poll). */
async function waitState(client, id, state, ms = 180000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const d = await client.get(`/api/orders/${id}`);
    if (d.order.state === state) return d;
    const job = d.jobs[d.jobs.length - 1];
    if (job?.state === "failed") throw new Error(`job failed: ${job.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`order ${id} did not reach ${state}`);
}

/** Surface points of the 3D view: fractions of the canvas where the model is hit. */
async function surfacePoints(page) {
  return page.evaluate(() => {
    const v = window.__medprint.review.viewer;
    const hits = [];
    for (let fy = 0.3; fy <= 0.7; fy += 0.04) for (let fx = 0.2; fx <= 0.8; fx += 0.02) if (v.pickAt(fx, fy)) hits.push([fx, fy]);
    return hits;
  });
}

async function canvasPoint(page, sel, fx, fy) {
  await page.locator(sel).scrollIntoViewIfNeeded();
  const box = await page.locator(sel).boundingBox();
  return [box.x + fx * box.width, box.y + fy * box.height];
}

/** Pixels of the slice canvases tinted by the overlay (red and blue channels apart). */
async function overlayTintedPixels(page) {
  return page.evaluate(() => {
    let n = 0;
    for (const c of document.querySelectorAll(".slice-canvas")) {
      const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < px.length; i += 4) if (px[i] - px[i + 2] > 40) n++;
    }
    return n;
  });
}

async function reviewReady(page) {
  await page.waitForFunction(() => window.__medprint?.review?.ready === true, null, { timeout: 90000 });
}

try {
  // ---------------------------------------------------------------- setup through the API
  const { users } = await setupOrg(server.base, ADMIN_PASSWORD);
  const files = writeSeries(join(data, "ct-abdomen-3mm", "ct.nii.gz"), seriesDir, 30);
  assert.equal(files.length, 30);
  for (const f of files) assert.ok(readFileSync(f).toString("latin1").includes("DOE^JANE"), "the series carries the identity");
  const api = {};
  for (const role of Object.keys(users)) {
    api[role] = new Client(server.base);
    await api[role].login(users[role].email, PASSWORD);
  }
  // A second order for the phone run (uploaded through the API, processed meanwhile).
  const phoneOrder = await api.radiologist.post("/api/orders", { prescription: { anatomy: ["spine"], scan_type: "ct", bone_type: "hard", material_preferences: ["PLA"], notes: "phone review" }, patient_key: "b".repeat(64) });
  for (const f of files) await api.radiologist.upload(phoneOrder.id, f.split("/").pop(), readFileSync(f));
  await api.radiologist.post(`/api/orders/${phoneOrder.id}/actions/submit`, {});
  // A third order: an MRI sent as CT, which the pipeline flags.
  const mrFiles = writeSeries(join(data, "mr-abdomen-3mm", "mr.nii.gz"), join(seriesDir, "mr"), 20);
  const mrOrder = await api.radiologist.post("/api/orders", { prescription: { anatomy: ["lumbar spine"], scan_type: "ct", bone_type: "hard", material_preferences: [], notes: "MRI sent as CT" }, patient_key: "e".repeat(64) });
  for (const f of mrFiles) await api.radiologist.upload(mrOrder.id, f.split("/").pop(), readFileSync(f));
  await api.radiologist.post(`/api/orders/${mrOrder.id}/actions/submit`, {});

  // ---------------------------------------------------------------- 1. surgeon orders
  const surgeon = await newPage();
  const bodies = [];
  surgeon.on("request", (r) => {
    const b = r.postDataBuffer();
    if (b) bodies.push({ url: r.url(), body: b });
  });
  let orderId;
  await step("surgeon signs in", async () => {
    await surgeon.goto(`${server.base}/#/login`);
    await surgeon.waitForSelector('input[name="email"]');
    await shots.take(surgeon, "01-login");
    await login(surgeon, server.base, users.surgeon.email, PASSWORD);
    await surgeon.waitForSelector(".tasks, .card p.muted");
    await shots.take(surgeon, "02-dashboard-surgeon");
  });
  await step("new order: identity hashed, scan de-identified in the browser", async () => {
    await surgeon.click('a[href="#/new"]');
    await surgeon.waitForSelector('[data-testid="patient-id"]');
    await surgeon.fill('[data-testid="patient-id"]', IDENTITY.PatientID);
    await surgeon.fill('[data-testid="patient-birth"]', "1958-03-14");
    await surgeon.click('button:has-text("Generate")');
    await surgeon.waitForFunction(() => /^[0-9a-f]{16}…$/.test(document.querySelector('[data-testid="patient-key"]').textContent));
    await surgeon.setInputFiles('[data-testid="file-input"]', files);
    await surgeon.waitForSelector('[data-testid="deid-table"]');
    const deid = await surgeon.evaluate(() => window.__medprint.deid);
    assert.equal(deid.files, 30);
    const removed = new Map(deid.removed.map((r) => [r.keyword, r]));
    for (const k of ["PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "PatientAddress", "InstitutionName", "ReferringPhysicianName", "AccessionNumber", "PrivateAttribute"]) {
      assert.ok(removed.has(k), `${k} not in the removed table`);
    }
    assert.equal(removed.get("PatientName").action, "blanked");
    assert.equal(removed.get("SeriesInstanceUID").action, "replaced");
    // The table shows tags and names, never the values.
    const tableText = await surgeon.textContent('[data-testid="deid-table"]');
    for (const s of SECRETS) assert.ok(!tableText.includes(s), `table shows ${s}`);
    await surgeon.fill('[data-testid="anatomy"]', "pelvis, femur");
    await surgeon.selectOption('[data-testid="material"]', "PLA");
    await surgeon.fill('input[type="number"][max="130"]', "66");
    await surgeon.selectOption("select:has(option[value=female])", "female");
    await surgeon.fill('input[type="number"][max="500"]', "68");
    await surgeon.fill("textarea[placeholder^=Theatre]", "Theatre 3, Springfield General");
    await surgeon.waitForFunction(() => !/^–$/.test(document.querySelector(".quote").textContent.trim()));
    await shots.take(surgeon, "03-new-order-deidentified", { fullPage: true });
  });
  await step("resumable upload: a lost chunk is resumed, a dead connection is resumed by the user", async () => {
    await surgeon.evaluate(() => {
      window.__medprint.chunkSize = 8192;
      window.__medprint.maxRetries = 2;
    });
    let patches = 0;
    await surgeon.route("**/api/uploads/*", async (route) => {
      if (route.request().method() !== "PATCH") return route.continue();
      patches++;
      // One lost chunk (resumed by itself), later the line goes down for a while.
      if (patches === 5 || (patches >= 40 && patches < 60)) return route.abort("connectionreset");
      return route.continue();
    });
    await surgeon.click('[data-testid="create-upload"]');
    await surgeon.waitForSelector('.upload-box.failed', { timeout: 120000 });
    const stopped = await surgeon.textContent(".upload-box");
    assert.ok(/Upload stopped/.test(stopped), stopped);
    await shots.take(surgeon, "04-upload-interrupted");
    await surgeon.unroute("**/api/uploads/*");
    // The user presses Upload again: files already stored are skipped, the partial one resumes.
    await surgeon.click('[data-testid="create-upload"]');
    await surgeon.waitForSelector('[data-testid="submit-order"]:not([disabled])', { timeout: 120000 });
    const up = await surgeon.evaluate(() => window.__medprint.upload);
    assert.equal(up.filesDone, 30);
    assert.ok(up.skipped >= 1, `files already on the server are skipped (${up.skipped})`);
    log(`  first run stopped after ${patches} PATCH requests; second run skipped ${up.skipped} stored files`);
    await shots.take(surgeon, "05-uploaded");
    await surgeon.click('[data-testid="submit-order"]');
    await surgeon.waitForURL(/#\/orders\/[^/]+$/);
    orderId = decodeURIComponent(surgeon.url().split("/orders/")[1]);
    log(`  order ${orderId}`);
  });

  // ---------------------------------------------------------------- 2. nothing identifying arrived
  await step("no identifying tag reached the server", async () => {
    for (const { url, body } of bodies) {
      const text = body.toString("latin1");
      for (const s of SECRETS) assert.ok(!text.includes(s), `request to ${url} carried ${s}`);
    }
    const inputs = join(server.dataDir, "objects", "orders", orderId, "inputs");
    const stored = readdirSync(inputs).filter((f) => f.endsWith(".dcm"));
    assert.equal(stored.length, 30);
    for (const dir of readdirSync(join(server.dataDir, "objects", "orders"))) {
      const p = join(server.dataDir, "objects", "orders", dir, "inputs");
      if (!existsSync(p)) continue;
      for (const f of readdirSync(p).filter((x) => x.endsWith(".dcm"))) {
        const text = readFileSync(join(p, f)).toString("latin1");
        for (const s of SECRETS) assert.ok(!text.includes(s), `${dir}/${f} contains ${s}`);
      }
    }
    // The server de-identifies again on arrival: it found nothing left to remove but UIDs.
    const rows = await api.surgeon.get(`/api/orders/${orderId}/files`);
    for (const r of rows.filter((x) => x.state === "stored")) {
      const left = (JSON.parse(r.deid_report || "{}").removed ?? []).filter((x) => !/UID$/.test(x.keyword));
      assert.deepEqual(left.map((x) => x.keyword), [], `${r.name}: the server still removed something`);
    }
    log(`  ${bodies.length} request bodies and every stored .dcm checked; the server found nothing left to remove`);
  });

  // ---------------------------------------------------------------- 3. progress, review
  await step("order page shows live progress, then review", async () => {
    await surgeon.waitForSelector(".stepper");
    await surgeon.waitForFunction(() => window.__medprint.progress, null, { timeout: 60000 });
    // Catch the job while it runs (it takes a few seconds) for the picture.
    await surgeon
      .waitForFunction(() => window.__medprint.progress?.job?.state === "running" && window.__medprint.progress.job.progress > 0.05, null, { timeout: 30000, polling: 50 })
      .catch(() => log("  (processing finished before a running state was seen)"));
    await shots.take(surgeon, "06-order-progress");
    await surgeon.waitForSelector('.stepper li.current:has-text("Review")', { timeout: 180000 });
    await surgeon.waitForSelector(".version .downloads a");
    await shots.take(surgeon, "07-order-review-ready", { fullPage: true });
  });
  await step("review: 3D geometry and slice overlay", async () => {
    await surgeon.click('a:has-text("Open review")');
    await reviewReady(surgeon);
    const tri = await surgeon.evaluate(() => window.__medprint.triangles);
    assert.ok(tri > 100, `triangles ${tri}`);
    const drawn = await surgeon.evaluate(() => window.__medprint.review.viewer.drawnPixels());
    assert.ok(drawn > 2000, `3D canvas has ${drawn} model pixels`);
    const overlay = await surgeon.evaluate(() => window.__medprint.review.overlay());
    assert.ok(overlay.axial > 0 && overlay.coronal > 0 && overlay.sagittal > 0, JSON.stringify(overlay));
    const tinted = await overlayTintedPixels(surgeon);
    assert.ok(tinted > 100, `overlay pixels on the slice canvases: ${tinted}`);
    log(`  ${tri} triangles, ${drawn} model pixels, overlay ${JSON.stringify(overlay)}, ${tinted} tinted pixels`);
  });
  await step("review: linked cursor, ruler, clipping", async () => {
    const hits = await surfacePoints(surgeon);
    assert.ok(hits.length >= 2, "the model is under the canvas");
    const before = await surgeon.evaluate(() => window.__medprint.review.slices.cursor.slice());
    const [x, y] = await canvasPoint(surgeon, ".viewer-canvas", ...hits[Math.floor(hits.length / 2)]);
    await surgeon.mouse.click(x, y);
    const after = await surgeon.evaluate(() => window.__medprint.review.slices.cursor.slice());
    assert.notDeepEqual(after, before, "clicking the model moves the slices");
    // ... to the bone that was clicked (glTF metres → LPS mm → voxel through the NIfTI affine).
    const near = await surgeon.evaluate(() => window.__medprint.review.slices.labelsNearCursor(2));
    assert.ok(near > 0, "the linked cursor lands on the segmented bone");
    // Clicking a slice moves the 3D marker.
    const [sx, sy] = await canvasPoint(surgeon, '.slice-canvas[data-pane="axial"]', 0.5, 0.5);
    await surgeon.mouse.click(sx, sy);
    // Ruler between the two most distant hits.
    await surgeon.click('.seg[aria-label="3D tool"] button[data-value="measure"]');
    const a = hits[0], b = hits[hits.length - 1];
    for (const p of [a, b]) {
      const [px, py] = await canvasPoint(surgeon, ".viewer-canvas", ...p);
      await surgeon.mouse.click(px, py);
    }
    const mm = await surgeon.evaluate(() => window.__medprint.review.measuredMm);
    assert.ok(mm > 5 && mm < 1000, `measured ${mm} mm`);
    log(`  ruler ${mm.toFixed(1)} mm`);
    await surgeon.selectOption('select[aria-label="Clipping plane"]', "y");
    await surgeon.fill('input[aria-label="Clipping plane position"]', "0.6");
    await surgeon.dispatchEvent('input[aria-label="Clipping plane position"]', "input");
    await shots.take(surgeon, "08-review-measure-clip");
    await surgeon.selectOption('select[aria-label="Clipping plane"]', "");
  });
  await step("review: annotation drawn on the 3D surface and on a slice, kept after reload", async () => {
    await surgeon.click('.seg[aria-label="3D tool"] button[data-value="draw"]');
    const hits = await surfacePoints(surgeon);
    const row = hits.filter((h) => Math.abs(h[1] - hits[Math.floor(hits.length / 2)][1]) < 0.001);
    const from = row[0], to = row[row.length - 1];
    const [x0, y0] = await canvasPoint(surgeon, ".viewer-canvas", ...from);
    const [x1, y1] = await canvasPoint(surgeon, ".viewer-canvas", ...to);
    await surgeon.mouse.move(x0, y0);
    await surgeon.mouse.down();
    for (let i = 1; i <= 12; i++) await surgeon.mouse.move(x0 + ((x1 - x0) * i) / 12, y0 + ((y1 - y0) * i) / 12 + Math.sin(i) * 3);
    await surgeon.mouse.up();
    await surgeon.waitForFunction(() => window.__medprint.review.pending === "surface");
    await surgeon.fill('[data-testid="annotation-text"]', "Check the left acetabular rim before printing");
    await surgeon.click('[data-testid="save-annotation"]');
    await surgeon.waitForFunction(() => window.__medprint.review.annotations >= 1);
    // A stroke on the axial slice.
    await surgeon.click('.seg[aria-label="Slice tool"] button[data-value="draw"]');
    const [ax, ay] = await canvasPoint(surgeon, '.slice-canvas[data-pane="axial"]', 0.4, 0.5);
    await surgeon.mouse.move(ax, ay);
    await surgeon.mouse.down();
    for (let i = 1; i <= 8; i++) await surgeon.mouse.move(ax + i * 6, ay + (i % 3) * 4);
    await surgeon.mouse.up();
    await surgeon.waitForFunction(() => window.__medprint.review.pending === "slice");
    await surgeon.fill('[data-testid="annotation-text"]', "Cortex looks thin here");
    await surgeon.click('[data-testid="save-annotation"]');
    await surgeon.waitForFunction(() => window.__medprint.review.annotations >= 2);
    await surgeon.evaluate(() => window.scrollTo(0, 0));
    await shots.take(surgeon, "09-review-annotated");
    await surgeon.reload();
    await reviewReady(surgeon);
    const texts = await surgeon.textContent(".annotations");
    assert.ok(texts.includes("Check the left acetabular rim") && texts.includes("Cortex looks thin"), texts);
    const d = await api.surgeon.get(`/api/orders/${orderId}`);
    const kinds = d.annotations.map((x) => JSON.parse(x.position).kind).sort();
    assert.deepEqual(kinds, ["slice", "surface"]);
  });

  // ---------------------------------------------------------------- 5. every gate through the UI
  await step("radiologist verifies the segmentation", async () => {
    const p = await newPage();
    await login(p, server.base, users.radiologist.email, PASSWORD);
    await p.waitForSelector(`a.task[data-order="${orderId}"][data-action="verify_segmentation"]`);
    await shots.take(p, "10-dashboard-radiologist");
    await p.click(`a.task[data-order="${orderId}"][data-action="verify_segmentation"]`);
    await reviewReady(p);
    await shots.take(p, "11-review-radiologist");
    await p.fill('[data-testid="review-comment"]', "Segmentation matches the scan; threshold fine.");
    await p.click('[data-action="verify_segmentation"]');
    await p.waitForSelector('.toast-ok:has-text("Segmentation verified")');
  });
  await step("surgeon approves the model with parts and material", async () => {
    await surgeon.reload();
    await reviewReady(surgeon);
    await surgeon.selectOption('[data-testid="print-material"]', "PLA");
    await surgeon.fill('[data-testid="review-comment"]', "Approved for theatre.");
    await surgeon.click('[data-action="approve_model"]');
    await surgeon.waitForSelector('.toast-ok:has-text("sign-off")');
    await waitState(api.surgeon, orderId, "sign_off", 10000);
  });
  await step("clinical director signs off the spend", async () => {
    const p = await newPage();
    await login(p, server.base, users.clinical_director.email, PASSWORD);
    await p.click(`a.task[data-order="${orderId}"][data-action="sign_off"]`);
    await p.waitForSelector('[data-testid="signoff-quote"]');
    await p.waitForFunction(() => !/^…$/.test(document.querySelector('[data-testid="signoff-quote"]').textContent.trim()));
    const gates = await p.textContent(".gates");
    assert.ok(/Model approved[\s\S]*Approved for theatre/.test(gates), gates);
    await shots.take(p, "12-sign-off", { fullPage: true });
    await p.click('[data-action="sign_off"]');
    await p.waitForURL(/#\/orders\/[^/]+$/);
    await waitState(api.clinical_director, orderId, "print_preparation", 10000);
  });
  await step("biomedical engineer approves the print plan", async () => {
    const p = await newPage();
    await login(p, server.base, users.biomedical_engineer.email, PASSWORD);
    await p.click('a[href="#/print"]');
    await p.waitForSelector(`[data-order="${orderId}"] [data-action="approve_print_plan"]`);
    await p.click(`[data-order="${orderId}"] [data-action="approve_print_plan"]`);
    await p.waitForSelector('.toast-ok:has-text("Print plan approved")');
  });
  const tech = await newPage();
  await step("print technician prints, measures (QC) and ships", async () => {
    await login(tech, server.base, users.print_technician.email, PASSWORD);
    await tech.click('a[href="#/print"]');
    const card = `[data-order="${orderId}"]`;
    await tech.waitForSelector(`${card} [data-action="start_printing"]:not([disabled])`);
    await tech.selectOption(`${card} [data-testid="printer"]`, { index: 1 });
    await shots.take(tech, "13-print-desk");
    await tech.click(`${card} [data-action="start_printing"]`);
    await tech.waitForSelector(`${card}[data-state="printing"] [data-action="finish_printing"]`);
    // The printer shown comes from the server's record of the action, not from this browser.
    await tech.evaluate(() => localStorage.clear());
    await tech.reload();
    await tech.waitForSelector(`${card}[data-state="printing"]:has-text("printer Prusa MK4 #2")`);
    await tech.click(`${card} [data-action="finish_printing"]`);
    await tech.waitForSelector(`${card}[data-state="quality_control"] [data-action="record_qc"]`);
    const rows = await tech.$$(`${card} .qc-table tbody tr`);
    assert.ok(rows.length >= 3, "QC rows prefilled from the model's size");
    for (const r of rows) {
      const model = Number(await r.$eval('input[aria-label="Model (mm)"]', (e) => e.value));
      await (await r.$('[data-testid="qc-measured"]')).fill((model + 0.2).toFixed(2));
    }
    await shots.take(tech, "14-quality-control");
    await tech.click(`${card} [data-action="record_qc"]`);
    await tech.waitForSelector(`${card} [data-action="ship"]`);
    await tech.fill(`${card} [data-testid="tracking"]`, "DHL 00340434161234567890");
    await tech.click(`${card} [data-action="ship"]`);
    await waitState(api.print_technician, orderId, "shipped", 10000);
  });
  await step("surgeon confirms the delivery", async () => {
    await surgeon.goto(`${server.base}/#/orders/${orderId}`);
    await surgeon.waitForSelector('[data-action="confirm_delivery"]');
    await surgeon.click('[data-action="confirm_delivery"]');
    await surgeon.waitForSelector('.stepper li.current:has-text("Delivered")');
    await shots.take(surgeon, "15-delivered", { fullPage: true });
    const d = await api.surgeon.get(`/api/orders/${orderId}`);
    assert.equal(d.order.state, "delivered");
  });
  await step("organisation admin: audit trail intact, users", async () => {
    const p = await newPage();
    await login(p, server.base, users.org_admin.email, PASSWORD);
    await p.goto(`${server.base}/#/orders/${orderId}/audit`);
    await p.waitForSelector('[data-testid="chain-status"]');
    assert.ok((await p.textContent('[data-testid="chain-status"]')).includes("Chain intact"));
    await shots.take(p, "16-audit-trail");
    await p.click('a[href="#/admin"]');
    await p.waitForSelector("table.users");
    await p.fill('[data-testid="user-name"]', "Dr New Surgeon");
    await p.fill('[data-testid="user-email"]', `new-surgeon-${Date.now()}@example.org`);
    await p.fill('[data-testid="user-password"]', "another long password");
    await p.click('[data-testid="create-user"]');
    await p.waitForSelector('td:has-text("Dr New Surgeon")');
    await shots.take(p, "17-admin-users");
  });

  // ---------------------------------------------------------------- phone
  await step("phone (390×844): review with a touch annotation", async () => {
    await waitState(api.radiologist, phoneOrder.id, "review");
    const phone = await newPage({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await login(phone, server.base, users.radiologist.email, PASSWORD);
    await shots.take(phone, "18-phone-dashboard");
    await phone.goto(`${server.base}/#/orders/${phoneOrder.id}/review`);
    await reviewReady(phone);
    assert.ok((await phone.evaluate(() => window.__medprint.triangles)) > 100);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width} px wide)`);
    await phone.click('.seg[aria-label="3D tool"] button[data-value="draw"]');
    const hits = await surfacePoints(phone);
    assert.ok(hits.length >= 2);
    const mid = hits[Math.floor(hits.length / 2)];
    const row = hits.filter((h) => Math.abs(h[1] - mid[1]) < 0.001);
    const [x0, y0] = await canvasPoint(phone, ".viewer-canvas", ...row[0]);
    const [x1, y1] = await canvasPoint(phone, ".viewer-canvas", ...row[row.length - 1]);
    const cdp = await phone.context().newCDPSession(phone);
    const touch = (type, x, y) => cdp.send("Input.dispatchTouchEvent", { type, touchPoints: type === "touchEnd" ? [] : [{ x, y, id: 1 }] });
    await touch("touchStart", x0, y0);
    for (let i = 1; i <= 10; i++) await touch("touchMove", x0 + ((x1 - x0) * i) / 10, y0 + ((y1 - y0) * i) / 10);
    await touch("touchEnd", x1, y1);
    await phone.waitForFunction(() => window.__medprint.review.pending === "surface");
    await phone.fill('[data-testid="annotation-text"]', "Touch note: vertebral body outline");
    await phone.click('[data-testid="save-annotation"]');
    await phone.waitForFunction(() => window.__medprint.review.annotations >= 1);
    const d = await api.radiologist.get(`/api/orders/${phoneOrder.id}`);
    assert.equal(JSON.parse(d.annotations[0].position).kind, "surface");
    await phone.evaluate(() => window.scrollTo(0, 0));
    await shots.take(phone, "19-phone-review");
    await shots.take(phone, "20-phone-review-full", { fullPage: true });
    // Brush edits on a slice travel with a change request; a new version is made.
    await phone.click('.seg[aria-label="Slice tool"] button[data-value="brush"]');
    const [bx, by] = await canvasPoint(phone, '.slice-canvas[data-pane="axial"]', 0.5, 0.6);
    await touch("touchStart", bx, by);
    for (let i = 1; i <= 6; i++) await touch("touchMove", bx + i * 4, by);
    await touch("touchEnd", bx + 24, by);
    await phone.waitForFunction(() => /Edits: \+[1-9]\d*/.test(document.querySelector('[data-testid="edit-info"]').textContent));
    await phone.click("details.changes summary");
    await phone.fill('input[aria-label="Threshold (HU)"]', "160");
    await phone.fill('[data-testid="review-comment"]', "Fill the gap in the vertebral arch");
    await phone.click('[data-action="request_changes"]');
    await phone.waitForURL(/#\/orders\/[^/]+$/);
    const v2 = await waitState(api.radiologist, phoneOrder.id, "review");
    assert.equal(v2.order.current_version, 2);
    const v2params = v2.versions.find((v) => v.version === 2).params;
    assert.equal(v2params.threshold_hu, 160);
    // The stroke reached the pipeline as a label edit on the axial slice and was applied.
    assert.equal(v2params.label_edits.length, 1);
    assert.equal(v2params.label_edits[0].mode, "add");
    assert.equal(v2params.label_edits[0].normal_axis, 2);
    assert.ok(v2params.label_edits[0].points_vox.length >= 2);
    const v2report = await api.radiologist.get(`/api/orders/${phoneOrder.id}/versions/2/files/report.json`);
    assert.equal(v2report.segmentation.edits.strokes, 1);
    assert.ok(v2report.segmentation.edits.voxels_added > 0, JSON.stringify(v2report.segmentation.edits));
    await phone.waitForSelector('.version[data-version="2"]');
  });
  await step("anomalies in plain words: an MRI sent as CT", async () => {
    const end = Date.now() + 120000;
    let d;
    do {
      d = await api.radiologist.get(`/api/orders/${mrOrder.id}`);
      const job = d.jobs[d.jobs.length - 1];
      if (d.order.state === "review" || job?.state === "failed") break;
      await new Promise((r) => setTimeout(r, 500));
    } while (Date.now() < end);
    const p = await newPage();
    await login(p, server.base, users.radiologist.email, PASSWORD);
    await p.goto(`${server.base}/#/orders/${mrOrder.id}`);
    await p.waitForSelector(".finding, .stage.error-text, .findings");
    const text = await p.textContent("main");
    assert.ok(/MR|CT|modality|scan type|failed/i.test(text), "the mismatch is reported");
    await shots.take(p, "21-findings-mri-as-ct", { fullPage: true });
  });
  await step("a series without UIDs: every file stored; a failed run explains itself and is re-run", async () => {
    // No Study/Series/SOP Instance UID in any file, equal names in two folders.
    const uidless = writeSeries(join(data, "ct-abdomen-3mm", "ct.nii.gz"), join(seriesDir, "uidless"), 30, { uids: false, folders: 2 });
    const names = uidless.map((f) => f.split("/").pop());
    assert.ok(new Set(names).size < names.length, "equal names in two folders");
    // A stray note among them is refused with a plain reason; it does not hold the order back.
    const note = join(seriesDir, "uidless", "notes.txt");
    writeFileSync(note, "scan of 2024-01-02, see the report");
    await surgeon.goto(`${server.base}/#/new`);
    await surgeon.waitForSelector('[data-testid="patient-id"]');
    await surgeon.fill('[data-testid="patient-id"]', "MRN-0077");
    await surgeon.waitForFunction(() => /^[0-9a-f]{16}…$/.test(document.querySelector('[data-testid="patient-key"]').textContent));
    await surgeon.setInputFiles('[data-testid="file-input"]', [...uidless, note]);
    await surgeon.waitForFunction(() => window.__medprint.deid?.chosen === 31, null, { timeout: 60000 });
    assert.equal(await surgeon.evaluate(() => window.__medprint.deid.files), 30, "no file taken for a duplicate");
    await surgeon.fill('[data-testid="anatomy"]', "pelvis");
    await surgeon.click('[data-testid="create-upload"]');
    await surgeon.waitForSelector('[data-testid="submit-order"]:not([disabled])', { timeout: 120000 });
    const count = await surgeon.textContent('.upload-box [data-testid="stored-count"]');
    assert.match(count, /^30 of 31 files stored, 1 refused$/, count);
    const refused = await surgeon.textContent('.upload-box [data-testid="refused-list"]');
    assert.match(refused, /notes\.txt — not a DICOM file/, refused);
    // Hostile: the submission asks for a threshold above every voxel, so the run finds no bone.
    await surgeon.route("**/actions/submit", (route) => route.continue({ postData: JSON.stringify({ params: { threshold_hu: 3000, print_ready: false } }) }));
    await surgeon.click('[data-testid="submit-order"]');
    await surgeon.waitForURL(/#\/orders\/[^/]+$/);
    await surgeon.unroute("**/actions/submit");
    const id = decodeURIComponent(surgeon.url().split("/orders/")[1]);
    const files = await api.surgeon.get(`/api/orders/${id}/files`);
    assert.equal(files.filter((f) => f.state === "stored").length, 30, "every file stored on the server");
    await surgeon.waitForSelector('[data-testid="job-error"]:not([hidden])', { timeout: 120000 });
    const shown = await surgeon.textContent('[data-testid="job-error"]');
    assert.match(shown, /^No bone was found/, shown);
    const page = await surgeon.textContent("main");
    for (const leak of [server.dataDir, "job-", ".dcm", "Error", "{"]) assert.ok(!shown.includes(leak), `the failure shows ${leak}: ${shown}`);
    assert.ok(!page.includes(server.dataDir), "no server path on the page");
    // Re-run from the failed order's page with other parameters: threshold estimated, CT.
    await surgeon.waitForSelector('details[data-testid="rerun"][open]');
    await surgeon.fill('[data-testid="rerun-threshold"]', "");
    await surgeon.selectOption('[data-testid="rerun-modality"]', "ct");
    await surgeon.click('[data-action="rerun"]');
    await surgeon.waitForSelector('.stepper li.current:has-text("Review")', { timeout: 180000 });
    const d = await api.surgeon.get(`/api/orders/${id}`);
    const params = JSON.parse(d.jobs[d.jobs.length - 1].params);
    assert.equal(params.threshold_hu, null);
    assert.equal(params.modality, "ct");
    assert.equal(params.print_ready, false);
    const report = await api.surgeon.get(`/api/orders/${id}/versions/${d.order.current_version}/files/report.json`);
    assert.equal(report.input.dims[2], 30, "the 30 UID-less files load as one volume");
    log(`  "${count}"; failure shown: "${shown.slice(0, 60)}…"; re-run reached review`);
  });
  await step("new order: a dropped folder of files", async () => {
    await surgeon.goto(`${server.base}/#/new`);
    await surgeon.fill('[data-testid="patient-id"]', "MRN-0099");
    await surgeon.waitForFunction(() => /^[0-9a-f]{16}…$/.test(document.querySelector('[data-testid="patient-key"]').textContent));
    const payload = files.slice(0, 5).map((f) => ({ name: f.split("/").pop(), b64: readFileSync(f).toString("base64") }));
    await surgeon.evaluate((items) => {
      const dt = new DataTransfer();
      for (const it of items) dt.items.add(new File([Uint8Array.from(atob(it.b64), (c) => c.charCodeAt(0))], it.name, { type: "application/dicom" }));
      const zone = document.querySelector(".dropzone");
      zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, payload);
    await surgeon.waitForFunction(() => window.__medprint.deid?.files === 5);
  });
  await step("system administrator: organisations", async () => {
    const p = await newPage();
    await login(p, server.base, "admin@localhost", ADMIN_PASSWORD);
    await p.waitForSelector('[data-testid="org-name"]');
    await p.fill('[data-testid="org-name"]', "Shelbyville Clinic");
    await p.click('button:has-text("Create organisation")');
    await p.waitForSelector('td:has-text("Shelbyville Clinic")');
    await shots.take(p, "22-system-admin");
  });
  log(`✓ all steps passed; screenshots: ${shots.list.join(", ")}`);
} catch (e) {
  failed = true;
  console.error(`✗ step "${current}" failed:\n${e.stack ?? e}`);
  for (const [i, p] of pages.entries()) {
    try {
      await p.screenshot({ path: join(outDir, `FAIL-${i}.png`), fullPage: true });
    } catch {}
  }
  console.error(`screenshots of the open pages and the server log are in ${outDir}`);
} finally {
  await browser.close();
  await server.stop({ keep: failed && !!process.env.KEEP });
  rmSync(seriesDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
