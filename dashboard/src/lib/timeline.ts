// The one timeline of a load (pure, unit-tested): the planned load, the measured RPS, p95 latency
// and error rate (the operator's series API), and the replicas and CPU of each target deployment,
// on one time axis in seconds since a common origin, with the load and cooldown windows. It feeds
// stacked charts sharing their x domain, and the CSV export (one row per timestamp).
import type { ExperimentView, ScalingHistory, SeriesPoint, TestSeries } from "../api/client";
import { timeOrigin, phaseWindows, type Window } from "./analysis";
import { seriesKey, toReplicaSeries } from "./scaling";

/** The series with a new point from the event stream: in time order, replacing a point of the
 * same time; a series the API called unavailable stays as it is. */
export function withPoint(series: TestSeries, point: SeriesPoint): TestSeries {
  if (series.source !== "prometheus") return series;
  const at = ms(point.time);
  if (at == null) return series;
  const points = series.points.filter((p) => p.time !== point.time);
  const i = points.findIndex((p) => (ms(p.time) ?? 0) > at);
  points.splice(i < 0 ? points.length : i, 0, point);
  return { ...series, points };
}

/** One target deployment: its name and its HPA's limits (null: unknown). */
export interface Target {
  name: string;
  maxReplicas: number | null;
  cpuTargetPercent: number | null;
}

/** One row of the timeline: `t` in seconds since the origin; null where that series has no
 * point at this time (drawn as a gap, never as 0). */
export interface TimelineRow {
  t: number;
  /** RFC 3339. */
  time: string;
  /** Planned VUs (the plan's curve at this time; null outside the load). */
  vus: number | null;
  rps: number | null;
  p95Ms: number | null;
  errorRate: number | null;
  /** Per target, in the order of `targets`. */
  replicas: (number | null)[];
  cpu: (number | null)[];
}

export interface Timeline {
  /** Time zero, ms since the epoch. */
  origin: number;
  /** The shared x domain, seconds since the origin. */
  domain: [number, number];
  load: Window | null;
  cooldown: Window | null;
  targets: Target[];
  rows: TimelineRow[];
  /** Why RPS, p95 and errors have no chart (the series API's reason, or why it is missing);
   * null when they are measured. */
  unmeasured: string | null;
  /** A parallel test whose final results hold each runner's percentiles (no Prometheus to
   * merge their histograms): said under the p95 panel, never drawn as one line. */
  p95PerRunner: string | null;
}

/** What the p95 panel says of a parallel test whose percentiles are per runner. */
export const P95_PER_RUNNER =
  "Each runner's final p95 and p99 are in the test's results, per runner: without Prometheus, k6's end-of-test summaries cannot be merged into one percentile, so none is drawn and none is averaged.";

const ms = (t: string | null | undefined): number | null => {
  if (!t) return null;
  const v = Date.parse(t);
  return Number.isFinite(v) ? v : null;
};

const finite = (v: number | null | undefined): number | null => (v != null && Number.isFinite(v) ? v : null);

/** The planned VUs at `offset` seconds from the runner's start: linear between corners, null
 * before the first and after the last. */
export function plannedVus(load: TestSeries["load"], offset: number): number | null {
  const first = load[0];
  const last = load[load.length - 1];
  if (!first || !last || offset < first.offsetSeconds || offset > last.offsetSeconds) return null;
  for (let i = 1; i < load.length; i++) {
    const a = load[i - 1];
    const b = load[i];
    if (!a || !b || offset > b.offsetSeconds) continue;
    const span = b.offsetSeconds - a.offsetSeconds;
    return span <= 0 ? b.vus : a.vus + ((b.vus - a.vus) * (offset - a.offsetSeconds)) / span;
  }
  return last.vus;
}

/** Why there is no measured RPS/p95/error chart: the API's reason when it has no points
 * (unavailable, or Prometheus without samples of the test), null when points are measured.
 * `series` undefined: not loaded (`loading` says why). */
export function unmeasuredReason(series: TestSeries | undefined, loading: string): string | null {
  if (!series) return loading;
  if (series.source === "unavailable" || series.points.length === 0) return series.reason || "no measured series is available for this test.";
  return null;
}

/** A sample of the targets at `time` (ms): replicas and CPU per target. */
export interface TargetSample {
  time: number;
  replicas: (number | null)[];
  cpu: (number | null)[];
}

export interface TimelineInput {
  origin: number;
  /** The end of the picture (ms): the finish, or now while it runs. */
  end: number | null;
  load: Window | null;
  cooldown: Window | null;
  targets: Target[];
  samples: TargetSample[];
  series: TestSeries | undefined;
  /** Where the plan's offset 0 is (ms): the runner's start. */
  loadStart: number | null;
  /** Why the series is missing while `series` is undefined. */
  seriesMissing: string;
  /** The test's final percentiles are per runner (results.percentiles "PerRunner"). */
  perRunner?: boolean;
}

