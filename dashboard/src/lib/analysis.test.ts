import { describe, expect, it } from "vitest";
import type { TestView } from "../api/client";
import {
  childLoadTest,
  defaultExperiment,
  deploymentScaleUp,
  describeLoad,
  efficiency,
  experimentLabel,
  experimentLink,
  experimentSpec,
  experimentTag,
  formatKpis,
  formFieldOf,
  parseExperimentId,
  parseTargets,
  phaseWindows,
  rpsMissingReason,
  sampleLag,
  sortExperiments,
  timelineRows,
  totalDuration,
} from "./analysis";
import { at, experiment, experimentForm as form, sample, T0 } from "./analysis.fixtures";

describe("selection", () => {
  it("sorts newest first, not-yet-started first, and defaults to a live one", () => {
    const old = experiment({ name: "old", startedAt: at(-600) });
    const recent = experiment({ name: "recent" });
    const pending = experiment({ name: "pending", startedAt: null, live: true, phase: "Pending" });
    const sorted = sortExperiments([old, recent, pending]);
    expect(sorted.map((e) => e.name)).toEqual(["pending", "recent", "old"]);
    expect(defaultExperiment(sorted)?.name).toBe("pending");
    expect(defaultExperiment([recent, old])?.name).toBe("recent");
    expect(defaultExperiment([])).toBeNull();
  });

  it("parses namespace/name and labels the selector", () => {
    expect(parseExperimentId("default/x")).toEqual({ namespace: "default", name: "x" });
    expect(parseExperimentId("x")).toBeNull();
    expect(parseExperimentId("a/b/c")).toBeNull();
    expect(parseExperimentId("/x")).toBeNull();
    expect(experimentLabel(experiment(), T0 + 125_000)).toBe("scale-light-abcde — dev — Completed — 2m ago");
    expect(experimentLabel(experiment({ startedAt: null, phase: null }), T0)).toBe("scale-light-abcde — dev — Pending — not started");
  });

  it("describes the load", () => {
    expect(describeLoad(experiment().spec)).toBe("preset scale-light");
    expect(describeLoad({ ...experiment().spec, load: { http: { vus: 120, duration: "90s" } } })).toBe(
      "120 VUs for 90s on http://nginx-web.demo.svc.cluster.local",
    );
    expect(describeLoad({ ...experiment().spec, load: { http: {} } })).toBe("50 VUs for 30s on http://nginx-web.demo.svc.cluster.local");
  });
});

describe("timeline", () => {
  it("turns samples into rows in seconds since the start, with gaps kept as null", () => {
    const rows = timelineRows([sample(0, "Baseline", [2, 1]), sample(5, "Load", [3, null]), sample(10, "Load", [null, null]), { ...sample(15, "Load", [1]), time: "bad" }], at(0));
    expect(rows).toEqual([
      { t: 0, phase: "Baseline", replicas: [2, 1], cpu: [40, 40], total: 3 },
      { t: 5, phase: "Load", replicas: [3, null], cpu: [40, 40], total: 3 },
      { t: 10, phase: "Load", replicas: [null, null], cpu: [40, 40], total: null },
    ]);
    // Without startedAt the first sample is time zero.
    expect(timelineRows([sample(20, "Baseline", [1]), sample(25, "Baseline", [1])], null).map((r) => r.t)).toEqual([0, 5]);
    expect(timelineRows([], null)).toEqual([]);
  });

  it("finds the load and cooldown windows, open while running", () => {
    expect(phaseWindows(experiment())).toEqual({
      origin: T0,
      baseline: { from: 0, to: 10, open: false },
      load: { from: 10, to: 70, open: false },
      cooldown: { from: 70, to: 250, open: false },
    });
    const loading = experiment({ live: true, phase: "Loading", loadEndedAt: null, finishedAt: null, samples: [sample(0, "Baseline", [1]), sample(40, "Load", [3])] });
    const w = phaseWindows(loading);
    expect(w.load).toEqual({ from: 10, to: 40, open: true });
    expect(w.cooldown).toBeNull();
    // Failed before the load: no load window, the baseline ends when it failed.
    const failed = experiment({ phase: "Failed", loadStartedAt: null, loadEndedAt: null, finishedAt: at(8) });
    expect(phaseWindows(failed)).toMatchObject({ baseline: { from: 0, to: 8 }, load: null, cooldown: null });
    expect(phaseWindows(experiment({ startedAt: null, samples: [] })).origin).toBeNull();
  });

  it("measures the total duration and notices a sampler that stopped", () => {
    expect(totalDuration(experiment(), 0)).toBe(250);
    expect(totalDuration(experiment({ live: true, finishedAt: null }), T0 + 42_000)).toBe(42);
    expect(totalDuration(experiment({ startedAt: null }), T0)).toBeNull();
    const live = experiment({ live: true, finishedAt: null, samples: [sample(0, "Baseline", [1])] });
    expect(sampleLag(live, T0 + 10_000).stale).toBe(false);
    expect(sampleLag(live, T0 + 30_000)).toEqual({ stale: true, seconds: 30 });
    expect(sampleLag(experiment(), T0 + 999_000).stale).toBe(false);
  });
});

