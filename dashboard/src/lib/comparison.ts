// Run comparison (pure, unit-tested): a run's verdict against its baseline (the RegressionDetected
// condition), its deltas metric by metric, and two runs' timelines overlaid on one axis, in seconds
// since each run's load started.
import type { Comparison, ExperimentView, RegressionView } from "../api/client";
import { timelineRows } from "./analysis";
import { latencyMs, ratio } from "./format";
import type { Timeline } from "./timeline";

type Tone = "green" | "yellow" | "red" | "slate";

/** The verdict as a badge and its explanation; null when the run has no baseline (or was not
 * compared yet). Unknown is never shown as a pass: it says why nothing was compared. */
export function regressionInfo(r: RegressionView | null | undefined): { label: string; tone: Tone; message: string } | null {
  if (!r) return null;
  if (r.status === "True") return { label: "Regression", tone: "red", message: r.message };
  if (r.status === "False") return { label: "Within tolerance", tone: "green", message: r.message };
  return { label: `Not compared (${r.reason})`, tone: "yellow", message: r.message };
}

const LABELS: Record<string, string> = {
  p95Ms: "p95 latency",
  p99Ms: "p99 latency",
  rps: "Requests/s",
  errorRate: "Error rate",
  scaleUpLatencySeconds: "Scale-up latency",
  peakReplicas: "Peak replicas",
  bogoOpsPerSecond: "Bogo-ops/s",
};

function value(metric: string, v: number | null | undefined): string {
  if (v == null) return "none";
  if (metric === "p95Ms" || metric === "p99Ms") return latencyMs(v);
  if (metric === "errorRate") return ratio(v);
  if (metric === "scaleUpLatencySeconds") return `${Math.round(v * 10) / 10}s`;
  if (metric === "rps" || metric === "bogoOpsPerSecond") return (Math.round(v * 10) / 10).toString();
  return String(v);
}

export interface DeltaRow {
  metric: string;
  label: string;
  baseline: string;
  current: string;
  /** Signed, in the metric's unit (error rate in percentage points). */
  delta: string;
  percent: string;
  tolerance: string;
  regressed: boolean;
}

const signed = (v: number, digits: number) => `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(digits)}`;

/** One row per compared metric. */
export function deltaRows(c: Comparison | null | undefined): DeltaRow[] {
  return (c?.metrics ?? []).map((m) => {
    const d = m.delta;
    const delta =
      d == null
        ? "—"
        : m.metric === "errorRate"
          ? `${signed(d * 100, 2)} points`
          : m.metric === "p95Ms" || m.metric === "p99Ms"
            ? `${signed(d, 1)} ms`
            : m.metric === "scaleUpLatencySeconds"
              ? `${signed(d, 1)} s`
              : signed(d, m.metric === "peakReplicas" ? 0 : 1);
    return {
      metric: m.metric,
      label: LABELS[m.metric] ?? m.metric,
      baseline: value(m.metric, m.baseline),
      current: value(m.metric, m.current),
      delta,
      percent: m.deltaPercent == null ? "—" : `${signed(m.deltaPercent, 1)}%`,
      tolerance: m.tolerance,
      regressed: m.regressed,
    };
  });
}

/** The Compare page's address for two runs (`namespace/name` each), LoadTests unless `kind`
 * says ScalingExperiments. */
export function compareLink(a: { namespace: string; name: string }, b: { namespace: string; name: string }, kind?: "experiment"): string {
  const q = new URLSearchParams({ a: `${a.namespace}/${a.name}`, b: `${b.namespace}/${b.name}` });
  if (kind) q.set("kind", kind);
  return `/compare?${q.toString()}`;
}

/** One deployment's replicas in two experiments, in seconds since each one's load started
 * (null: no sample of that run at that second, a gap, never 0). */
export interface ReplicaOverlay {
  deployment: string;
  rows: { t: number; a: number | null; b: number | null }[];
}

/** Each deployment of either experiment with both runs' replica timelines overlaid, each
 * shifted so that its load starts at 0 (its sampling start when the load never started). */
export function replicaOverlay(a: ExperimentView, b: ExperimentView): ReplicaOverlay[] {
  const names = [...new Set([...a.deployments, ...b.deployments].map((d) => `${d.namespace}/${d.name}`))];
  const shifted = (e: ExperimentView) => {
    const rows = timelineRows(e.samples, e.startedAt);
    const start = e.startedAt ? Date.parse(e.startedAt) : NaN;
    const load = e.loadStartedAt ? Date.parse(e.loadStartedAt) : NaN;
    const zero = Number.isFinite(start) && Number.isFinite(load) ? (load - start) / 1000 : 0;
    const columns = e.deployments.map((d) => `${d.namespace}/${d.name}`);
    return { rows, zero, columns };
  };
  const sa = shifted(a);
  const sb = shifted(b);
  return names.map((deployment) => {
    const byT = new Map<number, { t: number; a: number | null; b: number | null }>();
    const add = (side: "a" | "b", s: ReturnType<typeof shifted>) => {
      const i = s.columns.indexOf(deployment);
      if (i < 0) return;
      for (const r of s.rows) {
        const t = Math.round(r.t - s.zero);
        const row = byT.get(t) ?? { t, a: null, b: null };
        row[side] = r.replicas[i] ?? row[side];
        byT.set(t, row);
      }
    };
    add("a", sa);
    add("b", sb);
    return { deployment, rows: [...byT.values()].sort((x, y) => x.t - y.t) };
  });
}

/** `namespace/name` parsed; null when malformed. */
export function parseRun(s: string | null): { namespace: string; name: string } | null {
  const m = /^([^/]+)\/([^/]+)$/.exec(s ?? "");
  const [, namespace, name] = m ?? [];
  return namespace && name ? { namespace, name } : null;
}

/** One row of the overlay: `t` in seconds since each run's load started; null where a run has no
 * point at that time (a gap, never 0). */
export interface OverlayRow {
  t: number;
  aRps: number | null;
  bRps: number | null;
  aP95: number | null;
  bP95: number | null;
  aErrors: number | null;
  bErrors: number | null;
}

/** The two timelines on one axis: each shifted so that its load starts at 0 (its origin when
 * it has no load window), rows merged by whole second. */
export function overlay(a: Timeline | null, b: Timeline | null): OverlayRow[] {
  const rows = new Map<number, OverlayRow>();
  const add = (tl: Timeline | null, side: "a" | "b") => {
    if (!tl) return;
    const zero = tl.load?.from ?? 0;
    for (const r of tl.rows) {
      const t = Math.round(r.t - zero);
      const row = rows.get(t) ?? { t, aRps: null, bRps: null, aP95: null, bP95: null, aErrors: null, bErrors: null };
      if (side === "a") {
        row.aRps = r.rps ?? row.aRps;
        row.aP95 = r.p95Ms ?? row.aP95;
        row.aErrors = r.errorRate ?? row.aErrors;
      } else {
        row.bRps = r.rps ?? row.bRps;
        row.bP95 = r.p95Ms ?? row.bP95;
        row.bErrors = r.errorRate ?? row.bErrors;
      }
      rows.set(t, row);
    }
  };
  add(a, "a");
  add(b, "b");
  return [...rows.values()].sort((x, y) => x.t - y.t);
}

/** Whether either run has a measured point to draw. */
export function hasMeasuredPoints(rows: OverlayRow[]): boolean {
  return rows.some((r) => r.aRps != null || r.bRps != null || r.aP95 != null || r.bP95 != null);
}
