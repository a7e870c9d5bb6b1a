// Collecting scan files from a drop (folders included, via webkitGetAsEntry), a file picker
// or a folder picker (webkitdirectory); zips are expanded here so that every member is
// de-identified in the browser before anything is sent.

import { unzipSync } from "fflate";

export interface PickedFile {
  path: string;
  read: () => Promise<ArrayBuffer>;
  size: number;
}

function fromFile(f: File, path?: string): PickedFile {
  return { path: path ?? ((f as any).webkitRelativePath || f.name), size: f.size, read: () => f.arrayBuffer() };
}

function readEntries(reader: any): Promise<any[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function walkEntry(entry: any, out: PickedFile[]) {
  if (!entry) return;
  if (entry.isFile) {
    const file: File = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push(fromFile(file, entry.fullPath?.replace(/^\//, "") || file.name));
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    // readEntries returns at most ~100 entries per call.
    while (true) {
      const batch = await readEntries(reader);
      if (!batch.length) break;
      for (const e of batch) await walkEntry(e, out);
    }
  }
}

/** Files of a drop, folders walked recursively. */
export async function filesFromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const entries: any[] = [];
  if (dt.items && dt.items.length) {
    for (const item of Array.from(dt.items)) {
      if (item.kind !== "file") continue;
      const entry = (item as any).webkitGetAsEntry?.();
      if (entry) entries.push(entry);
      else {
        const f = item.getAsFile();
        if (f) out.push(fromFile(f));
      }
    }
  }
  if (entries.length) for (const e of entries) await walkEntry(e, out);
  else if (!out.length) for (const f of Array.from(dt.files)) out.push(fromFile(f));
  return out;
}

export function filesFromInput(input: HTMLInputElement): PickedFile[] {
  return Array.from(input.files ?? []).map((f) => fromFile(f));
}

const SKIP = /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini|__MACOSX\/.*)$/i;

/** Expands zips into their members; drops obvious non-scan files. */
export async function expandZips(files: PickedFile[]): Promise<{ files: PickedFile[]; skipped: Array<{ path: string; reason: string }> }> {
  const out: PickedFile[] = [];
  const skipped: Array<{ path: string; reason: string }> = [];
  for (const f of files) {
    if (SKIP.test(f.path)) continue;
    if (/\.zip$/i.test(f.path)) {
      try {
        const members = unzipSync(new Uint8Array(await f.read()));
        for (const [name, data] of Object.entries(members)) {
          if (name.endsWith("/") || SKIP.test(name) || !data.length) continue;
          const copy = data.slice();
          out.push({ path: `${f.path}!${name}`, size: copy.length, read: async () => copy.buffer });
        }
      } catch (e) {
        skipped.push({ path: f.path, reason: "the zip could not be read" });
      }
    } else out.push(f);
  }
  return { files: out, skipped };
}
