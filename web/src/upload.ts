// Resumable uploads (announce → PATCH chunks at Upload-Offset → HEAD to resume).
// A broken connection, a 409 (wrong offset) or a server restart make the uploader ask the
// server for the offset it holds (HEAD) and continue from there, with growing pauses.

import { ApiError } from "./api";

export interface UploadItem {
  name: string;
  bytes: Uint8Array;
  sopInstanceUid: string;
  /** SHA-256 of `bytes` (hex) when already known. */
  sha256?: string;
}

/** What happened to one file: stored (sent now or already held) or refused with the reason. */
export type FileOutcome = { state: "stored"; held: boolean } | { state: "refused"; reason: string };

export interface UploadProgress {
  sent: number; // bytes acknowledged over all files
  total: number;
  filesDone: number;
  filesTotal: number;
  skipped: number; // already held by the server
  refused: number; // refused by the server (each reported through onFile)
  retries: number;
  current?: string;
}

export interface UploadOptions {
  chunkSize?: number;
  concurrency?: number;
  maxRetries?: number;
  onProgress?: (p: UploadProgress) => void;
  /** Called once per file when the server has stored or refused it. */
  onFile?: (item: UploadItem, outcome: FileOutcome) => void;
  signal?: AbortSignal;
}

/** The server refused this file's content (not DICOM, unreadable): the other files go on. */
class RefusedError extends Error {}

/** The reason the server gave, without the file name it starts with (the list names the file). */
function refusal(name: string, message: string | undefined): RefusedError {
  const text = (message ?? "").trim();
  const reason = text.includes(": ") && text.startsWith(name) ? text.slice(text.indexOf(": ") + 2) : text;
  return new RefusedError(reason || "the server could not read this file");
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function json(r: Response): Promise<any> {
  const t = await r.text();
  try {
    return t ? JSON.parse(t) : null;
  } catch {
    return t;
  }
}

async function headOffset(uploadId: string): Promise<number> {
  const r = await fetch(`/api/uploads/${encodeURIComponent(uploadId)}`, { method: "HEAD", credentials: "same-origin" });
  if (!r.ok) throw new ApiError(r.status, String(r.status), `cannot resume upload (${r.status})`);
  return Number(r.headers.get("upload-offset") ?? "0");
}

/**
 * Uploads one file; returns "held" when the server already had it, else "stored"; throws a
 * RefusedError when the server refuses the content.
 */
async function uploadOne(orderId: string, item: UploadItem, opts: Required<Omit<UploadOptions, "onProgress" | "onFile" | "signal">> & UploadOptions, report: (delta: number, retried?: boolean) => void): Promise<"held" | "stored"> {
  const sha256 = item.sha256 ?? (await sha256Hex(item.bytes));
  const announce = await fetch(`/api/orders/${encodeURIComponent(orderId)}/files`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: item.name, size: item.bytes.length, sha256, kind: "dicom", sop_instance_uid: item.sopInstanceUid }),
  });
  const a = await json(announce);
  if (announce.status === 422) throw refusal(item.name, a?.message);
  if (!announce.ok) throw new ApiError(announce.status, a?.error ?? "", `${item.name}: ${a?.message ?? announce.statusText}`);
  if (a.held) {
    report(item.bytes.length);
    return "held";
  }
  const id: string = a.upload.id;
  let offset: number = a.offset ?? 0;
  let acknowledged = offset;
  report(offset);
  let failures = 0;
  while (true) {
    if (opts.signal?.aborted) throw new DOMException("upload stopped", "AbortError");
    const end = Math.min(item.bytes.length, offset + opts.chunkSize);
    let r: Response | null = null;
    try {
      r = await fetch(`/api/uploads/${encodeURIComponent(id)}`, {
        method: "PATCH",
        credentials: "same-origin",
        headers: { "upload-offset": String(offset), "content-type": "application/offset+octet-stream" },
        body: item.bytes.slice(offset, end),
        signal: opts.signal,
      });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      r = null; // network failure: resume from the server's offset
    }
    if (r && (r.status === 202 || r.status === 200)) {
      const body = await json(r);
      const newOffset = Number(body?.offset ?? end);
      report(newOffset - acknowledged);
      acknowledged = newOffset;
      offset = newOffset;
      failures = 0;
      if (r.status === 200) {
        if (body?.state === "rejected") throw refusal(item.name, body?.upload?.error);
        return "stored";
      }
      continue;
    }
    if (r && r.status === 422) {
      const body = await json(r);
      // A hash mismatch (bytes damaged on the way) is sent again from offset 0 by the next run.
      if (/do not match the announced SHA-256/.test(body?.message ?? "")) throw new ApiError(422, body?.error ?? "unprocessable", `${item.name}: ${body.message}`);
      throw refusal(item.name, body?.message);
    }
    if (r && r.status !== 409 && r.status < 500 && r.status !== 408 && r.status !== 429) {
      const body = await json(r);
      throw new ApiError(r.status, body?.error ?? "", `${item.name}: ${body?.message ?? r.statusText}`);
    }
    // Broken connection, 409 (offset mismatch), 5xx: ask where to continue.
    failures++;
    if (failures > opts.maxRetries) throw new ApiError(r?.status ?? 0, "retries", `${item.name}: upload failed after ${opts.maxRetries} retries`);
    await sleep(Math.min(8000, 250 * 2 ** (failures - 1)));
    try {
      const held = await headOffset(id);
      report(held - acknowledged, true);
      acknowledged = held;
      offset = held;
    } catch {
      report(0, true);
    }
  }
}

/** Uploads every item with a few in flight; reports progress in bytes. */
export async function uploadAll(orderId: string, items: UploadItem[], options: UploadOptions = {}): Promise<UploadProgress> {
  // The first failure stops the other uploads in flight (their progress would hide the error).
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort());
  const opts = { chunkSize: 4 * 1024 * 1024, concurrency: 4, maxRetries: 8, ...options, signal: stop.signal };
  const p: UploadProgress = {
    sent: 0,
    total: items.reduce((s, i) => s + i.bytes.length, 0),
    filesDone: 0,
    filesTotal: items.length,
    skipped: 0,
    refused: 0,
    retries: 0,
  };
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop.signal.aborted) {
      const item = items[next++];
      p.current = item.name;
      let outcome: "held" | "stored";
      try {
        outcome = await uploadOne(orderId, item, opts, (delta, retried) => {
          if (stop.signal.aborted) return;
          p.sent += delta;
          if (retried) p.retries++;
          options.onProgress?.({ ...p });
        });
      } catch (e) {
        if (e instanceof RefusedError) {
          // Refused content: reported with its reason; the other files go on.
          p.filesDone++;
          p.refused++;
          options.onFile?.(item, { state: "refused", reason: e.message });
          options.onProgress?.({ ...p });
          continue;
        }
        stop.abort();
        throw e;
      }
      p.filesDone++;
      if (outcome === "held") p.skipped++;
      options.onFile?.(item, { state: "stored", held: outcome === "held" });
      options.onProgress?.({ ...p });
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(opts.concurrency, items.length) }, worker));
  // Report the real cause, not the aborts it caused in the other workers.
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
  const cause = failures.find((e) => !(e instanceof DOMException && e.name === "AbortError")) ?? failures[0];
  if (cause) throw cause;
  return p;
}
