// The Testing page's schedules (pure): pass rate, the per-run series for the small charts, and
// each run's links. A run that measured nothing has no point (null, a gap), never a zero.
import type { Schemas } from "../api/client";
import { compareLink } from "./comparison";
import { experimentLink } from "./analysis";

export type ScheduleView = Schemas["ScheduleView"];
export type ScheduleRun = Schemas["ScheduleRun"];

export interface PassRate {
  passed: number;
  failed: number;
  notMeasured: number;
  running: number;
  /** passed / (passed + failed), 0 to 1; null when no run passed or failed yet. */
  rate: number | null;
}

export function passRate(runs: ScheduleRun[]): PassRate {
  const n = (o: ScheduleRun["outcome"]) => runs.filter((r) => r.outcome === o).length;
  const passed = n("passed");
  const failed = n("failed");
  return { passed, failed, notMeasured: n("notMeasured"), running: n("running"), rate: passed + failed > 0 ? passed / (passed + failed) : null };
}

/** Which number a schedule's chart shows: p95 for LoadTests, scale-up latency for experiments. */
export function chartMetric(s: ScheduleView): { key: "p95Ms" | "scaleUpLatencySeconds"; label: string; unit: string } {
  return s.runKind === "ScalingExperiment"
    ? { key: "scaleUpLatencySeconds", label: "Scale-up latency", unit: "s" }
    : { key: "p95Ms", label: "p95 latency", unit: "ms" };
}

export interface RunPoint {
  run: string;
  value: number | null;
}

/** One point per run, oldest first; null where the run has no value. */
export function runSeries(s: ScheduleView): RunPoint[] {
  const { key } = chartMetric(s);
  return s.runs.map((r) => ({ run: r.name, value: r[key] ?? null }));
}

/** Why a chart has nothing to draw, or null when it has points. */
export function missingChart(s: ScheduleView): string | null {
  const { label } = chartMetric(s);
  if (s.runs.length === 0) return "No runs yet.";
  if (runSeries(s).some((p) => p.value != null)) return null;
  const finished = s.runs.filter((r) => r.outcome !== "running");
  if (finished.length === 0) return `No ${label} yet: no run has finished.`;
  if (finished.every((r) => r.outcome === "notMeasured"))
    return `No ${label}: the runs measured nothing (they ran on simulated nodes, as in the lab).`;
  return `No ${label}: no finished run measured it.`;
}

/** Where a run's own view is: the test's card on this page, or the experiment in Load analysis. */
export function runLink(s: ScheduleView, r: ScheduleRun): string {
  return s.runKind === "ScalingExperiment" ? experimentLink({ namespace: s.namespace, name: r.name }) : `#${testAnchor(s.namespace, r.name)}`;
}

/** The id of a test's card on the Testing page. */
export const testAnchor = (namespace: string, name: string) => `test-${namespace}-${name}`;

/** The Compare page for a run and the one before it (its baseline when it was compared), or null
 * for the first run. */
export function runCompareLink(s: ScheduleView, index: number): string | null {
  const r = s.runs[index];
  const before = r?.baseline ?? s.runs[index - 1]?.name;
  if (!r || !before) return null;
  return compareLink({ namespace: s.namespace, name: before }, { namespace: s.namespace, name: r.name });
}
