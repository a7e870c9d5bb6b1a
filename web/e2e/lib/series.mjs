// Writes a real CT series as DICOM files (one per slice) from a NIfTI volume, WITH patient
// identity filled in, so that the end-to-end test can prove that the identity never reaches
// the server. Geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing) comes from
// the NIfTI sform (RAS, converted to DICOM LPS).
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "fflate";
import * as nifti from "nifti-reader-js";
import dcmjs from "dcmjs";

const { DicomDict, DicomMetaDictionary } = dcmjs.data;

export const IDENTITY = {
  PatientName: "DOE^JANE",
  PatientID: "MRN-0042-SECRET",
  PatientBirthDate: "19580314",
};

function ds(x) {
  // DS: at most 16 characters.
  let s = Number(x).toFixed(6);
  while (s.length > 16) s = Number(x).toPrecision(s.length - 9);
  return s.replace(/\.?0+$/, "") || "0";
}

/** Reads a NIfTI file: header, int16 data, RAS affine. */
export function readNifti(path) {
  let buf = readFileSync(path);
  let ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (nifti.isCompressed(ab)) ab = gunzipSync(new Uint8Array(ab)).buffer;
  const header = nifti.readHeader(ab);
  const image = nifti.readImage(header, ab);
  return { header, image };
}

/**
 * Writes `slices` DICOM files of the volume at `niftiPath` into `outDir` and returns their paths.
 * `uids: false` leaves out every UID but the SOP class (Study, Series, SOP Instance, Frame of
 * Reference, and the file meta's instance UID), as some real exports do; `folders: 2` writes
 * slice k into `a/` or `b/` (k even/odd) as `IM<k/2>`, so every name occurs in both folders.
 */
export function writeSeries(niftiPath, outDir, slices = 30, { uids = true, folders = 1 } = {}) {
  const { header, image } = readNifti(niftiPath);
  const [, nx, ny, nzAll] = header.dims;
  const nz = Math.min(slices, nzAll);
  if (header.datatypeCode !== 4) throw new Error(`expected int16 NIfTI, got datatype ${header.datatypeCode}`);
  const data = new Int16Array(image);
  const slope = header.scl_slope || 1;
  const inter = header.scl_inter || 0;
  const A = header.affine; // RAS, 4x4 rows
  // LPS = (-R, -A, S)
  const lps = (v) => [-v[0], -v[1], v[2]];
  const col = (c) => lps([A[0][c], A[1][c], A[2][c]]);
  const len = (v) => Math.hypot(v[0], v[1], v[2]);
  const ci = col(0), cj = col(1), ck = col(2);
  const si = len(ci), sj = len(cj), sk = len(ck);
  const rowDir = ci.map((x) => x / si);
  const colDir = cj.map((x) => x / sj);
  const origin = lps([A[0][3], A[1][3], A[2][3]]);
  const root = "1.2.826.0.1.3680043.8.498";
  const stamp = Date.now();
  const study = `${root}.1.${stamp}`;
  const series = `${root}.2.${stamp}`;
  const frame = `${root}.3.${stamp}`;
  mkdirSync(outDir, { recursive: true });
  const paths = [];
  for (let k = 0; k < nz; k++) {
    const px = new Int16Array(nx * ny);
    for (let n = 0; n < nx * ny; n++) {
      const hu = data[k * nx * ny + n] * slope + inter;
      px[n] = Math.max(-32768, Math.min(32767, Math.round(hu)));
    }
    const pos = origin.map((o, a) => o + k * ck[a]);
    const sop = `${root}.4.${stamp}.${k + 1}`;
    const natural = {
      SOPClassUID: "1.2.840.10008.5.1.4.1.1.2",
      ...(uids ? { SOPInstanceUID: sop, StudyInstanceUID: study, SeriesInstanceUID: series, FrameOfReferenceUID: frame } : {}),
      Modality: "CT",
      Manufacturer: "medprint test writer",
      ...{ PatientName: IDENTITY.PatientName, PatientID: IDENTITY.PatientID, PatientBirthDate: IDENTITY.PatientBirthDate },
      PatientSex: "F",
      PatientAge: "068Y",
      PatientAddress: "42 Secret Lane, Springfield",
      OtherPatientIDs: "MRN-0042-SECRET-ALT",
      InstitutionName: "Springfield General Hospital",
      InstitutionAddress: "1 Hospital Road, Springfield",
      ReferringPhysicianName: "HOUSE^GREGORY",
      PerformingPhysicianName: "WILSON^JAMES",
      OperatorsName: "CHASE^ROBERT",
      AccessionNumber: "ACC-778899",
      StudyID: "STUDY-0042",
      StudyDate: "20240102",
      SeriesDate: "20240102",
      StudyTime: "101500",
      StudyDescription: "CT ABDOMEN",
      SeriesDescription: "AXIAL 3MM",
      SeriesNumber: "3",
      InstanceNumber: String(k + 1),
      ImageType: ["ORIGINAL", "PRIMARY", "AXIAL"],
      ImagePositionPatient: pos.map(ds),
      ImageOrientationPatient: [...rowDir, ...colDir].map(ds),
      PixelSpacing: [ds(sj), ds(si)],
      SliceThickness: ds(sk),
      SliceLocation: ds(pos[2]),
      SamplesPerPixel: 1,
      PhotometricInterpretation: "MONOCHROME2",
      Rows: ny,
      Columns: nx,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      RescaleIntercept: "0",
      RescaleSlope: "1",
      RescaleType: "HU",
      WindowCenter: "40",
      WindowWidth: "400",
      KVP: "120",
    };
    const dict = DicomMetaDictionary.denaturalizeDataset(natural);
    // A private block that also carries the identity: it must go too.
    dict["00090010"] = { vr: "LO", Value: ["ACME SCANNER 1.0"] };
    dict["00091001"] = { vr: "LO", Value: [`${IDENTITY.PatientID} ${IDENTITY.PatientName}`] };
    dict["7FE00010"] = { vr: "OW", Value: [px.buffer] };
    const meta = DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: natural.SOPClassUID,
      ...(uids ? { MediaStorageSOPInstanceUID: sop } : {}),
      TransferSyntaxUID: "1.2.840.10008.1.2.1",
      ImplementationClassUID: "2.25.1234567890123456789",
      ImplementationVersionName: "MEDPRINT_TEST",
    });
    meta["00020001"].vr = "OB";
    const out = new DicomDict(meta);
    out.dict = dict;
    const bytes = Buffer.from(out.write());
    const folder = folders > 1 ? join(outDir, String.fromCharCode(97 + (k % folders))) : outDir;
    mkdirSync(folder, { recursive: true });
    const p = join(folder, `IM${String(folders > 1 ? Math.floor(k / folders) + 1 : k + 1).padStart(4, "0")}.dcm`);
    writeFileSync(p, bytes);
    paths.push(p);
  }
  return paths;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [src, dst, n] = process.argv.slice(2);
  const paths = writeSeries(src, dst, n ? Number(n) : 30);
  console.log(`wrote ${paths.length} files to ${dst}`);
}
