// In-browser de-identification of DICOM files with dcmjs (DICOM PS3.15 Annex E basic
// application level confidentiality profile, with the "retain patient characteristics" option:
// sex, age, size and weight stay because the pipeline uses them). The attribute table is the
// server's (src/deid-profile.ts is generated from crates/deid/src/profile.rs).
//
// Identifying attributes are removed (X), emptied (Z) or given a dummy value (D); UIDs are
// replaced (U) consistently:
// the same original UID always maps to the same new UID within an order (keyed by a salt derived
// from the keyed patient hash), so slices of a series stay one series and a re-run after a
// broken upload produces identical bytes (the server then resumes or skips them).
// Private attributes and overlays are removed. The result is checked: no removed value may
// appear anywhere in the written bytes. The report lists tag and name only, never values.
//
// No DOM here: the module also runs in Node (unit test).

import dcmjs from "dcmjs";
import { PROFILE } from "./deid-profile";

const { DicomMessage, DicomMetaDictionary, DicomDict } = (dcmjs as any).data;
// dcmjs reports ambiguous VRs (xs, ox) of the dictionary as errors while it resolves them: noise.
(dcmjs as any).log?.getLogger?.("validation.dcmjs")?.setLevel?.("silent");

export type DeidAction = "removed" | "blanked" | "dummy" | "replaced";

export interface DeidChange {
  tag: string; // "(0010,0010)"
  keyword: string;
  action: DeidAction;
}

export interface DeidFileResult {
  name: string;
  bytes: Uint8Array;
  changes: DeidChange[];
  sopInstanceUid: string;
  seriesUid: string;
  modality: string;
  rows: number;
  columns: number;
  burnedIn: boolean;
}

export class NotDicomError extends Error {}
export class DeidLeakError extends Error {}

/** Dummy values of action D by VR (as the server's medprint-deid does). */
function dummyFor(vr: string): string | null {
  switch (vr) {
    case "DA":
      return "19000101";
    case "TM":
      return "000000";
    case "DT":
      return "19000101000000";
    case "AS":
      return "000Y";
    case "PN":
    case "LO":
    case "SH":
    case "LT":
    case "ST":
    case "UT":
    case "UC":
    case "CS":
    case "AE":
      return "ANONYMIZED";
    default:
      return null;
  }
}

/** Attributes whose values identify the patient: the written file is searched for them. */
const IDENTITY_TAGS = new Set([
  "00100010", "00100020", "00100030", "00101000", "00101001", "00101005", "00101040", "00101060",
  "00102154", "00101090", "00080050", "00380010",
]);

const MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10";

function punctuate(tag: string): string {
  return `(${tag.slice(0, 4)},${tag.slice(4, 8)})`;
}

function keywordOf(tag: string): string {
  const entry = DicomMetaDictionary.dictionary[punctuate(tag)];
  return entry?.name ?? "Unknown";
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The texts of a value (strings, person names and their components) for the leak check. */
function textsOf(value: any, out: string[] = []): string[] {
  collectTexts(value, out);
  return out;
}

function collectTexts(value: any, out: string[]) {
  if (value === null || value === undefined) return;
  if (typeof value === "string") {
    // Whole values only (and each value of a multi-valued string): name fragments such as a
    // four-digit component would also match unrelated attributes.
    for (const v of value.split("\\")) if (v.trim()) out.push(v.trim());
    // Person names: also "FAMILY^GIVEN" without the trailing components.
    const pn = value.split("^");
    if (pn.length > 2 && pn[0] && pn[1]) out.push(`${pn[0]}^${pn[1]}`);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTexts(v, out);
  } else if (typeof value === "object" && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) collectTexts(v, out);
  }
}

/**
 * One de-identification run over the files of an order: holds the UID map so that
 * every file of a series gets the same new series UID.
 */
export class Deidentifier {
  private uidMap = new Map<string, Promise<string>>();

  constructor(private salt: string) {}

  /** New UID for `uid`: 2.25.<128-bit hash of salt and uid> (deterministic per order). */
  newUid(uid: string): Promise<string> {
    let p = this.uidMap.get(uid);
    if (!p) {
      p = crypto.subtle.digest("SHA-256", new TextEncoder().encode(`medprint-web-uid:${this.salt}:${uid}`)).then((d) => {
        const n = BigInt("0x" + hex(d).slice(0, 32));
        return `2.25.${n.toString()}`;
      });
      this.uidMap.set(uid, p);
    }
    return p;
  }

