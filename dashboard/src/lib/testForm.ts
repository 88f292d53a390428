// The custom-test form: client-side checks that mirror the LoadTest CRD's schema
// (crds/src/load_test.rs, crds/src/common.rs) and the `spec` they build for POST /api/v1/tests.
// Errors are keyed by the server's field paths (`spec.http.vus`), so the API's own errors land
// next to the same inputs.
import type { LoadTestSpec } from "../api/client";
import { DEFAULT_TARGET_URL, goDurationSeconds, isByteSize, isHttpUrl, isObjectName, LIMITS } from "./fields";

/** HTTP load, or one of the CRD's stress kinds. */
export type TestKind = "http" | NonNullable<LoadTestSpec["stress"]>["kind"];

/** The kinds of test the form offers, in its order. */
export const KIND_LABELS: Record<TestKind, string> = {
  http: "HTTP load (k6)",
  cpu: "CPU stress (stress-ng)",
  memory: "Memory stress (stress-ng)",
};

/** The form's raw text, one string per input. Empty optional inputs are left out of the spec
 * (the server then applies its default). */
export interface TestForm {
  cluster: string;
  kind: TestKind;
  vus: string;
  parallelism: string;
  duration: string;
  targetUrl: string;
  rampUp: string;
  p95Ms: string;
  errorRate: string;
  workers: string;
  timeout: string;
  vmBytes: string;
}

export type FormField = Exclude<keyof TestForm, "kind">;
/** The inputs of the form itself (the cluster is chosen elsewhere on the page). */
export type InputField = Exclude<FormField, "cluster">;
export type FieldErrors = Partial<Record<string, string>>;
export type Validation = { spec: LoadTestSpec; errors?: undefined } | { errors: FieldErrors; spec?: undefined };

/** The server's defaults (crds/src/plan.rs), pre-filled like the original form. */
export const DEFAULT_FORM: Omit<TestForm, "cluster"> = {
  kind: "http",
  vus: "50",
  parallelism: "1",
  duration: "30s",
  targetUrl: DEFAULT_TARGET_URL,
  rampUp: "",
  p95Ms: "2000",
  errorRate: "",
  workers: "1",
  timeout: "30s",
  vmBytes: "64M",
};

/** The request field each input fills. */
export const FIELD_PATHS: Record<FormField, string> = {
  cluster: "spec.cluster",
  vus: "spec.http.vus",
  parallelism: "spec.http.parallelism",
  duration: "spec.http.duration",
  targetUrl: "spec.http.targetUrl",
  rampUp: "spec.http.rampUp",
  p95Ms: "spec.http.thresholds.p95Ms",
  errorRate: "spec.http.thresholds.errorRate",
  workers: "spec.stress.workers",
  timeout: "spec.stress.timeout",
  vmBytes: "spec.stress.vmBytes",
};

/** The inputs shown for each kind of test (cluster is chosen above the form). */
export const KIND_FIELDS: Record<TestKind, InputField[]> = {
  http: ["vus", "parallelism", "duration", "targetUrl", "rampUp", "p95Ms", "errorRate"],
  cpu: ["workers", "timeout"],
  memory: ["workers", "timeout", "vmBytes"],
};

type Range = { readonly min: number; readonly max: number };

// The CRD's messages (crds/src/common.rs) word for word, then the form's own for the bounds
// that the API server reports in its own words.
export const MESSAGES = {
  duration: "must be a duration such as 30s, 5m or 1h30m, between 1s and 24h",
  url: "must be an absolute http:// or https:// URL with a host, e.g. http://nginx-web.demo.svc.cluster.local",
  byteSize: "must be a size such as 64M, 512K or 1G (a number of 1 to 5 digits and a K, M or G suffix)",
  objectName:
    "must be a Kubernetes object name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
  cluster: "choose a cluster",
  vus: `must be a whole number from ${LIMITS.vus.min} to ${LIMITS.vus.max}`,
  parallelism: `must be a whole number from ${LIMITS.parallelism.min} to ${LIMITS.parallelism.max}`,
  parallelismOverVus:
    "parallelism may not exceed the virtual users (vus, default 50, or the highest stage target): every runner needs at least one; lower parallelism or raise vus",
  p95Ms: `must be a whole number of milliseconds from ${LIMITS.p95Ms.min} to ${LIMITS.p95Ms.max}`,
  errorRate: `must be a number from ${LIMITS.errorRate.min} to ${LIMITS.errorRate.max} (0.01 means 1%)`,
  workers: `must be a whole number from ${LIMITS.workers.min} to ${LIMITS.workers.max}`,
} as const;

