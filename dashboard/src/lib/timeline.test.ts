import { describe, expect, it } from "vitest";
import type { ScalingHistory, TestSeries } from "../api/client";
import { at, experiment, sample, T0 } from "./analysis.fixtures";
import { hpa } from "./scaling.fixtures";
import { experimentTimeline, limitLines, P95_PER_RUNNER, panelRows, plannedVus, testTimeline, timelineCsv, unmeasuredReason, withPoint } from "./timeline";

const LAB_REASON = "the lab's runners are simulated: nothing was measured";

/** The series API's answer in the lab: no points, the reason, and the planned load. */
const unavailable = (load: TestSeries["load"] = [], startedAt: string | null = at(10)): TestSeries => ({
  source: "unavailable",
  reason: LAB_REASON,
  stepSeconds: 5,
  startedAt,
  finishedAt: at(70),
  load,
  points: [],
  percentiles: null,
});

const measured = (points: TestSeries["points"], load: TestSeries["load"] = [{ offsetSeconds: 0, vus: 10 }, { offsetSeconds: 60, vus: 10 }]): TestSeries => ({
  source: "prometheus",
  reason: null,
  stepSeconds: 5,
  startedAt: at(10),
  finishedAt: at(70),
  load,
  points,
  percentiles: "merged",
});

const history = (points: { s: number; replicas: number; cpu: number | null }[]): ScalingHistory => ({
  cluster: "dev",
  intervalSeconds: 5,
  points: points.map((p) => ({
    timestamp: at(p.s),
    hpas: [hpa({ namespace: "demo", deployment: "nginx-web", currentReplicas: p.replicas, currentCpuPercent: p.cpu, maxReplicas: 8, targetCpuPercent: 50 })],
  })),
});

describe("plannedVus", () => {
  const ramp = [
    { offsetSeconds: 0, vus: 0 },
    { offsetSeconds: 10, vus: 100 },
    { offsetSeconds: 40, vus: 100 },
  ];
  it("is linear between the plan's corners and null outside the load", () => {
    expect(plannedVus(ramp, 0)).toBe(0);
    expect(plannedVus(ramp, 5)).toBe(50);
    expect(plannedVus(ramp, 25)).toBe(100);
    expect(plannedVus(ramp, 40)).toBe(100);
    expect(plannedVus(ramp, -1)).toBeNull();
    expect(plannedVus(ramp, 41)).toBeNull();
    expect(plannedVus([], 3)).toBeNull();
  });
  it("takes a step (two corners at one offset) as the later value", () => {
    expect(
      plannedVus(
        [
          { offsetSeconds: 0, vus: 10 },
          { offsetSeconds: 10, vus: 10 },
          { offsetSeconds: 10, vus: 50 },
          { offsetSeconds: 20, vus: 50 },
        ],
        10,
      ),
    ).toBe(10);
  });
});

describe("experimentTimeline", () => {
  const e = experiment({
    deployments: [{ namespace: "demo", name: "nginx-web", hpa: "nginx-web" }],
    samples: [sample(0, "Baseline", [2], [5]), sample(10, "Load", [2], [90]), sample(40, "Load", [5], [70]), sample(100, "Cooldown", [2], [10])],
  });

  it("puts the samples, the planned load and the windows on one axis from the start of sampling", () => {
    const tl = experimentTimeline(e, unavailable([{ offsetSeconds: 0, vus: 10 }, { offsetSeconds: 60, vus: 10 }]), history([{ s: 100, replicas: 2, cpu: 10 }]), "loading", T0 + 999_000);
    expect(tl).not.toBeNull();
    if (!tl) return;
    expect(tl.origin).toBe(T0);
    expect(tl.rows.map((r) => r.t)).toEqual([0, 10, 40, 70, 100]);
    // The planned load starts at the runner's start (t=10) and is known wherever it runs.
    expect(tl.rows.map((r) => r.vus)).toEqual([null, 10, 10, 10, null]);
    expect(tl.rows.map((r) => r.replicas[0])).toEqual([2, 2, 5, null, 2]);
    expect(tl.rows.map((r) => r.cpu[0])).toEqual([5, 90, 70, null, 10]);
    expect(tl.load).toEqual({ from: 10, to: 70, open: false });
    expect(tl.cooldown).toEqual({ from: 70, to: 250, open: false });
    expect(tl.domain).toEqual([0, 250]);
    expect(tl.targets).toEqual([{ name: "demo/nginx-web", maxReplicas: 8, cpuTargetPercent: 50 }]);
  });

  it("never invents RPS, p95 or errors: the lab's reason instead", () => {
    const tl = experimentTimeline(e, unavailable(), undefined, "loading", T0);
    expect(tl?.unmeasured).toBe(LAB_REASON);
    expect(tl?.rows.every((r) => r.rps == null && r.p95Ms == null && r.errorRate == null)).toBe(true);
    expect(tl?.targets[0]).toEqual({ name: "demo/nginx-web", maxReplicas: null, cpuTargetPercent: null });
  });

  it("merges measured points by timestamp", () => {
    const tl = experimentTimeline(
      e,
      measured([
        { time: at(10), rps: 0, errorRate: 0, p95Ms: null },
        { time: at(40), rps: 95.5, errorRate: 0.01, p95Ms: 180.2 },
        { time: "not a time", rps: 1 },
      ]),
      undefined,
      "loading",
      T0,
    );
    expect(tl?.unmeasured).toBeNull();
    const byT = new Map(tl?.rows.map((r) => [r.t, r]));
    expect(byT.get(40)).toMatchObject({ rps: 95.5, p95Ms: 180.2, errorRate: 0.01, replicas: [5] });
    expect(byT.get(10)).toMatchObject({ rps: 0, p95Ms: null });
    expect(tl?.rows.length).toBe(5);
  });

  it("says why while the series is not loaded, and has nothing before sampling", () => {
    expect(experimentTimeline(e, undefined, undefined, "the series is loading.", T0)?.unmeasured).toBe("the series is loading.");
    expect(experimentTimeline(experiment({ startedAt: null, samples: [] }), undefined, undefined, "x", T0)).toBeNull();
  });
});