  async deidentify(name: string, buffer: ArrayBuffer): Promise<DeidFileResult> {
    let bytes: Uint8Array<ArrayBuffer> = new Uint8Array(buffer);
    if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== "DICM") {
      const headless = withPreamble(bytes);
      if (!headless) throw new NotDicomError(`${name}: not a DICOM file`);
      bytes = headless;
      buffer = bytes.buffer as ArrayBuffer;
    }
    let dicom: any;
    try {
      dicom = DicomMessage.readFile(buffer, { ignoreErrors: true, untilTag: null, includeUntilTagValue: false, noCopy: false, forceStoreRaw: false });
    } catch (e) {
      throw new NotDicomError(`${name}: the DICOM file could not be read (${e instanceof Error ? e.message : e})`);
    }
    const dict: Record<string, any> = dicom.dict;
    const meta: Record<string, any> = dicom.meta;
    const sopClass = meta["00020002"]?.Value?.[0] ?? dict["00080016"]?.Value?.[0] ?? "";
    if (sopClass === MEDIA_STORAGE_DIRECTORY) throw new NotDicomError(`${name}: a DICOMDIR index, not an image (skipped)`);
    if (!dict["7FE00010"]) throw new NotDicomError(`${name}: no pixel data (not an image)`);

    const changes = new Map<string, DeidChange>();
    const removedTexts: Array<[string, string]> = [];
    const note = (tag: string, action: DeidAction, keyword?: string) => {
      const key = `${tag}:${action}`;
      if (!changes.has(key)) changes.set(key, { tag: punctuate(tag), keyword: keyword ?? keywordOf(tag), action });
    };

    const originalSeries = dict["0020000E"]?.Value?.[0] ?? "";
    const burnedIn = String(dict["00280301"]?.Value?.[0] ?? "").toUpperCase() === "YES";

    const walk = async (ds: Record<string, any>) => {
      for (const tag of Object.keys(ds)) {
        const el = ds[tag];
        const group = parseInt(tag.slice(0, 4), 16);
        const element = tag.slice(4, 8);
        if (group % 2 === 1) {
          delete ds[tag];
          const el16 = parseInt(element, 16);
          note(tag, "removed", el16 >= 0x10 && el16 <= 0xff ? "PrivateCreator" : "PrivateAttribute");
          continue;
        }
        // Curves (50xx) and overlays (60xx) go whole; so do stale group lengths.
        if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
          delete ds[tag];
          note(tag, "removed", (group & 0xff00) === 0x5000 ? "CurveData" : "OverlayPlane");
          continue;
        }
        if (element === "0000" && group !== 0x0002) {
          delete ds[tag];
          continue;
        }
        const rule = PROFILE[tag];
        const action = rule?.[0] ?? "K";
        const keyword = rule?.[1] ?? keywordOf(tag);
        const identity = IDENTITY_TAGS.has(tag);
        if (identity) for (const t of textsOf(el.Value)) removedTexts.push([t, keyword]);
        const hasValue = Array.isArray(el.Value) && el.Value.some((v: any) => v !== "" && v !== null && v !== undefined);
        switch (action) {
          case "X":
            delete ds[tag];
            note(tag, "removed", keyword);
            break;
          case "Z":
            el.Value = [];
            if (hasValue) note(tag, "blanked", keyword);
            break;
          case "D": {
            const dummy = dummyFor(el.vr);
            el.Value = dummy === null ? [] : el.vr === "PN" ? [{ Alphabetic: dummy }] : [dummy];
            if (hasValue) note(tag, dummy === null ? "blanked" : "dummy", keyword);
            break;
          }
          case "U":
            if (el.vr === "UI" && hasValue) {
              el.Value = await Promise.all((el.Value as string[]).map((v) => (v ? this.newUid(String(v).replace(/\0/g, "").trim()) : v)));
              note(tag, "replaced", keyword);
            }
            break;
          default:
            if (el.vr === "SQ" && Array.isArray(el.Value)) {
              for (const item of el.Value) if (item && typeof item === "object") await walk(item);
            }
        }
      }
    };
    await walk(dict);

    // Patient identity removed (PS3.15 E.1.1) and how.
    dict["00120062"] = { vr: "CS", Value: ["YES"] };
    dict["00120063"] = { vr: "LO", Value: ["medprint web PS3.15 basic profile, retain patient characteristics"] };

    // File meta: the new SOP instance UID; identifying meta attributes go.
    const sop: string = dict["00080018"]?.Value?.[0] ?? "";
    if (meta["00020003"]) meta["00020003"].Value = [sop];
    // Source/sending/receiving application entity titles name the hospital's machines.
    for (const tag of ["00020016", "00020017", "00020018"]) {
      if (meta[tag]) {
        delete meta[tag];
        note(tag, "removed");
      }
    }
    // The implementation that wrote the file now is this app.
    meta["00020013"] = { vr: "SH", Value: ["MEDPRINT_WEB"] };

    // Sorted so that the dataset is written in tag order.
    const sorted: Record<string, any> = {};
    for (const tag of Object.keys(dict).sort()) sorted[tag] = dict[tag];
    const out = new DicomDict(meta);
    out.dict = sorted;
    let written: ArrayBuffer;
    try {
      written = out.write({ allowInvalidVRLength: true });
    } catch (e) {
      throw new NotDicomError(`${name}: could not be written after de-identification (${e instanceof Error ? e.message : e})`);
    }
    const result = new Uint8Array(written);

    // Leak check: no identifying value may remain in the attributes written (the pixel data,
    // the last element, is not text and is left out of the search).
    const haystack = latin1(result.subarray(0, pixelDataOffset(result)));
    const leaks = new Set(removedTexts.filter(([t]) => t.length >= 4 && haystack.includes(t)).map(([, k]) => k));
    if (leaks.size) {
      throw new DeidLeakError(`${name}: the value of ${[...leaks].join(", ")} is still present elsewhere in the file; it will not be uploaded`);
    }

    return {
      name,
      bytes: result,
      changes: Array.from(changes.values()),
      sopInstanceUid: sop,
      seriesUid: originalSeries ? await this.newUid(originalSeries) : "",
      modality: String(dict["00080060"]?.Value?.[0] ?? ""),
      rows: Number(dict["00280010"]?.Value?.[0] ?? 0),
      columns: Number(dict["00280011"]?.Value?.[0] ?? 0),
      burnedIn,
    };
  }
}