describe("KPIs", () => {
  it("formats values and explains missing ones", () => {
    const cards = formatKpis({ scaleUpLatencySeconds: 18.44, peakReplicas: 7, scaleDownStartSeconds: 125, timeToBaselineSeconds: null, avgRpsPerPod: 12.345 });
    expect(cards.map((c) => [c.label, c.value])).toEqual([
      ["Scale-up latency", "18.4 s"],
      ["Peak replicas", "7 pods"],
      ["Scale-down start", "2 m 05 s"],
      ["Time to baseline", "—"],
      ["Avg RPS per pod", "12.3 req/s"],
    ]);
    expect(cards[3]?.missing).toMatch(/not all back at their baseline/);
    expect(cards[0]?.missing).toBeNull();
  });

  it("uses the load test's message for a missing RPS, and says 'not yet' while live", () => {
    const sim = formatKpis({ peakReplicas: 3 }, { rpsMissing: "the runner ran on simulated node dev-worker1" });
    expect(sim[4]).toMatchObject({ value: "—", missing: "No RPS: the runner ran on simulated node dev-worker1" });
    expect(formatKpis(null)[4]?.missing).toMatch(/simulated/);
    expect(formatKpis(null)[0]?.missing).toMatch(/ended without KPIs/);
    expect(formatKpis(null, { live: true }).every((c) => c.missing?.startsWith("Not yet"))).toBe(true);
  });
});

describe("throughput", () => {
  const rows = timelineRows(experiment().samples, at(0));
  const load = phaseWindows(experiment()).load;

  it("spreads the RPS over the replicas of the load window", () => {
    const e = efficiency(120, rows, load);
    expect(e.points).toEqual([
      { t: 10, replicas: 2, rpsPerPod: 60 },
      { t: 30, replicas: 4, rpsPerPod: 30 },
      { t: 70, replicas: 6, rpsPerPod: 20 },
    ]);
    expect(e.meanReplicas).toBe(4);
    expect(e.rpsPerPod).toBe(30);
  });

  it("keeps the replicas without RPS, and has nothing without a window", () => {
    const e = efficiency(null, rows, load);
    expect(e.rpsPerPod).toBeNull();
    expect(e.points.map((p) => p.rpsPerPod)).toEqual([null, null, null]);
    expect(e.meanReplicas).toBe(4);
    expect(efficiency(100, rows, null)).toEqual({ meanReplicas: null, rpsPerPod: null, points: [] });
  });

  it("finds the child load test and says why it has no RPS", () => {
    const e = experiment();
    const test = { namespace: "default", name: "scale-light-abcde-load", phase: "Failed", reason: "NoResults", message: "the runner ran on simulated node x" } as TestView;
    const other = { ...test, namespace: "other" } as TestView;
    expect(childLoadTest(e, [other, test])).toBe(test);
    expect(childLoadTest(e, [other])).toBeUndefined();
    expect(rpsMissingReason(e, test, [test])).toBe("the runner ran on simulated node x");
    expect(rpsMissingReason(e, { ...test, results: { rps: 50 } } as TestView, [])).toBeNull();
    expect(rpsMissingReason(e, undefined, [])).toMatch(/no longer exists/);
    expect(rpsMissingReason(e, undefined, undefined)).toMatch(/loading/);
    expect(rpsMissingReason(e, { ...test, phase: "Running", message: null } as TestView, [])).toMatch(/still running/);
    expect(rpsMissingReason(experiment({ loadTest: null, message: "no HPA for demo/web" }), undefined, [])).toBe("no load test ran (no HPA for demo/web)");
  });
});

