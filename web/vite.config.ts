import { defineConfig, type Plugin } from "vite";

// The CSP the server sends (crates/server/src/web.rs), also as a meta tag in the built page so that
// the app is checked against it even behind a server that does not send it.
const CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
  "worker-src 'self' blob:; connect-src 'self'";

function cspMeta(): Plugin {
  return {
    name: "medprint-csp-meta",
    apply: "build",
    transformIndexHtml(html) {
      return html.replace("<head>", `<head>\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`);
    },
  };
}

// Served by `medprint serve` at `/` (from web/dist); `npm run dev` proxies the API to a local server.
export default defineConfig({
  base: "/",
  plugins: [cspMeta()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2500, sourcemap: false, target: "es2022" },
  server: { proxy: { "/api": { target: process.env.MEDPRINT_URL ?? "http://127.0.0.1:8090", changeOrigin: false } } },
});
