// What each role does at each state, in words, and where in the app it is done.
import type { Order, OrderDetail, Role } from "./api";

export const ACTION_LABEL: Record<string, string> = {
  submit: "Submit for processing",
  approve_model: "Approve model",
  verify_segmentation: "Verify segmentation",
  request_changes: "Request changes",
  rerun: "Re-run processing",
  sign_off: "Sign off spend",
  decline: "Decline",
  approve_print_plan: "Approve print plan",
  start_printing: "Start printing",
  finish_printing: "Finish printing",
  record_qc: "Record quality control",
  ship: "Ship",
  confirm_delivery: "Confirm delivery",
  cancel_order: "Cancel order",
};

export const GATE_LABEL: Record<string, string> = {
  model_approved: "Model approved (surgeon)",
  segmentation_verified: "Segmentation verified (radiologist)",
  spend_approved: "Spend approved (clinical director)",
  print_plan_approved: "Print plan approved (biomedical engineer)",
  quality_control: "Quality control (print technician)",
};

/** Actions that are tasks (not escape hatches such as cancel or re-run). */
const TASK_ACTIONS = new Set([
  "submit",
  "approve_model",
  "verify_segmentation",
  "sign_off",
  "approve_print_plan",
  "start_printing",
  "finish_printing",
  "record_qc",
  "ship",
  "confirm_delivery",
]);

/** States in which a role may have something to do (details are fetched for these only). */
export const ROLE_STATES: Partial<Record<Role, string[]>> = {
  surgeon: ["draft", "uploaded", "review", "shipped"],
  radiologist: ["draft", "uploaded", "review"],
  clinical_director: ["sign_off"],
  biomedical_engineer: ["print_preparation"],
  print_technician: ["print_preparation", "printing", "quality_control"],
};

export function tasksOf(d: OrderDetail): string[] {
  let t = d.actions.filter((a) => TASK_ACTIONS.has(a));
  // A gate already passed by someone of this role is not a task any more.
  const passed = new Set(d.gates.map((g) => g.gate));
  if (passed.has("model_approved")) t = t.filter((a) => a !== "approve_model");
  if (passed.has("segmentation_verified")) t = t.filter((a) => a !== "verify_segmentation");
  if (passed.has("print_plan_approved")) t = t.filter((a) => a !== "approve_print_plan");
  if (d.missing_gates.length) t = t.filter((a) => a !== "start_printing");
  const qcPassed = d.gates.some((g) => g.gate === "quality_control" && (typeof g.data === "string" ? g.data.includes('"passed":true') : g.data?.passed));
  if (qcPassed) t = t.filter((a) => a !== "record_qc");
  else t = t.filter((a) => a !== "ship");
  // A failed run waits for someone to re-run it with other parameters.
  const last = d.jobs[d.jobs.length - 1];
  if (d.order.state === "uploaded" && last?.state === "failed" && d.actions.includes("rerun")) t.push("rerun");
  return t;
}

/** Where a task is done. */
export function taskHref(o: Order, action: string): string {
  switch (action) {
    case "approve_model":
    case "verify_segmentation":
      return `#/orders/${o.id}/review`;
    case "sign_off":
      return `#/orders/${o.id}/sign-off`;
    case "start_printing":
    case "finish_printing":
    case "record_qc":
    case "ship":
      return "#/print";
    default:
      return `#/orders/${o.id}`;
  }
}

export function describeOrder(o: Order): string {
  const a = o.prescription?.anatomy?.length ? o.prescription.anatomy.join(", ") : "anatomy not given";
  return `${a} · ${(o.prescription?.scan_type ?? "scan").toUpperCase()}`;
}
