// The medprint API (see /api/openapi.json). Session cookie auth: every fetch is same-origin.

export type Role =
  | "surgeon"
  | "radiologist"
  | "clinical_director"
  | "biomedical_engineer"
  | "print_technician"
  | "org_admin"
  | "system_admin";

export const ROLE_LABEL: Record<Role, string> = {
  surgeon: "Surgeon",
  radiologist: "Radiologist",
  clinical_director: "Clinical director",
  biomedical_engineer: "Biomedical engineer",
  print_technician: "Print technician",
  org_admin: "Organisation admin",
  system_admin: "System admin",
};

export interface User {
  id: string;
  org_id: string;
  email: string;
  name: string;
  role: Role;
  disabled?: boolean;
  created_ms?: number;
}

export interface Org {
  id: string;
  name: string;
  created_ms?: number;
}

export interface Me {
  user: User;
  org: Org;
  permissions: string[];
}

export interface Prescription {
  anatomy: string[];
  scan_type?: "ct" | "mr" | null;
  bone_type?: "hard" | "soft" | null;
  patient_age?: number | null;
  sex?: "female" | "male" | "unknown" | null;
  weight_kg?: number | null;
  deadline?: string | null;
  delivery_address?: string | null;
  material_preferences: string[];
  notes: string;
}

export type OrderState =
  | "draft"
  | "uploaded"
  | "processing"
  | "review"
  | "sign_off"
  | "print_preparation"
  | "printing"
  | "quality_control"
  | "shipped"
  | "delivered"
  | "cancelled";

export const STATES: OrderState[] = [
  "draft",
  "uploaded",
  "processing",
  "review",
  "sign_off",
  "print_preparation",
  "printing",
  "quality_control",
  "shipped",
  "delivered",
];

export const STATE_LABEL: Record<OrderState, string> = {
  draft: "Draft",
  uploaded: "Queued",
  processing: "Processing",
  review: "Review",
  sign_off: "Sign-off",
  print_preparation: "Print preparation",
  printing: "Printing",
  quality_control: "Quality control",
  shipped: "Shipped",
  delivered: "Delivered",
  cancelled: "Cancelled",
};

export interface Order {
  id: string;
  org_id: string;
  created_by: string;
  state: OrderState;
  prescription: Prescription;
  patient_key: string;
  current_version: number;
  created_ms: number;
  updated_ms: number;
}

export interface Job {
  id: string;
  state: string;
  attempts: number;
  progress_permille: number;
  stage: string;
  eta_ms: number | null;
  /** Plain-language reason of a failure (no server paths). */
  error: string | null;
  version: number;
  /** The run's parameters, JSON text. */
  params?: string;
}

export interface Version {
  version: number;
  job_id: string;
  created_ms: number;
  params: Record<string, unknown> | null;
  summary: {
    warnings?: string[];
    segmentation?: Record<string, any>;
    total_ms?: number;
  } | null;
  files: string[];
}

export interface Annotation {
  id: string;
  order_id: string;
  version: number;
  user_id: string;
  text: string;
  position: any;
  created_ms: number;
}

export interface Gate {
  gate: string;
  user_id: string;
  role: Role;
  comment: string;
  data: any;
  at_ms: number;
  version?: number;
}

export interface OrderDetail {
  order: Order;
  files: { stored: number; receiving: number; rejected: number };
  jobs: Job[];
  versions: Version[];
  annotations: Annotation[];
  gates: Gate[];
  missing_gates: string[];
  actions: string[];
  /** When printing last started, by whom, on which printer (absent before). */
  printing?: { at_ms: number; by: string; printer: unknown } | null;
}

export interface Progress {
  state: OrderState;
  current_version: number;
  job: { id: string; state: string; progress: number; stage: string; eta_ms: number | null; error: string | null; version: number } | null;
}

export interface Quote {
  price_eur: number;
  material: string | { name: string; process?: string };
  ready_date: string;
  breakdown: any;
  volume_cm3?: number;
  measured?: boolean;
}

