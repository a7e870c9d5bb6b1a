// Starts a real `medprint serve` on a free port with a temporary data directory.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, existsSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ADMIN_PASSWORD = "correct horse battery staple";

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export async function startServer({ bin, webDist, logFile }) {
  if (!existsSync(bin)) throw new Error(`medprint binary not found at ${bin} (set MEDPRINT_BIN)`);
  if (!existsSync(join(webDist, "index.html"))) throw new Error(`${webDist}/index.html missing: run npm run build first`);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "medprint-e2e-"));
  const args = ["serve", "--bind", `127.0.0.1:${port}`, "--data-dir", dataDir, "--admin-password", ADMIN_PASSWORD, ...(process.env.MEDPRINT_WEB_DIR ? ["--web", resolve(process.env.MEDPRINT_WEB_DIR)] : []), "--lease-secs", "2", "--log", "info"];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  const log = logFile ? createWriteStream(logFile) : null;
  child.stdout.on("data", (b) => log?.write(b));
  child.stderr.on("data", (b) => log?.write(b));
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  while (true) {
    if (exited !== null) throw new Error(`medprint serve exited with ${exited} (log: ${logFile})`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) break;
    } catch {}
    if (Date.now() - t0 > 60000) throw new Error("medprint serve did not start within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    dataDir,
    async stop({ keep = false } = {}) {
      if (exited === null) {
        child.kill("SIGTERM");
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill("SIGKILL");
            r();
          }, 5000);
          child.on("exit", () => {
            clearTimeout(t);
            r();
          });
        });
      }
      log?.end();
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