/**
 * Old files without the 128-byte preamble and "DICM" (a bare data set, usually implicit VR):
 * the preamble and a minimal file meta group are put in front; null when the bytes do not
 * start like a DICOM data set.
 */
function withPreamble(b: Uint8Array): Uint8Array<ArrayBuffer> | null {
  if (b.length < 16) return null;
  const group = b[0] | (b[1] << 8);
  const isLetter = (x: number) => x >= 65 && x <= 90;
  const explicit = isLetter(b[4]) && isLetter(b[5]);
  if (group === 0x0002) {
    const out = new Uint8Array(132 + b.length);
    out.set([0x44, 0x49, 0x43, 0x4d], 128);
    out.set(b, 132);
    return out;
  }
  if (group !== 0x0008) return null;
  const ts = explicit ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2";
  const uid = ts.length % 2 ? ts + "\0" : ts;
  const el = (g: number, e: number, vr: string, value: Uint8Array, long = false) => {
    const head = long ? new Uint8Array(12) : new Uint8Array(8);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, g, true);
    dv.setUint16(2, e, true);
    head[4] = vr.charCodeAt(0);
    head[5] = vr.charCodeAt(1);
    if (long) dv.setUint32(8, value.length, true);
    else dv.setUint16(6, value.length, true);
    const out = new Uint8Array(head.length + value.length);
    out.set(head);
    out.set(value, head.length);
    return out;
  };
  const version = el(0x0002, 0x0001, "OB", new Uint8Array([0, 1]), true);
  const syntax = el(0x0002, 0x0010, "UI", new TextEncoder().encode(uid));
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, version.length + syntax.length, true);
  const gl = el(0x0002, 0x0000, "UL", groupLength);
  const out = new Uint8Array(132 + gl.length + version.length + syntax.length + b.length);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  let o = 132;
  for (const part of [gl, version, syntax, b]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** Offset of the (7FE0,0010) Pixel Data element header in explicit little endian, else the length. */
function pixelDataOffset(b: Uint8Array): number {
  for (let i = 132; i + 5 < b.length; i++) {
    if (b[i] === 0xe0 && b[i + 1] === 0x7f && b[i + 2] === 0x10 && b[i + 3] === 0x00 && b[i + 4] === 0x4f && (b[i + 5] === 0x57 || b[i + 5] === 0x42)) return i;
  }
  return b.length;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + step)));
  }
  return s;
}

/** Summary of changes across many files: one row per tag and action with a file count. */
export function summarise(results: Array<{ changes: DeidChange[] }>): Array<DeidChange & { files: number }> {
  const rows = new Map<string, DeidChange & { files: number }>();
  for (const r of results) {
    for (const c of r.changes) {
      const key = `${c.tag}:${c.action}`;
      const row = rows.get(key);
      if (row) row.files++;
      else rows.set(key, { ...c, files: 1 });
    }
  }
  return Array.from(rows.values()).sort((a, b) => a.tag.localeCompare(b.tag));
}