export interface AuditEntry {
  seq: number;
  at_ms: number;
  actor: string;
  action: string;
  input_hash: string;
  output_hash: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { ...headers } };
  if (body !== undefined) {
    (init.headers as Record<string, string>)["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r: Response;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", "The server cannot be reached. Check the connection and try again.");
  }
  const text = await r.text();
  let json: any = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  if (!r.ok) {
    const code = (json && json.error) || String(r.status);
    const message = (json && json.message) || r.statusText || `HTTP ${r.status}`;
    const err = new ApiError(r.status, code, message);
    if (r.status === 401 && path !== "/api/login") window.dispatchEvent(new CustomEvent("medprint:unauthorised"));
    throw err;
  }
  return json as T;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body: unknown = {}) => request<T>("POST", path, body),
  login: (email: string, password: string) => request<{ user: User }>("POST", "/api/login", { email, password }),
  logout: () => request<void>("POST", "/api/logout"),
  me: () => request<Me>("GET", "/api/me"),
  orders: () => request<Order[]>("GET", "/api/orders"),
  order: (id: string) => request<OrderDetail>("GET", `/api/orders/${encodeURIComponent(id)}`),
  createOrder: (prescription: Prescription, patient_key: string) =>
    request<Order>("POST", "/api/orders", { prescription, patient_key }),
  action: (id: string, action: string, body: Record<string, unknown> = {}) =>
    request<Order>("POST", `/api/orders/${encodeURIComponent(id)}/actions/${action}`, body),
  annotate: (id: string, text: string, position: unknown) =>
    request<Annotation>("POST", `/api/orders/${encodeURIComponent(id)}/annotations`, { text, position }),
  audit: (id: string) =>
    request<{ entries: AuditEntry[]; intact: boolean; head_hash: string; problem?: string | null }>(
      "GET",
      `/api/orders/${encodeURIComponent(id)}/audit`,
    ),
  files: (id: string) => request<any[]>("GET", `/api/orders/${encodeURIComponent(id)}/files`),
  users: () => request<User[]>("GET", "/api/users"),
  createUser: (u: { email: string; name: string; role: Role; password: string; org_id?: string }) =>
    request<User>("POST", "/api/users", u),
  orgs: () => request<Org[]>("GET", "/api/orgs"),
  createOrg: (name: string) => request<Org>("POST", "/api/orgs", { name }),
  token: (label: string) => request<{ token: string }>("POST", "/api/tokens", { label }),
  cancelJob: (id: string) => request<unknown>("POST", `/api/jobs/${encodeURIComponent(id)}/cancel`),
};

export function fileUrl(orderId: string, version: number, name: string): string {
  // One path segment: "preview/axial.png" travels as "preview%2Faxial.png".
  return `/api/orders/${encodeURIComponent(orderId)}/versions/${version}/files/${encodeURIComponent(name)}`;
}

/** Downloads a version file as bytes, or null when the version does not have it. */
export async function fetchFile(orderId: string, version: number, name: string): Promise<ArrayBuffer | null> {
  const r = await fetch(fileUrl(orderId, version, name), { credentials: "same-origin" });
  if (r.status === 404) return null;
  if (!r.ok) throw new ApiError(r.status, String(r.status), `download of ${name} failed (${r.status})`);
  return r.arrayBuffer();
}

export const FALLBACK_MATERIALS = ["PLA", "PETG", "resin", "PA12", "clear resin"];
let materialsCache: string[] | null = null;

/** Print materials on offer (`/api/materials` when the server has it). */
export async function materials(): Promise<string[]> {
  if (materialsCache) return materialsCache;
  try {
    const list = await api.get<Array<{ name: string } | string>>("/api/materials");
    materialsCache = list.map((m) => (typeof m === "string" ? m : m.name));
  } catch {
    materialsCache = FALLBACK_MATERIALS;
  }
  return materialsCache;
}

/** A quote, or null when the server has no quotes. */
export async function quote(params: { anatomy?: string[]; material?: string; deadline?: string; orderId?: string }): Promise<Quote | null> {
  const q = new URLSearchParams();
  if (params.material) q.set("material", params.material);
  try {
    if (params.orderId) {
      try {
        return await api.get<Quote>(`/api/orders/${encodeURIComponent(params.orderId)}/quote?${q}`);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
      }
    }
    if (params.anatomy?.length) q.set("anatomy", params.anatomy.join(","));
    if (params.deadline) q.set("deadline", params.deadline);
    return await api.get<Quote>(`/api/quote?${q}`);
  } catch {
    return null;
  }
}

export function materialName(q: Quote): string {
  return typeof q.material === "string" ? q.material : q.material?.name ?? "";
}

let actionDataSupported: boolean | null = null;

/**
 * A workflow action with structured `data` (parts, material, printer) when the server takes it;
 * older servers refuse unknown fields, so the data then travels only in the comment.
 */
export async function actionWithData(id: string, action: string, body: Record<string, unknown>, data?: Record<string, unknown>) {
  if (data && actionDataSupported !== false) {
    try {
      const r = await api.action(id, action, { ...body, data });
      actionDataSupported = true;
      return r;
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && /data|unknown field/i.test(e.message)) {
        actionDataSupported = false;
      } else throw e;
    }
  }
  return api.action(id, action, body);
}
