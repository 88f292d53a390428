// ScalingExperiment transforms for the Load analysis page (pure, unit-tested).
import type { ExperimentSpec, ExperimentView, Schemas, TestView } from "../api/client";
import { DEFAULT_TARGET_URL, goDurationSeconds, isDnsLabel, isHttpUrl, isObjectName, LIMITS, MAX_TARGETS } from "./fields";
import { age, preciseDuration } from "./format";
import { isFinished } from "./testView";

export type Sample = Schemas["Sample"];
export type SamplePhase = Schemas["SamplePhase"];
export type Kpis = Schemas["Kpis"];
export type ScalingPreset = Schemas["ScalingPreset"];

/** The predefined experiment loads (the ScalingPreset enum of the API). */
export const SCALING_PRESETS: readonly ScalingPreset[] = [
  "scale-light",
  "scale-heavy",
  "scale-ramp",
  "cascade-light",
  "cascade-heavy",
  "cascade-ramp",
];

export const isScalingPreset = (s: string | null | undefined): s is ScalingPreset => SCALING_PRESETS.includes(s as ScalingPreset);

/** The operator's defaults (README "Scaling experiments" and the CRD). */
export const DEFAULT_COOLDOWN_SECONDS = 180;
export const DEFAULT_VUS = 50;
export const DEFAULT_DURATION = "30s";

const ms = (t: string | null | undefined): number | null => {
  if (!t) return null;
  const v = Date.parse(t);
  return Number.isFinite(v) ? v : null;
};

// ---------------------------------------------------------------------------------------------
// Selection

/** Newest first: by sampling start, descending; experiments not started yet (just created) first. */
export function sortExperiments(list: ExperimentView[]): ExperimentView[] {
  return [...list].sort((a, b) => {
    const ta = ms(a.startedAt) ?? Infinity;
    const tb = ms(b.startedAt) ?? Infinity;
    if (ta !== tb) return tb > ta ? 1 : -1;
    return a.name.localeCompare(b.name);
  });
}

export const experimentId = (e: { namespace: string; name: string }) => `${e.namespace}/${e.name}`;

/** `namespace/name` from the URL, or null when malformed. */
export function parseExperimentId(id: string | null | undefined): { namespace: string; name: string } | null {
  if (!id) return null;
  const i = id.indexOf("/");
  if (i <= 0 || i === id.length - 1 || id.indexOf("/", i + 1) >= 0) return null;
  return { namespace: id.slice(0, i), name: id.slice(i + 1) };
}

/** The default selection: the newest live experiment, else the newest (the list is sorted). */
export function defaultExperiment(sorted: ExperimentView[]): ExperimentView | null {
  return sorted.find((e) => e.live && !e.deleting) ?? sorted[0] ?? null;
}

/** "<name> — <cluster> — <phase> — <age>" for the selector; `now` in ms. */
export function experimentLabel(e: ExperimentView, now: number): string {
  const start = ms(e.startedAt);
  const when = start == null ? "not started" : `${age((now - start) / 1000)} ago`;
  return `${e.name} — ${e.cluster} — ${e.deleting ? "Deleting" : (e.phase ?? "Pending")} — ${when}`;
}

/** What load ran: the preset, or the HTTP description with the operator's defaults filled in. */
export function describeLoad(spec: ExperimentView["spec"]): string {
  if (spec.load.preset) return `preset ${spec.load.preset}`;
  const h = spec.load.http;
  if (!h) return "no load";
  const target = h.targets?.length ? h.targets.join(" → ") : (h.targetUrl ?? DEFAULT_TARGET_URL);
  const shape = h.stages?.length
    ? `${h.stages.length} stages up to ${Math.max(...h.stages.map((s) => s.target))} VUs`
    : `${h.vus ?? DEFAULT_VUS} VUs for ${h.duration ?? DEFAULT_DURATION}${h.rampUp ? ` (ramp ${h.rampUp})` : ""}`;
  return `${shape} on ${target}`;
}

// ---------------------------------------------------------------------------------------------
// Timeline

