// Formatting and small data transforms (pure, unit-tested).

/** Seconds as "42 s", "3 m 05 s", "2 h 10 m". */
export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} m`;
}

/** Seconds with a tenth below a minute ("18.4 s"), where a tenth matters (scaling latencies);
 * else as duration(). */
export function preciseDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  return seconds < 60 ? `${Math.max(0, seconds).toFixed(1)} s` : duration(seconds);
}

/** Whole seconds, "120 s": chart axes of seconds since a start stay short and comparable. */
export function wholeSeconds(seconds: number): string {
  return `${Math.round(seconds)} s`;
}

/** A wall-clock time in the browser's locale; "—" when there is none. Takes the API's RFC 3339
 * strings and milliseconds since the epoch (when a query's data arrived, chart times). */
export function clockTime(t: string | number | null | undefined): string {
  const d = toDate(t);
  return d ? d.toLocaleTimeString() : "—";
}

/** A date and time in the browser's locale, for what may be days old; "—" when there is none. */
export function dateTime(t: string | number | null | undefined): string {
  const d = toDate(t);
  return d ? d.toLocaleString() : "—";
}

function toDate(t: string | number | null | undefined): Date | null {
  if (t == null || t === "") return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** An age like kubectl's: 45s, 12m, 3h, 5d. */
export function age(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Bytes as B, KiB, MiB, GiB. */
export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Millicores as "250m" or "1.5 cores". */
export function millicores(m: number | null | undefined): string {
  if (m == null || !Number.isFinite(m)) return "—";
  return m < 1000 ? `${Math.round(m)}m` : `${(m / 1000).toFixed(m % 1000 === 0 ? 0 : 1)} cores`;
}

/** A percentage, or "unknown" when the metrics API gave none (never 0). */
export function percent(p: number | null | undefined, digits = 0): string {
  return p == null || !Number.isFinite(p) ? "unknown" : `${p.toFixed(digits)}%`;
}

/** A count with the locale's digit grouping ("12,345"); "—" when unknown. */
export function count(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? "—" : n.toLocaleString();
}

/** Latency in ms as "850 ms" or "1.2 s". */
export function latencyMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "—";
  return ms < 1000 ? `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An error ratio (0..1) as a percentage. */
export function ratio(r: number | null | undefined): string {
  if (r == null || !Number.isFinite(r)) return "—";
  return `${(r * 100).toFixed(r < 0.01 && r > 0 ? 2 : 1)}%`;
}

export type Level = "ok" | "warn" | "bad";

/** The original's usage thresholds: above 90% bad, above 70% warning. */
export function usageLevel(p: number | null | undefined): Level | null {
  if (p == null || !Number.isFinite(p)) return null;
  return p > 90 ? "bad" : p > 70 ? "warn" : "ok";
}

/** Tier colours of the original (left border of cluster cards). */
export const TIER_COLOURS: Record<string, string> = {
  platform: "#a855f7",
  dev: "#3b82f6",
  staging: "#22c55e",
  prod: "#ef4444",
};

export const PALETTE = ["#3b82f6", "#22c55e", "#eab308", "#ef4444", "#a855f7", "#06b6d4", "#f97316", "#ec4899"];

/** A cluster's pod counts, summed over its namespaces' (the API counts them). */
export function podTotals(namespaces: { total: number; running: number; pending: number; failed: number; crashLooping: number }[]): {
  running: number;
  pending: number;
  failed: number;
  crashLooping: number;
  total: number;
} {
  const totals = { running: 0, pending: 0, failed: 0, crashLooping: 0, total: 0 };
  for (const n of namespaces) {
    totals.running += n.running;
    totals.pending += n.pending;
    totals.failed += n.failed;
    totals.crashLooping += n.crashLooping;
    totals.total += n.total;
  }
  return totals;
}

/** A pod's age at `now` (ms since the epoch) from its creation time; null when unknown. */
export function ageSeconds(createdAt: string | null | undefined, now: number): number | null {
  const created = createdAt ? Date.parse(createdAt) : Number.NaN;
  return Number.isFinite(created) ? Math.max(0, Math.floor((now - created) / 1000)) : null;
}

/** Mean of the values that are known; null when none is. */
export function meanKnown(values: (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => v != null && Number.isFinite(v));
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
}
