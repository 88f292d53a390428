// Checks of the CRDs' field types (crds/src/common.rs), shared by the Testing and Load analysis
// forms so both agree with the API server. crds.test.ts holds every pattern, length and bound
// here against the generated CRDs (charts/tart-operator/crds/): a change on one side only fails
// it.

/** The default target of HTTP load (crds/src/plan.rs). */
export const DEFAULT_TARGET_URL = "http://nginx-web.demo.svc.cluster.local";

/** The bounds of the numbers the forms take, as the CRDs set them. */
export const LIMITS = {
  vus: { min: 1, max: 1000 },
  parallelism: { min: 1, max: 20 },
  p95Ms: { min: 1, max: 600_000 },
  errorRate: { min: 0, max: 1 },
  workers: { min: 1, max: 64 },
  cooldownSeconds: { min: 0, max: 3600 },
  /** GoDuration, in seconds: 1s to 24h. */
  durationSeconds: { min: 1, max: 86_400 },
} as const;

/** At most this many target deployments per experiment. */
export const MAX_TARGETS = 20;

/** The maximum lengths of the CRDs' string types. */
export const MAX_LENGTH = { goDuration: 16, byteSize: 8, objectName: 253, dnsLabel: 63, httpUrl: 2048 } as const;

// The CRDs' patterns, written as in their CEL rules.
export const GO_DURATION = /^([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,5}s)?$/;
export const BYTE_SIZE = /^[1-9][0-9]{0,4}[KMG]$/;
export const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** ObjectName: a Kubernetes object name (DNS subdomain). */
export const isObjectName = (s: string): boolean => s.length <= MAX_LENGTH.objectName && OBJECT_NAME.test(s);

/** DnsLabel: a namespace name. */
export const isDnsLabel = (s: string): boolean => s.length <= MAX_LENGTH.dnsLabel && DNS_LABEL.test(s);

/** ByteSize: a memory size such as 64M. */
export const isByteSize = (s: string): boolean => s.length <= MAX_LENGTH.byteSize && BYTE_SIZE.test(s);

/** Seconds of a GoDuration, or null when the CRD would reject it (it also rejects ""). */
export function goDurationSeconds(value: string): number | null {
  if (value === "" || value.length > MAX_LENGTH.goDuration) return null;
  const m = GO_DURATION.exec(value);
  if (!m) return null;
  // Each group is digits and a unit ("90m"); parseInt reads the digits.
  const [h, min, s] = [m[1], m[2], m[3]].map((part) => (part ? Number.parseInt(part, 10) : 0)) as [number, number, number];
  const secs = h * 3600 + min * 60 + s;
  return secs >= LIMITS.durationSeconds.min && secs <= LIMITS.durationSeconds.max ? secs : null;
}

/** HttpUrl: `isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''`.
 * CEL's isURL is Go's url.ParseRequestURI, which is stricter than the browser's URL parser: it
 * takes no surrounding spaces or control characters, no backslashes, and a host only after
 * `scheme://`. */
export function isHttpUrl(value: string): boolean {
  if (value.length > MAX_LENGTH.httpUrl || /[\s\\\p{Cc}]/u.test(value)) return false;
  if (!/^https?:\/\/[^/?#]/i.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}