/** Merges everything into one row per distinct timestamp, sorted by time. */
export function buildTimeline(i: TimelineInput): Timeline {
  const rows = new Map<number, TimelineRow>();
  const n = i.targets.length;
  const row = (at: number): TimelineRow => {
    let r = rows.get(at);
    if (!r) {
      r = {
        t: (at - i.origin) / 1000,
        time: new Date(at).toISOString(),
        vus: null,
        rps: null,
        p95Ms: null,
        errorRate: null,
        replicas: Array<number | null>(n).fill(null),
        cpu: Array<number | null>(n).fill(null),
      };
      rows.set(at, r);
    }
    return r;
  };
  for (const s of i.samples) {
    const r = row(s.time);
    for (let k = 0; k < n; k++) {
      r.replicas[k] = finite(s.replicas[k]);
      r.cpu[k] = finite(s.cpu[k]);
    }
  }
  const measured = i.series?.source === "prometheus" && i.series.points.length > 0;
  if (i.series && measured) {
    for (const p of i.series.points) {
      const at = ms(p.time);
      if (at == null) continue;
      const r = row(at);
      r.rps = finite(p.rps);
      r.p95Ms = finite(p.p95Ms);
      r.errorRate = finite(p.errorRate);
    }
  }
  const plan = i.series?.load ?? [];
  const start = ms(i.series?.startedAt) ?? i.loadStart;
  if (start != null && plan.length) {
    // The plan's corners, so the curve is drawn exactly; every other row gets its value too.
    for (const c of plan) row(start + c.offsetSeconds * 1000);
    for (const [at, r] of rows) {
      const v = plannedVus(plan, (at - start) / 1000);
      r.vus = v == null ? null : Math.round(v * 100) / 100;
    }
  }
  const sorted = [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  let last = 0;
  for (const r of sorted) last = Math.max(last, r.t);
  for (const w of [i.load, i.cooldown]) if (w) last = Math.max(last, w.to);
  if (i.end != null) last = Math.max(last, (i.end - i.origin) / 1000);
  const first = Math.min(0, sorted[0]?.t ?? 0);
  return {
    origin: i.origin,
    domain: [first, last],
    load: i.load,
    cooldown: i.cooldown,
    targets: i.targets,
    rows: sorted,
    unmeasured: measured ? null : unmeasuredReason(i.series, i.seriesMissing),
    p95PerRunner: i.perRunner ? P95_PER_RUNNER : null,
  };
}

/** The HPA limits of each target from the cluster's scaling history (its newest values); null
 * when the history does not know the target. */
export function targetLimits(names: string[], history: ScalingHistory | undefined): Target[] {
  const series = history ? toReplicaSeries(history.points).series : [];
  return names.map((name) => {
    const s = series.find((x) => x.key === name);
    return { name, maxReplicas: s?.max ?? null, cpuTargetPercent: s?.target ?? null };
  });
}

/** A ScalingExperiment's timeline: its samples, windows and child LoadTest's series. */
export function experimentTimeline(e: ExperimentView, series: TestSeries | undefined, history: ScalingHistory | undefined, seriesMissing: string, now: number): Timeline | null {
  const windows = phaseWindows(e);
  const origin = windows.origin ?? timeOrigin(e.samples, e.startedAt);
  if (origin == null) return null;
  const names = e.deployments.map((d) => `${d.namespace}/${d.name}`);
  const samples: TargetSample[] = [];
  for (const s of e.samples) {
    const t = ms(s.time);
    if (t != null) samples.push({ time: t, replicas: s.replicas, cpu: s.cpuPercent });
  }
  return buildTimeline({
    origin,
    end: ms(e.finishedAt) ?? (e.live ? now : null),
    load: windows.load,
    cooldown: windows.cooldown,
    targets: targetLimits(names, history),
    samples,
    series,
    loadStart: ms(e.loadStartedAt),
    seriesMissing,
  });
}

/** Seconds of the cluster's HPA history kept around a single test: before it started (to see the
 * baseline) and after it finished (to see the scale-down begin). */
export const BEFORE_SECONDS = 30;
export const AFTER_SECONDS = 180;

/** A single LoadTest's timeline: its series, and the HPAs of its cluster (from the cluster's
 * scaling history) around its run. Null before it started. */
export function testTimeline(
  test: { startedAt?: string | null; finishedAt?: string | null; results?: { percentiles?: string | null } | null },
  series: TestSeries | undefined,
  history: ScalingHistory | undefined,
  seriesMissing: string,
  now: number,
): Timeline | null {
  const origin = ms(test.startedAt) ?? ms(series?.startedAt);
  if (origin == null) return null;
  const finished = ms(test.finishedAt) ?? ms(series?.finishedAt);
  const loadEnd = finished ?? now;
  const from = origin - BEFORE_SECONDS * 1000;
  const to = loadEnd + AFTER_SECONDS * 1000;
  const points = (history?.points ?? []).filter((p) => {
    const t = ms(p.timestamp);
    return t != null && t >= from && t <= to;
  });
  const names: string[] = [];
  for (const p of points) for (const h of p.hpas) if (!names.includes(seriesKey(h))) names.push(seriesKey(h));
  const samples: TargetSample[] = [];
  for (const p of points) {
    const t = ms(p.timestamp);
    if (t == null) continue;
    const replicas = names.map((k) => p.hpas.find((h) => seriesKey(h) === k)?.currentReplicas ?? null);
    const cpu = names.map((k) => p.hpas.find((h) => seriesKey(h) === k)?.currentCpuPercent ?? null);
    samples.push({ time: t, replicas, cpu });
  }
  const loadTo = (loadEnd - origin) / 1000;
  const lastSample = samples[samples.length - 1]?.time;
  return buildTimeline({
    origin,
    end: finished == null ? now : Math.max(finished, lastSample ?? finished),
    load: { from: 0, to: loadTo, open: finished == null },
    cooldown: finished != null && lastSample != null && lastSample > finished ? { from: loadTo, to: (lastSample - origin) / 1000, open: false } : null,
    targets: targetLimits(names, history),
    samples,
    series,
    loadStart: origin,
    seriesMissing,
    perRunner: test.results?.percentiles === "PerRunner",
  });
}

/** Dashed limit lines (each target's max replicas or CPU target): one line per value, labelled
 * with every target that has it, so equal limits do not draw labels over each other. */
export function limitLines(
  targets: (Target & { colour: string })[],
  limit: (t: Target) => number | null,
  label: (value: number) => string,
): { y: number; colour: string; label: string }[] {
  const byValue = new Map<number, { colour: string; names: string[] }>();
  for (const t of targets) {
    const v = limit(t);
    if (v == null) continue;
    const line = byValue.get(v);
    if (line) line.names.push(t.name);
    else byValue.set(v, { colour: t.colour, names: [t.name] });
  }
  return [...byValue.entries()].map(([y, l]) => ({
    y,
    colour: l.names.length > 1 ? "#94a3b8" : l.colour,
    label: `${l.names.join(", ")} ${label(y)}`,
  }));
}

/** The largest value of a series, or null when it has none. */
export function peak(rows: TimelineRow[], value: (r: TimelineRow) => number | null): number | null {
  let best: number | null = null;
  for (const r of rows) {
    const v = value(r);
    if (v != null && (best == null || v > best)) best = v;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// CSV

const cell = (v: string | number | null): string => {
  if (v == null) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Which window a time falls in: load, cooldown, or before/after. */
function windowOf(t: number, tl: Timeline): string {
  if (tl.load && t >= tl.load.from && t <= tl.load.to) return "load";
  if (tl.cooldown && t > tl.cooldown.from && t <= tl.cooldown.to) return "cooldown";
  return tl.load && t < tl.load.from ? "baseline" : "";
}

/** The timeline as CSV: one row per timestamp, every series a column (empty: no point there).
 * RPS, p95 and errors are empty when nothing was measured. */
export function timelineCsv(tl: Timeline): string {
  const header = ["time", "seconds", "window", "planned_vus", "rps", "p95_ms", "error_rate"];
  for (const t of tl.targets) header.push(`${t.name} replicas`, `${t.name} max_replicas`, `${t.name} cpu_percent`, `${t.name} cpu_target_percent`);
  const lines = [header.map(cell).join(",")];
  for (const r of tl.rows) {
    const line: (string | number | null)[] = [r.time, Math.round(r.t * 1000) / 1000, windowOf(r.t, tl), r.vus, r.rps, r.p95Ms, r.errorRate];
    tl.targets.forEach((t, k) => line.push(r.replicas[k] ?? null, t.maxReplicas, r.cpu[k] ?? null, t.cpuTargetPercent));
    lines.push(line.map(cell).join(","));
  }
  return `${lines.join("\n")}\n`;
}

/** Rows of one panel: those where any of its series has a point. Rows of other sources (taken
 * at other times) are left out, so they do not break its lines; a missing point of its own
 * stays null, a gap. */
export function panelRows(rows: TimelineRow[], has: (r: TimelineRow) => boolean): TimelineRow[] {
  return rows.filter(has);
}