/** One chart row: `t` in seconds since the experiment's start, one value per deployment (in the
 * order of `deployments`; null: no data, drawn as a gap, never as 0). */
export interface TimelineRow {
  t: number;
  phase: SamplePhase;
  replicas: (number | null)[];
  cpu: (number | null)[];
  /** Summed replicas of the targets with data; null when none has data. */
  total: number | null;
}

/** The time zero of the charts: when sampling started, else the first sample (ms since the epoch). */
export function timeOrigin(samples: Sample[], startedAt: string | null | undefined): number | null {
  const start = ms(startedAt);
  if (start != null) return start;
  for (const s of samples) {
    const t = ms(s.time);
    if (t != null) return t;
  }
  return null;
}

export function timelineRows(samples: Sample[], startedAt: string | null | undefined): TimelineRow[] {
  const origin = timeOrigin(samples, startedAt);
  if (origin == null) return [];
  const rows: TimelineRow[] = [];
  for (const s of samples) {
    const t = ms(s.time);
    if (t == null) continue;
    const known = s.replicas.filter((r): r is number => r != null);
    rows.push({
      t: (t - origin) / 1000,
      phase: s.phase,
      replicas: s.replicas,
      cpu: s.cpuPercent,
      total: known.length ? known.reduce((a, b) => a + b, 0) : null,
    });
  }
  return rows;
}

/** A span of the timeline in seconds since the experiment's start; `open` while it is still going. */
export interface Window {
  from: number;
  to: number;
  open: boolean;
}

export interface PhaseWindows {
  /** Time zero (ms since the epoch), as timelineRows uses it; null when nothing is known. */
  origin: number | null;
  baseline: Window | null;
  load: Window | null;
  cooldown: Window | null;
}

/** The baseline, load (loadStartedAt..loadEndedAt) and cooldown (loadEndedAt..finishedAt) windows;
 * a phase still running ends at the newest sample. */
export function phaseWindows(e: ExperimentView): PhaseWindows {
  const origin = timeOrigin(e.samples, e.startedAt);
  if (origin == null) return { origin: null, baseline: null, load: null, cooldown: null };
  const rel = (t: string | null | undefined) => {
    const v = ms(t);
    return v == null ? null : (v - origin) / 1000;
  };
  let last = 0;
  for (const s of e.samples) {
    const v = rel(s.time);
    if (v != null) last = Math.max(last, v);
  }
  const loadStart = rel(e.loadStartedAt);
  const loadEnd = rel(e.loadEndedAt);
  const finish = rel(e.finishedAt);
  const end = (from: number, to: number | null): Window => ({ from, to: Math.max(from, to ?? last), open: to == null && e.live });
  return {
    origin,
    baseline: end(0, loadStart ?? finish),
    load: loadStart == null ? null : end(loadStart, loadEnd ?? finish),
    cooldown: loadEnd == null ? null : end(loadEnd, finish),
  };
}

/** Seconds from the start of sampling to the end, or to `now` (ms) while it runs. */
export function totalDuration(e: ExperimentView, now: number): number | null {
  const start = ms(e.startedAt);
  if (start == null) return null;
  const end = ms(e.finishedAt) ?? (e.live ? now : null);
  if (end == null) return null;
  return Math.max(0, (end - start) / 1000);
}

/** While an experiment runs, its newest sample should be at most three intervals old when it is
 * received; older means the operator stopped sampling (the HPA watch fails). */
export function sampleLag(e: ExperimentView, receivedAt: number): { stale: boolean; seconds: number | null } {
  const lastSample = e.samples[e.samples.length - 1];
  const last = ms(lastSample?.time);
  if (!e.live || last == null || !receivedAt) return { stale: false, seconds: null };
  const seconds = Math.max(0, (receivedAt - last) / 1000);
  return { stale: seconds > 3 * Math.max(1, e.spec.sampleIntervalSeconds ?? 5), seconds };
}

// ---------------------------------------------------------------------------------------------
// KPIs

