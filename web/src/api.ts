// Thin fetch wrappers over the medprint API; the session cookie travels with every request.

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

async function parse(response: Response): Promise<any> {
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.error ?? "", body?.message ?? (text.slice(0, 200) || response.statusText));
  }
  return body;
}

export async function get(path: string): Promise<any> {
  return parse(await fetch(path, { credentials: "same-origin" }));
}

export async function post(path: string, body: unknown = {}): Promise<any> {
  return parse(
    await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

export async function patchChunk(uploadId: string, offset: number, chunk: Blob): Promise<any> {
  return parse(
    await fetch(`/api/uploads/${uploadId}`, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "content-type": "application/offset+octet-stream", "upload-offset": String(offset) },
      body: chunk,
    }),
  );
}

export async function uploadOffset(uploadId: string): Promise<number> {
  const r = await fetch(`/api/uploads/${uploadId}`, { method: "HEAD", credentials: "same-origin" });
  const v = r.headers.get("upload-offset");
  if (!r.ok || v === null) throw new ApiError(r.status, "", "cannot read the upload offset");
  return Number(v);
}

export async function fetchBytes(path: string): Promise<ArrayBuffer> {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new ApiError(r.status, "", `${path}: ${r.statusText}`);
  return r.arrayBuffer();
}

export interface Me {
  user: { id: string; email: string; name: string; role: string; org_id: string };
  org: { id: string; name: string };
  permissions: string[];
}
