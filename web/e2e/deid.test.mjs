// Unit test of the in-browser de-identification (src/deid.ts, loaded through Vite in Node):
// the written series keeps geometry and pixels, loses every identifying value, keeps UIDs
// consistent within a series; real files in every transfer syntax of the shared data stay
// readable with identical pixel data.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";
import dcmjs from "dcmjs";
import { writeSeries, IDENTITY } from "./lib/series.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const data = process.env.MEDPRINT_DATA ?? resolve(web, "..", "..", "shared", "data");

const vite = await createServer({ root: web, logLevel: "error", server: { middlewareMode: true, hmr: false }, appType: "custom" });
let failures = 0;
async function test(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n     ${e.stack ?? e}`);
  }
}
try {
  const { Deidentifier, summarise, NotDicomError } = await vite.ssrLoadModule("/src/deid.ts");
  const ab = (buf) => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const read = (bytes) => dcmjs.data.DicomMessage.readFile(ab(Buffer.from(bytes)));
  const tmp = mkdtempSync(join(tmpdir(), "medprint-deid-"));

  await test("a written CT series loses its identity and keeps geometry and pixels", async () => {
    const files = writeSeries(join(data, "ct-abdomen-3mm", "ct.nii.gz"), tmp, 6);
    const d = new Deidentifier("salt-1");
    const results = [];
    for (const f of files) results.push(await d.deidentify(f, ab(readFileSync(f))));
    for (const [i, r] of results.entries()) {
      const text = Buffer.from(r.bytes).toString("latin1");
      for (const secret of ["DOE^JANE", "MRN-0042", "19580314", "Springfield", "HOUSE^GREGORY", "ACC-778899", "ACME"]) {
        assert.ok(!text.includes(secret), `${secret} left in file ${i}`);
      }
      const before = read(readFileSync(files[i]));
      const after = read(r.bytes);
      for (const tag of ["00200032", "00200037", "00280030", "00280010", "00280011", "00080060", "00101010", "00100040"]) {
        assert.deepEqual(after.dict[tag]?.Value, before.dict[tag]?.Value, `tag ${tag} changed`);
      }
      assert.deepEqual(new Uint8Array(after.dict["7FE00010"].Value[0]), new Uint8Array(before.dict["7FE00010"].Value[0]));
      assert.equal(after.dict["00100010"].Value.length, 0);
      assert.equal(after.dict["00120062"].Value[0], "YES");
      assert.notEqual(after.dict["00080018"].Value[0], before.dict["00080018"].Value[0]);
      assert.equal(after.meta["00020003"].Value[0], after.dict["00080018"].Value[0]);
    }
    const series = new Set(results.map((r) => read(r.bytes).dict["0020000E"].Value[0]));
    assert.equal(series.size, 1, "one series after UID replacement");
    const sops = new Set(results.map((r) => r.sopInstanceUid));
    assert.equal(sops.size, results.length);
    const rows = summarise(results);
    const names = rows.map((r) => r.keyword);
    for (const k of ["PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs", "PatientAddress", "InstitutionName", "ReferringPhysicianName", "AccessionNumber", "SeriesInstanceUID", "PrivateAttribute"]) {
      assert.ok(names.includes(k), `${k} missing from the report: ${names}`);
    }
    assert.ok(rows.every((r) => r.files === results.length || r.keyword.startsWith("Private")));
    // Deterministic: the same input and salt give the same bytes (uploads resume / de-duplicate).
    const again = await new Deidentifier("salt-1").deidentify(files[0], ab(readFileSync(files[0])));
    assert.deepEqual(Buffer.from(again.bytes), Buffer.from(results[0].bytes));
    const other = await new Deidentifier("salt-2").deidentify(files[0], ab(readFileSync(files[0])));
    assert.notEqual(other.sopInstanceUid, results[0].sopInstanceUid);
  });

  await test("files without UIDs stay distinct files: no UID is invented, none is shared", async () => {
    const files = writeSeries(join(data, "ct-abdomen-3mm", "ct.nii.gz"), join(tmp, "uidless"), 6, { uids: false, folders: 2 });
    const names = files.map((f) => f.split("/").pop());
    assert.ok(new Set(names).size < names.length, "equal names in two folders");
    const d = new Deidentifier("salt-u");
    const results = [];
    for (const f of files) results.push(await d.deidentify(f, ab(readFileSync(f))));
    const { sha256Hex } = await vite.ssrLoadModule("/src/upload.ts");
    const hashes = new Set(await Promise.all(results.map((r) => sha256Hex(r.bytes))));
    assert.equal(hashes.size, files.length, "every file keeps its own content");
    for (const r of results) {
      assert.equal(r.sopInstanceUid, "", "no SOP Instance UID is invented");
      assert.equal(r.seriesUid, "");
      const after = read(r.bytes);
      assert.equal(after.dict["00080018"], undefined);
      assert.ok(!Buffer.from(r.bytes).toString("latin1").includes("DOE^JANE"));
    }
  });

  await test("a zip is expanded in the browser (every member de-identified on its own)", async () => {
    const { expandZips } = await vite.ssrLoadModule("/src/files.ts");
    const { zipSync } = await import("fflate");
    const files = writeSeries(join(data, "ct-abdomen-3mm", "ct.nii.gz"), join(tmp, "zip"), 4);
    const zip = zipSync(Object.fromEntries(files.map((f, i) => [`series/IM${i}.dcm`, new Uint8Array(readFileSync(f))])));
    const { files: members, skipped } = await expandZips([{ path: "scan.zip", size: zip.length, read: async () => zip.buffer }]);
    assert.equal(members.length, 4);
    assert.equal(skipped.length, 0);
    const d = new Deidentifier("z");
    for (const m of members) {
      const r = await d.deidentify(m.path, await m.read());
      assert.ok(!Buffer.from(r.bytes).toString("latin1").includes("DOE^JANE"));
    }
  });

  await test("not DICOM is refused", async () => {
    await assert.rejects(new Deidentifier("s").deidentify("x.txt", ab(Buffer.from("hello world, not dicom at all".repeat(10)))), NotDicomError);
  });

  const samples = [];
  for (const dir of [join(data, "dicom-transfer-syntaxes", "In"), join(data, "dicom-samples")]) {
    if (existsSync(dir)) for (const name of readdirSync(dir).sort()) if (!/\.(md|txt|json)$/i.test(name)) samples.push(join(dir, name));
  }
  {
    for (const path of samples) {
      const name = path.split("/").slice(-2).join("/");
      await test(`real file ${name}: same pixel data after de-identification (or refused)`, async () => {
        const bytes = readFileSync(path);
        let r;
        try {
          r = await new Deidentifier("s").deidentify(name, ab(bytes));
        } catch (e) {
          if (e instanceof NotDicomError) {
            console.log(`     (refused: ${e.message})`);
            return;
          }
          throw e;
        }
        const after = read(r.bytes);
        const px = (d) => (d.dict["7FE00010"].Value ?? []).map((v) => Buffer.from(new Uint8Array(v)).toString("hex")).join("|");
        if (bytes.subarray(128, 132).toString("latin1") !== "DICM") {
          // A bare data set (no preamble): the pixels are found unchanged in the original bytes.
          const pixels = Buffer.from(new Uint8Array(after.dict["7FE00010"].Value[0]));
          assert.ok(pixels.length > 1000 && bytes.indexOf(pixels) > 0);
          return;
        }
        const before = read(bytes);
        assert.equal(px(after), px(before));
        assert.equal(after.meta["00020010"].Value[0], before.meta["00020010"].Value[0]);
      });
    }
  }
  rmSync(tmp, { recursive: true, force: true });
} finally {
  await vite.close();
}
if (failures) {
  console.log(`${failures} failed`);
  process.exit(1);
}