export interface KpiCard {
  id: keyof Kpis | "totalDuration";
  label: string;
  /** The formatted value, "—" when unknown. */
  value: string;
  /** What it measures. */
  detail: string;
  /** Why there is no value, when there is none. */
  missing: string | null;
}

/** The five KPIs as cards. `live`: still running (a missing value is "not yet"); `rpsMissing`:
 * why there is no RPS (the child LoadTest's message). */
export function formatKpis(
  kpis: Kpis | null | undefined,
  context: { live?: boolean; rpsMissing?: string | null } = {},
): KpiCard[] {
  const k = kpis ?? {};
  const notYet = context.live ? "Not yet: the experiment is still running." : null;
  const none = !kpis && !context.live ? "The experiment ended without KPIs." : null;
  const why = (completed: string) => notYet ?? none ?? completed;
  const card = (id: keyof Kpis, label: string, value: string | null, detail: string, missing: string): KpiCard => ({
    id,
    label,
    value: value ?? "—",
    detail,
    missing: value == null ? missing : null,
  });
  const num = (v: number | null | undefined) => (v == null || !Number.isFinite(v) ? null : v);
  const up = num(k.scaleUpLatencySeconds);
  const peak = num(k.peakReplicas);
  const down = num(k.scaleDownStartSeconds);
  const base = num(k.timeToBaselineSeconds);
  const rps = num(k.avgRpsPerPod);
  return [
    card(
      "scaleUpLatencySeconds",
      "Scale-up latency",
      up == null ? null : preciseDuration(up),
      "From load start to the first sample with a target above its baseline.",
      why("No target scaled above its baseline replicas during the experiment."),
    ),
    card(
      "peakReplicas",
      "Peak replicas",
      peak == null ? null : `${peak} pods`,
      "The most replicas of all targets together.",
      why("No sample had replica data."),
    ),
    card(
      "scaleDownStartSeconds",
      "Scale-down start",
      down == null ? null : preciseDuration(down),
      "From load end to the first sample with a target below its peak.",
      why("No target scaled down before the experiment ended: the cooldown may be shorter than the HPAs' scale-down window."),
    ),
    card(
      "timeToBaselineSeconds",
      "Time to baseline",
      base == null ? null : preciseDuration(base),
      "From load end until every target is back at its baseline.",
      why("The targets were not all back at their baseline when the experiment ended."),
    ),
    card(
      "avgRpsPerPod",
      "Avg RPS per pod",
      rps == null ? null : `${rps.toFixed(1)} req/s`,
      "The load's requests per second over the mean replicas during the load.",
      notYet ??
        (context.rpsMissing
          ? `No RPS: ${context.rpsMissing}`
          : "The load reported no requests per second (in the lab the runners are simulated and do no work, so there is none)."),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// Throughput

export interface Efficiency {
  /** Mean summed replicas over the samples inside the window (null: none has data). */
  meanReplicas: number | null;
  /** rps / meanReplicas (null without rps or replicas). */
  rpsPerPod: number | null;
  /** Per sample inside the window: replicas and what each pod served if the average rps were spread evenly. */
  points: { t: number; replicas: number; rpsPerPod: number | null }[];
}

/** RPS against pods over the load window. `rps` is k6's average over the whole run (not a time
 * series), so per-sample values show how the same load spreads over more or fewer pods. */
export function efficiency(rps: number | null | undefined, rows: TimelineRow[], window: Window | null): Efficiency {
  const points: Efficiency["points"] = [];
  if (!window) return { meanReplicas: null, rpsPerPod: null, points };
  const r = rps != null && Number.isFinite(rps) ? rps : null;
  for (const row of rows) {
    if (row.t < window.from || row.t > window.to || row.total == null) continue;
    points.push({ t: row.t, replicas: row.total, rpsPerPod: r != null && row.total > 0 ? r / row.total : null });
  }
  const meanReplicas = points.length ? points.reduce((a, p) => a + p.replicas, 0) / points.length : null;
  return { meanReplicas, rpsPerPod: r != null && meanReplicas ? r / meanReplicas : null, points };
}

/** The experiment's child LoadTest among the tests (same namespace, `loadTest` name). */
export function childLoadTest(e: ExperimentView, tests: TestView[] | undefined): TestView | undefined {
  if (!e.loadTest || !tests) return undefined;
  return tests.find((t) => t.namespace === e.namespace && t.name === e.loadTest);
}

/** Why there is no RPS: null when the child LoadTest has one. `tests` undefined: not loaded yet. */
export function rpsMissingReason(e: ExperimentView, test: TestView | undefined, tests: TestView[] | undefined): string | null {
  if (test?.results?.rps != null) return null;
  if (!e.loadTest) {
    return e.live
      ? "the load test is created once two baseline samples exist."
      : `no load test ran${e.message ? ` (${e.message})` : "."}`;
  }
  if (!tests) return "the load test's results are loading.";
  if (!test) return `the LoadTest ${e.namespace}/${e.loadTest} no longer exists, so its results are gone.`;
  if (!isFinished(test)) return "the load is still running; k6 reports its requests per second when it ends.";
  if (test.message) return test.message;
  return test.reason ? `the load test ended with ${test.reason}.` : "the load test reported no requests per second.";
}

/** An experiment phase's badge colour. */
export const PHASE_TONE: Record<Schemas["ExperimentPhase"], "green" | "yellow" | "red" | "blue" | "slate"> = {
  Pending: "slate",
  Baseline: "slate",
  Loading: "blue",
  CoolingDown: "yellow",
  Completed: "green",
  Failed: "red",
};

// ---------------------------------------------------------------------------------------------
// Per deployment

export type DeploymentResult = Schemas["DeploymentResult"];

/** A target's own scale-up latency, formatted, or why there is none (never a made-up 0). */
export function deploymentScaleUp(d: DeploymentResult, e: Pick<ExperimentView, "live" | "loadStartedAt">): { value: string | null; missing: string | null } {
  const s = d.scaleUpLatencySeconds;
  if (s != null && Number.isFinite(s)) return { value: preciseDuration(s), missing: null };
  if (!e.loadStartedAt) return { value: null, missing: e.live ? "the load has not started yet" : "no load ran" };
  if (d.baselineReplicas == null) return { value: null, missing: "no replica data for it" };
  return { value: null, missing: e.live ? `not above its baseline of ${d.baselineReplicas} yet` : `never above its baseline of ${d.baselineReplicas}` };
}

/** The original's tag: CASCADE for a load through several services (a cascade preset or more
 * than one target URL), SCALE otherwise. */
export function experimentTag(e: Pick<ExperimentView, "preset" | "spec">): "CASCADE" | "SCALE" {
  const preset = e.preset ?? e.spec.load.preset;
  if (preset) return preset.startsWith("cascade") ? "CASCADE" : "SCALE";
  return (e.spec.load.http?.targets?.length ?? 0) > 1 ? "CASCADE" : "SCALE";
}

/** The Load analysis page of one experiment. */
export const experimentLink = (e: { namespace: string; name: string }) => `/analysis?${new URLSearchParams({ experiment: experimentId(e) }).toString()}`;

// ---------------------------------------------------------------------------------------------
// The start form

export type FormField = "cluster" | "preset" | "vus" | "duration" | "targetUrl" | "targets" | "cooldownSeconds" | "endCooldown";

export interface ExperimentForm {
  cluster: string;
  mode: "preset" | "custom";
  preset: string;
  vus: string;
  duration: string;
  targetUrl: string;
  /** namespace/deployment, separated by commas, spaces or new lines. */
  targets: string;
  /** Empty: the preset's cooldown, else 180 s. */
  cooldownSeconds: string;
  endCooldownWhenBaselineRestored: boolean;
}

export type SpecResult = { ok: true; spec: ExperimentSpec } | { ok: false; errors: Partial<Record<FormField, string>> };

/** `namespace/deployment` entries; an error names the first bad one. */
export function parseTargets(text: string): { targets: { namespace: string; deployment: string }[]; error: string | null } {
  const targets: { namespace: string; deployment: string }[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const [namespace = "", deployment = "", ...rest] = entry.split("/");
    if (rest.length || !isDnsLabel(namespace) || !isObjectName(deployment)) {
      return { targets, error: `"${entry}" is not namespace/deployment (lowercase letters, digits and '-').` };
    }
    if (seen.has(entry)) return { targets, error: `${entry} is listed twice.` };
    seen.add(entry);
    targets.push({ namespace, deployment });
  }
  if (targets.length > MAX_TARGETS) return { targets, error: `At most ${MAX_TARGETS} targets.` };
  return { targets, error: null };
}

const wholeNumber = (s: string) => (/^[0-9]+$/.test(s.trim()) ? Number(s.trim()) : null);

/** The ScalingExperiment spec the form describes, exactly as a manifest would have it (optional
 * fields left out so the operator's defaults apply), or the errors by form field. */
export function experimentSpec(form: ExperimentForm): SpecResult {
  const errors: Partial<Record<FormField, string>> = {};
  const cluster = form.cluster.trim();
  if (!cluster) errors.cluster = "Choose a cluster.";
  else if (!isObjectName(cluster)) errors.cluster = "Not a cluster name.";

  let load: ExperimentSpec["load"] = {};
  if (form.mode === "preset") {
    if (!isScalingPreset(form.preset)) errors.preset = `Choose one of ${SCALING_PRESETS.join(", ")}.`;
    else load = { preset: form.preset };
  } else {
    const http: NonNullable<ExperimentSpec["load"]["http"]> = {};
    const vusText = form.vus.trim();
    if (vusText) {
      const vus = wholeNumber(vusText);
      if (vus == null || vus < LIMITS.vus.min || vus > LIMITS.vus.max) errors.vus = `A whole number from ${LIMITS.vus.min} to ${LIMITS.vus.max}.`;
      else http.vus = vus;
    }
    const durText = form.duration.trim();
    if (durText) {
      if (goDurationSeconds(durText) == null) errors.duration = "A duration such as 30s, 5m or 1h30m, between 1s and 24h.";
      else http.duration = durText;
    }
    const url = form.targetUrl.trim();
    if (url) {
      if (!isHttpUrl(url)) errors.targetUrl = "An absolute http:// or https:// URL with a host.";
      else http.targetUrl = url;
    }
    load = { http };
  }

  const { targets, error } = parseTargets(form.targets);
  if (error) errors.targets = error;

  let cooldownSeconds: number | undefined;
  const cooldownText = form.cooldownSeconds.trim();
  if (cooldownText) {
    const c = wholeNumber(cooldownText);
    const { min, max } = LIMITS.cooldownSeconds;
    if (c == null || c < min || c > max) errors.cooldownSeconds = `Whole seconds from ${min} to ${max}.`;
    else cooldownSeconds = c;
  }

  if (Object.keys(errors).length) return { ok: false, errors };
  const spec: ExperimentSpec = { cluster, load };
  if (targets.length) spec.targets = targets;
  if (cooldownSeconds != null) spec.cooldownSeconds = cooldownSeconds;
  if (form.endCooldownWhenBaselineRestored) spec.endCooldownWhenBaselineRestored = true;
  return { ok: true, spec };
}

/** The form input an API error's field (a JSON path such as `spec.load.http.vus`) belongs to. */
export function formFieldOf(field: string | null | undefined): FormField | null {
  if (!field) return null;
  const f = field.replace(/^spec\./, "");
  if (f === "cluster") return "cluster";
  if (f.startsWith("load.http.vus")) return "vus";
  if (f.startsWith("load.http.duration")) return "duration";
  if (f.startsWith("load.http.targetUrl") || f.startsWith("load.http.targets")) return "targetUrl";
  if (f.startsWith("load.preset")) return "preset";
  if (f.startsWith("targets") || f.startsWith("targetNamespace")) return "targets";
  if (f.startsWith("cooldownSeconds")) return "cooldownSeconds";
  if (f.startsWith("endCooldownWhenBaselineRestored")) return "endCooldown";
  return null;
}