describe("testTimeline", () => {
  it("takes the cluster's HPAs around the run, the load from its start to its end", () => {
    const h = history([
      { s: -120, replicas: 2, cpu: 5 }, // before the window: left out
      { s: 0, replicas: 2, cpu: 5 },
      { s: 20, replicas: 4, cpu: 95 },
      { s: 90, replicas: 3, cpu: 20 },
    ]);
    const tl = testTimeline({ startedAt: at(10), finishedAt: at(70) }, unavailable([{ offsetSeconds: 0, vus: 5 }, { offsetSeconds: 60, vus: 5 }]), h, "loading", T0 + 999_000);
    expect(tl?.origin).toBe(T0 + 10_000);
    expect(tl?.rows.map((r) => r.t)).toEqual([-10, 0, 10, 60, 80]);
    expect(tl?.rows.map((r) => r.replicas[0])).toEqual([2, null, 4, null, 3]);
    expect(tl?.load).toEqual({ from: 0, to: 60, open: false });
    expect(tl?.cooldown).toEqual({ from: 60, to: 80, open: false });
    expect(tl?.domain).toEqual([-10, 80]);
    expect(tl?.targets).toEqual([{ name: "demo/nginx-web", maxReplicas: 8, cpuTargetPercent: 50 }]);
  });

  it("says under p95 that a parallel test's percentiles are per runner, and draws none", () => {
    const tl = testTimeline({ startedAt: at(10), finishedAt: at(70), results: { percentiles: "PerRunner" } }, unavailable(), undefined, "loading", T0 + 999_000);
    expect(tl?.p95PerRunner).toBe(P95_PER_RUNNER);
    expect(tl?.rows.every((r) => r.p95Ms == null)).toBe(true);
    for (const results of [undefined, null, { percentiles: "Merged" }, {}]) {
      expect(testTimeline({ startedAt: at(10), finishedAt: at(70), results }, unavailable(), undefined, "loading", T0)?.p95PerRunner).toBeNull();
    }
  });

  it("keeps a running test's load window open up to now", () => {
    const tl = testTimeline({ startedAt: at(0) }, undefined, undefined, "loading", T0 + 30_000);
    expect(tl?.load).toEqual({ from: 0, to: 30, open: true });
    expect(tl?.domain).toEqual([0, 30]);
    expect(testTimeline({ startedAt: null }, undefined, undefined, "x", T0)).toBeNull();
  });
});

