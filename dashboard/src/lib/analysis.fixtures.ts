// A ScalingExperiment shaped like the API's ExperimentView, for the analysis tests: a
// completed scale-light run whose times count from `t0`; and the start form, filled in.
import type { ExperimentView } from "../api/client";
import type { ExperimentForm, Sample } from "./analysis";

export const T0 = Date.parse("2026-11-28T18:00:00Z");

/** The time `s` seconds after `t0`. */
export const at = (s: number, t0 = T0) => new Date(t0 + s * 1000).toISOString();

export const sample = (s: number, phase: Sample["phase"], replicas: (number | null)[], cpu: (number | null)[] = replicas.map(() => 40), t0 = T0): Sample => ({
  time: at(s, t0),
  phase,
  replicas,
  cpuPercent: cpu,
});

export const experiment = (over: Partial<ExperimentView> = {}, t0 = T0): ExperimentView => ({
  namespace: "default",
  name: "scale-light-abcde",
  cluster: "dev",
  live: false,
  deleting: false,
  phase: "Completed",
  preset: "scale-light",
  loadTest: "scale-light-abcde-load",
  startedAt: at(0, t0),
  loadStartedAt: at(10, t0),
  loadEndedAt: at(70, t0),
  finishedAt: at(250, t0),
  deployments: [],
  events: [],
  samples: [0, 5, 10, 30, 70, 250].map((s, i) =>
    sample(s, s < 10 ? "Baseline" : s < 70 ? "Load" : "Cooldown", [[2, 2, 2, 4, 6, 2][i] ?? null], undefined, t0),
  ),
  spec: { cluster: "dev", load: { preset: "scale-light" }, sampleIntervalSeconds: 5, targetNamespace: "demo", endCooldownWhenBaselineRestored: false },
  ...over,
});

/** The start form with a preset on dev and every optional input empty. */
export const experimentForm = (over: Partial<ExperimentForm> = {}): ExperimentForm => ({
  cluster: "dev",
  mode: "preset",
  preset: "scale-light",
  vus: "",
  duration: "",
  targetUrl: "",
  targets: "",
  cooldownSeconds: "",
  endCooldownWhenBaselineRestored: false,
  ...over,
});
