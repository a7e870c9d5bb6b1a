// Browser helpers: Debian's chromium through playwright-core, screenshots and their reduced
// copies for the README (800 px wide JPEG, at most 100 KB).
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export async function launch() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} not found: apt-get install -y chromium (or set CHROMIUM)`);
  return chromium.launch({
    executablePath,
    headless: true,
    // WebGL without a GPU: SwiftShader.
    args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--disable-dev-shm-usage"],
  });
}

export class Shots {
  constructor(browser, fullDir, smallDir) {
    this.browser = browser;
    this.fullDir = fullDir;
    this.smallDir = smallDir;
    this.list = [];
    mkdirSync(fullDir, { recursive: true });
    mkdirSync(smallDir, { recursive: true });
    // Pictures of an earlier run go: the set always matches this run.
    for (const [dir, ext] of [[fullDir, ".png"], [smallDir, ".jpg"]]) {
      for (const f of readdirSync(dir)) if (f.endsWith(ext)) rmSync(join(dir, f));
    }
  }
  async take(page, name, opts = {}) {
    const file = join(this.fullDir, `${name}.png`);
    // A sticky header would be painted in the middle of a full-page shot.
    const style = opts.fullPage ? await page.addStyleTag({ content: ".topbar { position: static !important; }" }) : null;
    await page.screenshot({ path: file, fullPage: opts.fullPage ?? false, animations: "disabled" });
    if (style) await style.evaluate((e) => e.remove());
    await this.reduce(file, join(this.smallDir, `${name}.jpg`));
    this.list.push(name);
    return file;
  }
  /** 800 px wide (or less) JPEG under 100 KB, made in a blank page. */
  async reduce(png, jpg) {
    if (!this.page) {
      const ctx = await this.browser.newContext();
      this.page = await ctx.newPage();
    }
    const b64 = readFileSync(png).toString("base64");
    const dataUrl = await this.page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      let w = Math.min(800, img.naturalWidth);
      while (true) {
        const hgt = Math.round((img.naturalHeight * w) / img.naturalWidth);
        const c = document.createElement("canvas");
        c.width = w;
        c.height = hgt;
        const g = c.getContext("2d");
        g.imageSmoothingQuality = "high";
        g.drawImage(img, 0, 0, w, hgt);
        for (let q = 0.82; q >= 0.5; q -= 0.08) {
          const out = c.toDataURL("image/jpeg", q);
          if (out.length * 0.75 <= 100 * 1000) return out;
        }
        w = Math.round(w * 0.85);
      }
    }, `data:image/png;base64,${b64}`);
    writeFileSync(jpg, Buffer.from(dataUrl.split(",")[1], "base64"));
  }
}

/** Signs in through the login form. */
export async function login(page, base, email, password) {
  await page.goto(`${base}/#/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  await page.waitForSelector(".topbar .who-name", { state: "attached" });
}
