// Checks of the CRDs' field types (crds/src/common.rs), shared by the Testing and Load analysis
// forms so both agree with the API server.

/** The default target of HTTP load (crds/src/plan.rs). */
export const DEFAULT_TARGET_URL = "http://nginx-web.demo.svc.cluster.local";

// GoDuration: maxLength 16 and `^([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,5}s)?$`, not empty,
// between 1s and 24h.
const GO_DURATION = /^(?:([0-9]{1,5})h)?(?:([0-9]{1,5})m)?(?:([0-9]{1,5})s)?$/;
// ByteSize: `^[1-9][0-9]{0,4}[KMG]$` (maxLength 8).
export const BYTE_SIZE = /^[1-9][0-9]{0,4}[KMG]$/;
// ObjectName (maxLength 253).
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** ObjectName: a Kubernetes object name (DNS subdomain, at most 253 characters). */
export const isObjectName = (s: string): boolean => s.length <= 253 && OBJECT_NAME.test(s);

/** Seconds of a GoDuration, or null when the CRD would reject it. */
export function goDurationSeconds(value: string): number | null {
  if (value === "" || value.length > 16) return null;
  const m = GO_DURATION.exec(value);
  if (!m) return null;
  const [, h, min, s] = m;
  const secs = Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
  return secs >= 1 && secs <= 86_400 ? secs : null;
}

/** HttpUrl: `isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''`
 * (at most 2048 characters). CEL's isURL is Go's url.ParseRequestURI, which is stricter than the
 * browser's URL parser: it takes no surrounding spaces or control characters, no backslashes, and
 * a host only after `scheme://`. */
export function isHttpUrl(value: string): boolean {
  if (value.length > 2048 || /[\s\\\p{Cc}]/u.test(value)) return false;
  if (!/^https?:\/\/[^/?#]/i.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

