// De-identification in the browser, before any byte leaves the user's computer: the patient
// and institution attributes of DICOM PS3.15's basic profile are emptied or removed, private
// (odd-group) elements are dropped, and UIDs are replaced consistently within this upload
// (one new UID per old UID, so a series stays one series). The server checks and strips
// again on arrival; this is the first line.

import dcmjs from "dcmjs";

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

/** Attributes emptied (identity, dates, people, places, free text). */
const EMPTIED = [
  "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs", "OtherPatientNames",
  "PatientAddress", "PatientTelephoneNumbers", "PatientMotherBirthName", "MilitaryRank", "BranchOfService",
  "MedicalRecordLocator", "EthnicGroup", "Occupation", "AdditionalPatientHistory", "PatientComments",
  "ResponsiblePerson", "ResponsibleOrganization", "PatientBirthName", "InstitutionName", "InstitutionAddress",
  "InstitutionalDepartmentName", "ReferringPhysicianName", "ReferringPhysicianAddress",
  "ReferringPhysicianTelephoneNumbers", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
  "OperatorsName", "PhysiciansOfRecord", "RequestingPhysician", "AccessionNumber", "StudyID", "StudyDate",
  "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime",
  "InstanceCreationDate", "InstanceCreationTime", "StationName", "DeviceSerialNumber", "StudyDescription",
  "SeriesDescription", "RequestedProcedureDescription", "PerformedProcedureStepDescription",
  "PerformedProcedureStepID", "ScheduledProcedureStepDescription", "ProtocolName", "ImageComments",
];

/** UID attributes replaced consistently. */
const UIDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID", "MediaStorageSOPInstanceUID"];

export interface Removed {
  tag: string;
  keyword: string;
  action: "emptied" | "removed" | "uid replaced";
}

export interface DeidResult {
  bytes: ArrayBuffer;
  removed: Removed[];
  sopInstanceUid: string;
}

function tagOf(keyword: string): string | undefined {
  const info = DicomMetaDictionary.nameMap[keyword];
  return info ? String(info.tag).replace(/[(),]/g, "").toUpperCase() : undefined;
}

function pretty(tag: string): string {
  return `(${tag.slice(0, 4)},${tag.slice(4)})`;
}

function randomUid(): string {
  // 2.25.<122-bit random decimal>, as PS3.5 B.2 allows.
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return `2.25.${n}`;
}

/** Replaces UIDs consistently over every file of one upload. */
export class UidMap {
  private map = new Map<string, string>();
  replace(old: string): string {
    let v = this.map.get(old);
    if (!v) {
      v = randomUid();
      this.map.set(old, v);
    }
    return v;
  }
}

function hasValue(el: any): boolean {
  return el && Array.isArray(el.Value) && el.Value.some((v: unknown) => v !== "" && v !== null && v !== undefined);
}

/** De-identifies one Part-10 file; throws when the bytes are not DICOM. */
export function deidentify(buffer: ArrayBuffer, uids: UidMap): DeidResult {
  const file = DicomMessage.readFile(buffer, { ignoreErrors: false });
  const removed: Removed[] = [];
  const dict = file.dict as Record<string, any>;
  for (const keyword of EMPTIED) {
    const tag = tagOf(keyword);
    if (tag && hasValue(dict[tag])) {
      dict[tag].Value = [];
      removed.push({ tag: pretty(tag), keyword, action: "emptied" });
    }
  }
  for (const tag of Object.keys(dict)) {
    const group = parseInt(tag.slice(0, 4), 16);
    if (group % 2 === 1) {
      delete dict[tag];
      removed.push({ tag: pretty(tag), keyword: "private", action: "removed" });
    }
  }
  let sopInstanceUid = "";
  for (const keyword of UIDS) {
    const tag = tagOf(keyword);
    for (const d of [dict, file.meta as Record<string, any>]) {
      if (tag && hasValue(d[tag])) {
        const replaced = uids.replace(String(d[tag].Value[0]));
        d[tag].Value = [replaced];
        if (keyword === "SOPInstanceUID") sopInstanceUid = replaced;
        if (d === dict) removed.push({ tag: pretty(tag), keyword, action: "uid replaced" });
      }
    }
  }
  const identityRemoved = tagOf("PatientIdentityRemoved");
  if (identityRemoved) dict[identityRemoved] = { vr: "CS", Value: ["YES"] };
  const method = tagOf("DeidentificationMethod");
  if (method) dict[method] = { vr: "LO", Value: ["medprint web basic profile"] };
  return { bytes: file.write(), removed, sopInstanceUid };
}

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** HMAC-SHA256 (hex) of the patient identity with the organisation's secret: the only trace
 * of the patient that reaches the server. */
export async function patientKey(orgSecret: string, identity: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(orgSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(identity.trim()));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
