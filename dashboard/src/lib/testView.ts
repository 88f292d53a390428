// How the Testing page reads clusters, presets and LoadTests (pure, unit-tested).
import type { ClusterView, LoadTestSpec, PresetView, Schemas, TestView } from "../api/client";

type Tone = "green" | "yellow" | "red" | "blue" | "purple" | "slate";
type LoadTestResults = Schemas["LoadTestResults"];

/** Clusters tests can target: the managed ones (the platform cluster runs the operator). */
export function targetClusters(clusters: ClusterView[]): ClusterView[] {
  return clusters.filter((c) => c.tier !== "platform");
}

/** The default target: the first managed cluster that is Ready, or null. */
export function defaultCluster(clusters: ClusterView[]): string | null {
  return targetClusters(clusters).find((c) => c.phase === "Ready")?.name ?? null;
}

/** Scaling and cascade presets are ScalingExperiments, started from the Load analysis page. */
export function isExperimentPreset(p: PresetView): boolean {
  return p.kind === "experiment";
}

export function analysisLink(preset: string, cluster: string): string {
  const q = new URLSearchParams({ preset });
  if (cluster) q.set("cluster", cluster);
  return `/analysis?${q.toString()}`;
}

/** Newest first (by creation time, then name), whatever order the list came in. */
export function newestFirst(tests: TestView[]): TestView[] {
  return [...tests].sort((a, b) => {
    const ta = a.createdAt ? Date.parse(a.createdAt) : 0;
    const tb = b.createdAt ? Date.parse(b.createdAt) : 0;
    return tb - ta || a.name.localeCompare(b.name);
  });
}

/** The place in line from the operator's message ("… position 2 in line"). */
export function queuePosition(message: string | null | undefined): number | null {
  const m = message ? /position (\d+) in line/.exec(message) : null;
  return m ? Number(m[1]) : null;
}

export function isFinished(t: Pick<TestView, "phase">): boolean {
  return t.phase === "Succeeded" || t.phase === "Failed" || t.phase === "Completed";
}

/** Ran to its end but measured nothing (phase Completed, e.g. the lab's simulated runners):
 * neither a pass nor a failure. */
export function notMeasured(t: Pick<TestView, "phase">): boolean {
  return t.phase === "Completed";
}

/** The phase badge: label, tone, and the failure reason (or why nothing was measured), shown in
 * the same tone. */
export function phaseInfo(t: TestView): { label: string; tone: Tone; reason?: string } {
  if (t.deleting) return { label: "Deleting", tone: "slate" };
  if (t.queued && !isFinished(t)) {
    const pos = queuePosition(t.message);
    return { label: pos ? `Queued (#${pos} in line)` : "Queued", tone: "yellow" };
  }
  switch (t.phase) {
    case "Starting":
      return { label: "Starting", tone: "blue" };
    case "Running":
      return { label: "Running", tone: "blue" };
    case "Succeeded":
      return { label: "Succeeded", tone: "green" };
    case "Failed":
      return { label: "Failed", tone: "red", reason: t.reason ?? undefined };
    case "Completed":
      // Neutral: not green (no verdict), not red (nothing failed).
      return {
        label: t.reason === "RunnerSimulated" ? "Simulated, not measured" : "Not measured",
        tone: "slate",
        reason: t.reason ?? undefined,
      };
    default:
      return { label: "Pending", tone: "slate" };
  }
}

const TYPE_LABELS: Record<string, string> = { http: "HTTP load (k6)", cpu: "CPU stress", memory: "Memory stress" };

/** What the test is: its preset, or the kind of custom test. */
export function testLabel(t: TestView): string {
  if (t.preset) return t.preset;
  const type = t.testType ?? (t.spec.http ? "http" : t.spec.stress?.kind);
  return `Custom ${TYPE_LABELS[type ?? ""] ?? "test"}`;
}

/** The spec's load in a few words: VUs, duration, ramp, URL and thresholds, or workers, time
 * and size. `spec` may be a preset's (`{http}` or `{stress}`). */
export function specSummary(spec: Partial<Pick<LoadTestSpec, "http" | "stress">> | null | undefined): string[] {
  const out: string[] = [];
  const h = spec?.http;
  const s = spec?.stress;
  if (h) {
    if (h.stages?.length) out.push(`${h.stages.length} stages`);
    else {
      out.push(`${h.vus ?? 50} VUs`, `${h.duration ?? "30s"}`);
      if (h.rampUp) out.push(`ramp ${h.rampUp}`);
    }
    if (h.parallelism && h.parallelism > 1) out.push(`${h.parallelism} runners`);
    if (h.targets?.length) out.push(h.targets.join(" → "));
    else if (h.targetUrl) out.push(h.targetUrl);
    if (h.thresholds?.p95Ms != null) out.push(`p95 < ${h.thresholds.p95Ms} ms`);
    if (h.thresholds?.errorRate != null) out.push(`errors < ${+(h.thresholds.errorRate * 100).toFixed(2)}%`);
  } else if (s) {
    const workers = s.workers ?? 1;
    out.push(`${workers} ${s.kind} worker${workers === 1 ? "" : "s"}`, s.timeout ?? "30s");
    if (s.kind === "memory") out.push(`${s.vmBytes ?? "64M"} each`);
  }
  return out;
}

/** The spec a test runs: its own, or its preset's. */
export function effectiveSpec(t: TestView, presets: PresetView[] | undefined): Partial<Pick<LoadTestSpec, "http" | "stress">> {
  if (t.preset) {
    const p = presets?.find((x) => x.name === t.preset);
    return (p?.spec ?? {}) as Partial<Pick<LoadTestSpec, "http" | "stress">>;
  }
  return t.spec;
}

/** The verdict of a k6 metric's thresholds: false when any failed, null when none was set. */
export function verdict(results: LoadTestResults | null | undefined, metric: string): boolean | null {
  const ts = (results?.thresholds ?? []).filter((t) => t.metric === metric);
  return ts.length ? ts.every((t) => t.passed) : null;
}

/** Seconds between two RFC 3339 times, or null when either is missing. */
export function secondsBetween(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start || !end) return null;
  const s = Date.parse(start);
  const e = Date.parse(end);
  return Number.isFinite(s) && Number.isFinite(e) ? (e - s) / 1000 : null;
}

/** The file name from a Content-Disposition header, or the fallback. */
export function attachmentName(disposition: string | null, fallback: string): string {
  const m = disposition ? /filename="?([^";]+)"?/i.exec(disposition) : null;
  return m?.[1] ?? fallback;
}

/** One runner of a parallel test (spec.http.parallelism), as a row of the results. */
export interface RunnerRow {
  index: number;
  requests: number | null;
  rps: number | null;
  errorRate: number | null;
  p95: number | null;
  p99: number | null;
  passed: boolean | null;
}

/** The per-runner rows of a parallel test's results, by index; empty for one runner. */
export function runnerRows(results: LoadTestResults | null | undefined): RunnerRow[] {
  return [...(results?.runners ?? [])]
    .sort((a, b) => a.index - b.index)
    .map((r) => ({
      index: r.index,
      requests: r.requests ?? null,
      rps: r.rps ?? null,
      errorRate: r.errorRate ?? null,
      p95: r.latencyMs?.p95 ?? null,
      p99: r.latencyMs?.p99 ?? null,
      passed: r.thresholdsPassed ?? null,
    }));
}

/** Whether the test's percentiles exist only per runner (several runners, no merged
 * histograms): the page then shows each runner's and never an average. */
export function percentilesPerRunner(results: LoadTestResults | null | undefined): boolean {
  return results?.percentiles === "PerRunner";
}
