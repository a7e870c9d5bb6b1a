import { defineConfig } from "vite";

// Served by `medprint serve` from the binary at `/`; the dev server proxies the API.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