/** A whole number within the range, or null. */
function wholeNumber(value: string, range: Range): number | null {
  if (!/^[0-9]+$/.test(value)) return null;
  const n = Number(value);
  return n >= range.min && n <= range.max ? n : null;
}

/** Checks the form as the API server would and builds the LoadTest spec, or says what is wrong
 * with each field (keyed by its request path, e.g. `spec.http.vus`). */
export function validate(form: TestForm): Validation {
  const errors: FieldErrors = {};
  const value = (field: FormField) => form[field].trim();
  const fail = (field: FormField, message: string) => {
    errors[FIELD_PATHS[field]] = message;
  };

  const cluster = value("cluster");
  if (cluster === "") fail("cluster", MESSAGES.cluster);
  else if (!isObjectName(cluster)) fail("cluster", MESSAGES.objectName);

  /** An optional whole number: undefined when empty. */
  const number = (field: FormField, range: Range, message: string): number | undefined => {
    const v = value(field);
    if (v === "") return undefined;
    const n = wholeNumber(v, range);
    if (n === null) fail(field, message);
    return n ?? undefined;
  };
  const duration = (field: FormField): string | undefined => {
    const v = value(field);
    if (v === "") return undefined;
    if (goDurationSeconds(v) === null) fail(field, MESSAGES.duration);
    return v;
  };

  let spec: LoadTestSpec;
  if (form.kind === "http") {
    const http: NonNullable<LoadTestSpec["http"]> = {};
    const targetUrl = value("targetUrl");
    if (targetUrl !== "") {
      if (!isHttpUrl(targetUrl)) fail("targetUrl", MESSAGES.url);
      http.targetUrl = targetUrl;
    }
    const vus = number("vus", LIMITS.vus, MESSAGES.vus);
    if (vus !== undefined) http.vus = vus;
    // One runner is the default: the spec says parallelism only for several.
    const runners = number("parallelism", LIMITS.parallelism, MESSAGES.parallelism);
    if (runners !== undefined && runners > 1) {
      if (runners > (vus ?? 50)) fail("parallelism", MESSAGES.parallelismOverVus);
      http.parallelism = runners;
    }
    const d = duration("duration");
    if (d !== undefined) http.duration = d;
    const ramp = duration("rampUp");
    if (ramp !== undefined) http.rampUp = ramp;
    const thresholds: NonNullable<NonNullable<LoadTestSpec["http"]>["thresholds"]> = {};
    const p95 = number("p95Ms", LIMITS.p95Ms, MESSAGES.p95Ms);
    if (p95 !== undefined) thresholds.p95Ms = p95;
    const rate = value("errorRate");
    if (rate !== "") {
      const r = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(rate) ? Number(rate) : NaN;
      if (!(r >= LIMITS.errorRate.min && r <= LIMITS.errorRate.max)) fail("errorRate", MESSAGES.errorRate);
      thresholds.errorRate = r;
    }
    if (Object.keys(thresholds).length > 0) http.thresholds = thresholds;
    spec = { cluster, http };
  } else {
    const stress: NonNullable<LoadTestSpec["stress"]> = { kind: form.kind };
    const workers = number("workers", LIMITS.workers, MESSAGES.workers);
    if (workers !== undefined) stress.workers = workers;
    const t = duration("timeout");
    if (t !== undefined) stress.timeout = t;
    // vmBytes applies to kind memory only (the CRD's CEL rule): never sent for cpu.
    const bytes = value("vmBytes");
    if (form.kind === "memory" && bytes !== "") {
      if (!isByteSize(bytes)) fail("vmBytes", MESSAGES.byteSize);
      stress.vmBytes = bytes;
    }
    spec = { cluster, stress };
  }
  return Object.keys(errors).length > 0 ? { errors } : { spec };
}

/** The input a server error's `field` belongs to, or null when none of the shown inputs
 * matches (the error is then shown above the form). */
export function inputForField(field: string | undefined | null, kind: TestKind): FormField | null {
  if (!field) return null;
  for (const input of ["cluster" as const, ...KIND_FIELDS[kind]]) {
    if (FIELD_PATHS[input] === field) return input;
  }
  return null;
}
