// The patient key: HMAC-SHA256(organisation secret, normalised patient identity), computed
// here with WebCrypto. The identity never leaves the browser; the secret stays in this
// browser's localStorage (every workstation of the organisation must use the same secret so
// that the same patient gets the same key).

const SECRET_KEY = "medprint.orgSecret";

export function loadOrgSecret(orgId: string): string {
  return localStorage.getItem(`${SECRET_KEY}.${orgId}`) ?? "";
}

export function saveOrgSecret(orgId: string, secret: string) {
  localStorage.setItem(`${SECRET_KEY}.${orgId}`, secret);
}

/** A new random secret (32 bytes, base64url). */
export function newSecret(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Identity normalised: trimmed, upper case, inner whitespace collapsed, fields joined by "|". */
export function normaliseIdentity(parts: string[]): string {
  return parts.map((p) => p.normalize("NFKC").trim().toUpperCase().replace(/\s+/g, " ")).join("|");
}

export async function patientKey(secret: string, identity: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(identity));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}