describe("per deployment", () => {
  const d = { namespace: "demo", name: "httpbin", baselineReplicas: 1 };
  it("formats a target's own scale-up latency, and says why there is none", () => {
    const e = experiment();
    expect(deploymentScaleUp({ ...d, scaleUpLatencySeconds: 12.5 }, e)).toEqual({ value: "12.5 s", missing: null });
    expect(deploymentScaleUp(d, e)).toEqual({ value: null, missing: "never above its baseline of 1" });
    expect(deploymentScaleUp(d, { ...e, live: true }).missing).toBe("not above its baseline of 1 yet");
    expect(deploymentScaleUp({ ...d, baselineReplicas: null }, e).missing).toBe("no replica data for it");
    expect(deploymentScaleUp(d, { live: true, loadStartedAt: null }).missing).toBe("the load has not started yet");
    expect(deploymentScaleUp(d, { live: false, loadStartedAt: null }).missing).toBe("no load ran");
  });

  it("tags cascades and links to the analysis page", () => {
    expect(experimentTag(experiment())).toBe("SCALE");
    expect(experimentTag(experiment({ preset: "cascade-ramp" }))).toBe("CASCADE");
    const custom = experiment({ preset: null });
    const http = (targets: string[]) => ({ ...custom, spec: { ...custom.spec, load: { http: { targets } } } });
    expect(experimentTag(http(["http://a", "http://b"]))).toBe("CASCADE");
    expect(experimentTag(http(["http://a"]))).toBe("SCALE");
    expect(experimentLink(custom)).toBe("/analysis?experiment=default%2Fscale-light-abcde");
  });
});

describe("the start form", () => {
  it("builds a preset spec as the example manifests have it", () => {
    expect(experimentSpec(form())).toEqual({ ok: true, spec: { cluster: "dev", load: { preset: "scale-light" } } });
  });

  it("builds a custom spec like scalingexperiment-custom.yaml", () => {
    const r = experimentSpec(
      form({
        mode: "custom",
        vus: "120",
        duration: "90s",
        targetUrl: "http://nginx-web.demo.svc.cluster.local",
        targets: "demo/nginx-web, demo/httpbin",
        cooldownSeconds: "300",
        endCooldownWhenBaselineRestored: true,
      }),
    );
    expect(r).toEqual({
      ok: true,
      spec: {
        cluster: "dev",
        load: { http: { targetUrl: "http://nginx-web.demo.svc.cluster.local", vus: 120, duration: "90s" } },
        targets: [
          { namespace: "demo", deployment: "nginx-web" },
          { namespace: "demo", deployment: "httpbin" },
        ],
        cooldownSeconds: 300,
        endCooldownWhenBaselineRestored: true,
      },
    });
    // Empty optional fields are left to the operator's defaults; a cooldown of 0 is kept.
    expect(experimentSpec(form({ mode: "custom", cooldownSeconds: "0" }))).toEqual({ ok: true, spec: { cluster: "dev", load: { http: {} }, cooldownSeconds: 0 } });
  });

  it("rejects what the CRD would reject, by field", () => {
    const r = experimentSpec(
      form({ cluster: "", mode: "custom", vus: "0", duration: "90", targetUrl: "nginx-web", targets: "demo", cooldownSeconds: "4000" }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(["cluster", "cooldownSeconds", "duration", "targetUrl", "targets", "vus"]);
    expect(experimentSpec(form({ preset: "scale-huge" }))).toMatchObject({ ok: false, errors: { preset: expect.stringMatching(/scale-light/) } });
    expect(experimentSpec(form({ mode: "custom", duration: "25h" }))).toMatchObject({ ok: false, errors: { duration: expect.stringMatching(/between 1s and 24h/) } });
    expect(experimentSpec(form({ mode: "custom", vus: "1.5" }))).toMatchObject({ ok: false, errors: { vus: expect.any(String) } });
  });

  it("parses targets", () => {
    expect(parseTargets("demo/a\ndemo/b").targets).toHaveLength(2);
    expect(parseTargets("demo/a demo/a").error).toMatch(/twice/);
    expect(parseTargets("Demo/a").error).toMatch(/not namespace\/deployment/);
    expect(parseTargets("")).toEqual({ targets: [], error: null });
  });

  it("maps the API's field paths to inputs", () => {
    expect(formFieldOf("spec.cluster")).toBe("cluster");
    expect(formFieldOf("spec.load.http.vus")).toBe("vus");
    expect(formFieldOf("spec.load.http.targetUrl")).toBe("targetUrl");
    expect(formFieldOf("spec.load.preset")).toBe("preset");
    expect(formFieldOf("spec.targets[0].deployment")).toBe("targets");
    expect(formFieldOf("spec.cooldownSeconds")).toBe("cooldownSeconds");
    expect(formFieldOf("namespace")).toBeNull();
    expect(formFieldOf(undefined)).toBeNull();
  });
});
