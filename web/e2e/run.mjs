// npm test: the de-identification unit test, then the end-to-end flow against a real server.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
let failed = 0;
for (const t of ["deid.test.mjs", "flow.test.mjs"]) {
  if (only && !t.startsWith(only)) continue;
  console.log(`\n=== ${t}`);
  const r = spawnSync(process.execPath, [join(here, t)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
console.log(failed ? `\n${failed} test file(s) failed` : "\nall tests passed");
process.exit(failed ? 1 : 0);
