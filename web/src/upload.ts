// Resumable chunked upload of one (already de-identified) file.

import { ApiError, patchChunk, post, uploadOffset } from "./api";

export const CHUNK_BYTES = 2 << 20;

export interface UploadOutcome {
  held: boolean;
  state: string;
}

/** Announces and sends `bytes`; after a network error or a stale offset it asks the server
 * where to resume (up to 5 times per chunk). */
export async function uploadFile(
  orderId: string,
  name: string,
  bytes: ArrayBuffer,
  sha256: string,
  sopInstanceUid: string,
  onBytes: (sent: number) => void,
): Promise<UploadOutcome> {
  const announced = await post(`/api/orders/${orderId}/files`, {
    name,
    size: bytes.byteLength,
    sha256,
    kind: "dicom",
    sop_instance_uid: sopInstanceUid,
  });
  if (announced.held) return { held: true, state: announced.upload.state };
  const id = announced.upload.id as string;
  let offset = Number(announced.offset ?? 0);
  let failures = 0;
  const blob = new Blob([bytes]);
  for (;;) {
    const end = Math.min(offset + CHUNK_BYTES, bytes.byteLength);
    try {
      const r = await patchChunk(id, offset, blob.slice(offset, end));
      failures = 0;
      onBytes(end);
      if (r.state !== "receiving") return { held: false, state: r.state };
      offset = Number(r.offset);
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) throw e;
      failures += 1;
      if (failures > 5) throw e;
      await new Promise((r) => setTimeout(r, 300 * failures));
      offset = await uploadOffset(id);
    }
  }
}