describe("timelineCsv", () => {
  it("writes one row per timestamp with every series, empty where a series has no point", () => {
    const e = experiment({
      deployments: [{ namespace: "demo", name: "nginx-web" }],
      samples: [sample(0, "Baseline", [2], [5]), sample(40, "Load", [5], [70]), sample(100, "Cooldown", [2], [null])],
    });
    const tl = experimentTimeline(e, measured([{ time: at(40), rps: 95.5, errorRate: 0.01, p95Ms: 180.2 }]), history([{ s: 0, replicas: 2, cpu: 5 }]), "x", T0);
    if (!tl) throw new Error("timeline");
    const lines = timelineCsv(tl).trimEnd().split("\n");
    expect(lines[0]).toBe(
      "time,seconds,window,planned_vus,rps,p95_ms,error_rate,demo/nginx-web replicas,demo/nginx-web max_replicas,demo/nginx-web cpu_percent,demo/nginx-web cpu_target_percent",
    );
    expect(lines.slice(1)).toEqual([
      `${at(0)},0,baseline,,,,,2,8,5,50`,
      `${at(10)},10,load,10,,,,,8,,50`,
      `${at(40)},40,load,10,95.5,180.2,0.01,5,8,70,50`,
      `${at(70)},70,load,10,,,,,8,,50`,
      `${at(100)},100,cooldown,,,,,2,8,,50`,
    ]);
  });

  it("quotes names that need it", () => {
    const tl = testTimeline({ startedAt: at(0), finishedAt: at(1) }, undefined, undefined, "x", T0);
    if (!tl) throw new Error("timeline");
    tl.targets = [{ name: 'a,"b"', maxReplicas: null, cpuTargetPercent: null }];
    expect(timelineCsv(tl).split("\n")[0]).toContain('"a,""b"" replicas"');
  });
});

describe("panels", () => {
  it("a panel keeps only the rows where it has a point", () => {
    const e = experiment({ deployments: [{ namespace: "demo", name: "web" }], samples: [sample(0, "Baseline", [2]), sample(40, "Load", [null])] });
    const tl = experimentTimeline(e, unavailable([{ offsetSeconds: 0, vus: 10 }, { offsetSeconds: 60, vus: 10 }]), undefined, "x", T0);
    const rows = tl?.rows ?? [];
    expect(panelRows(rows, (r) => r.vus != null).map((r) => r.t)).toEqual([10, 40, 70]);
    expect(panelRows(rows, (r) => r.replicas.some((v) => v != null)).map((r) => r.t)).toEqual([0]);
  });

  it("the reason comes from the API, or says the series is missing", () => {
    expect(unmeasuredReason(unavailable(), "loading")).toBe(LAB_REASON);
    expect(unmeasuredReason({ ...unavailable(), reason: null }, "loading")).toMatch(/no measured series/);
    expect(unmeasuredReason(undefined, "loading")).toBe("loading");
    expect(unmeasuredReason(measured([{ time: at(10), rps: 1, errorRate: 0, p95Ms: 3 }]), "loading")).toBeNull();
    // Prometheus without samples of the test: its reason, not empty charts.
    expect(unmeasuredReason({ ...measured([]), reason: LAB_REASON }, "loading")).toBe(LAB_REASON);
  });
});

describe("withPoint", () => {
  it("puts a streamed point in time order, replacing one of the same time", () => {
    const s = measured([
      { time: at(10), rps: 1 },
      { time: at(30), rps: 3 },
    ]);
    expect(withPoint(s, { time: at(20), rps: 2 }).points.map((p) => p.rps)).toEqual([1, 2, 3]);
    expect(withPoint(s, { time: at(30), rps: 4 }).points.map((p) => p.rps)).toEqual([1, 4]);
    expect(withPoint(s, { time: at(40), rps: 5 }).points.map((p) => p.rps)).toEqual([1, 3, 5]);
    expect(withPoint(s, { time: "garbage", rps: 9 })).toBe(s);
    const lab = unavailable();
    expect(withPoint(lab, { time: at(20), rps: 2 })).toBe(lab);
  });
});

describe("limitLines", () => {
  it("draws one line per limit value, naming every target that has it", () => {
    const targets = [
      { name: "demo/a", maxReplicas: 10, cpuTargetPercent: 50, colour: "#3b82f6" },
      { name: "demo/b", maxReplicas: 6, cpuTargetPercent: 50, colour: "#22c55e" },
      { name: "demo/c", maxReplicas: null, cpuTargetPercent: 50, colour: "#eab308" },
    ];
    expect(limitLines(targets, (t) => t.maxReplicas, (v) => `max ${v}`)).toEqual([
      { y: 10, colour: "#3b82f6", label: "demo/a max 10" },
      { y: 6, colour: "#22c55e", label: "demo/b max 6" },
    ]);
    expect(limitLines(targets, (t) => t.cpuTargetPercent, (v) => `target ${v}%`)).toEqual([
      { y: 50, colour: "#94a3b8", label: "demo/a, demo/b, demo/c target 50%" },
    ]);
  });
});
