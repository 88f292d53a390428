import { describe, expect, it } from "vitest";
import { experiment, sample } from "./analysis.fixtures";
import type { Comparison } from "../api/client";
import { compareLink, deltaRows, hasMeasuredPoints, overlay, parseRun, regressionInfo, replicaOverlay } from "./comparison";
import type { Timeline, TimelineRow } from "./timeline";

const row = (t: number, rps: number | null, p95Ms: number | null): TimelineRow => ({
  t,
  time: "",
  vus: null,
  rps,
  p95Ms,
  errorRate: null,
  replicas: [],
  cpu: [],
});

const timeline = (loadFrom: number | null, rows: TimelineRow[]): Timeline => ({
  origin: 0,
  domain: [0, 100],
  load: loadFrom == null ? null : { from: loadFrom, to: loadFrom + 60, open: false },
  cooldown: null,
  targets: [],
  rows,
  unmeasured: null,
  p95PerRunner: null,
});

describe("regressionInfo", () => {
  it("shows a regression in red, a pass in green, and Unknown as not compared with its reason", () => {
    expect(regressionInfo({ status: "True", reason: "Regressed", message: "p95Ms 100 → 200" })).toEqual({
      label: "Regression",
      tone: "red",
      message: "p95Ms 100 → 200",
    });
    expect(regressionInfo({ status: "False", reason: "WithinTolerance", message: "ok" })?.tone).toBe("green");
    const unknown = regressionInfo({ status: "Unknown", reason: "NotMeasured", message: "not compared: this run measured nothing" });
    expect(unknown).toEqual({ label: "Not compared (NotMeasured)", tone: "yellow", message: "not compared: this run measured nothing" });
    expect(regressionInfo(null)).toBeNull();
  });
});

describe("deltaRows", () => {
  it("formats each metric in its unit, signed, with the tolerance", () => {
    const c: Comparison = {
      baseline: { name: "v1" },
      metrics: [
        { metric: "p95Ms", baseline: 100, current: 130, delta: 30, deltaPercent: 30, tolerance: "+10%", regressed: true },
        { metric: "rps", baseline: 50, current: 45, delta: -5, deltaPercent: -10, tolerance: "-10%", regressed: false },
        { metric: "errorRate", baseline: 0, current: 0.005, delta: 0.005, tolerance: "+1 points", regressed: false },
        { metric: "scaleUpLatencySeconds", baseline: 20, tolerance: "+20%", regressed: true },
        { metric: "bogoOpsPerSecond", baseline: 1000, current: 800.04, delta: -199.96, deltaPercent: -20, tolerance: "-10%", regressed: true },
      ],
    };
    const rows = deltaRows(c);
    expect(rows.map((r) => [r.label, r.baseline, r.current, r.delta, r.percent, r.regressed])).toEqual([
      ["p95 latency", "100 ms", "130 ms", "+30.0 ms", "+30.0%", true],
      ["Requests/s", "50", "45", "−5.0", "−10.0%", false],
      ["Error rate", "0.0%", "0.50%", "+0.50 points", "—", false],
      ["Scale-up latency", "20s", "none", "—", "—", true],
      ["Bogo-ops/s", "1000", "800", "−200.0", "−20.0%", true],
    ]);
    expect(deltaRows(null)).toEqual([]);
  });
});

describe("overlay", () => {
  it("aligns both runs on their load start and leaves gaps where a run has no point", () => {
    const a = timeline(30, [row(30, 10, 100), row(35, 12, 110)]);
    const b = timeline(10, [row(10, 20, 200), row(20, 22, 210)]);
    const rows = overlay(a, b);
    expect(rows.map((r) => [r.t, r.aRps, r.bRps, r.aP95, r.bP95])).toEqual([
      [0, 10, 20, 100, 200],
      [5, 12, null, 110, null],
      [10, null, 22, null, 210],
    ]);
    expect(hasMeasuredPoints(rows)).toBe(true);
  });

  it("has nothing to draw for runs that measured nothing", () => {
    const rows = overlay(timeline(null, [row(0, null, null)]), null);
    expect(hasMeasuredPoints(rows)).toBe(false);
  });
});

describe("links", () => {
  it("round-trips two runs through the address", () => {
    const link = compareLink({ namespace: "team", name: "v2" }, { namespace: "team", name: "v1" });
    const q = new URLSearchParams(link.split("?")[1]);
    expect(parseRun(q.get("a"))).toEqual({ namespace: "team", name: "v2" });
    expect(parseRun(q.get("b"))).toEqual({ namespace: "team", name: "v1" });
    expect(parseRun("nope")).toBeNull();
  });
});

describe("replicaOverlay", () => {
  it("overlays each deployment's replicas of two experiments from each one's load start, with gaps, never zeros", () => {
    const web = { namespace: "demo", name: "nginx-web" } as const;
    const httpbin = { namespace: "demo", name: "httpbin" } as const;
    const a = experiment({ deployments: [web] as never });
    // B's load started 20 s after its sampling (A's after 10 s), and it also targeted httpbin.
    const b = experiment({
      name: "b",
      loadStartedAt: "2026-11-28T18:00:20.000Z",
      deployments: [web, httpbin] as never,
      samples: [sample(0, "Baseline", [2, 1]), sample(20, "Load", [3, null]), sample(40, "Load", [5, 2])],
    });
    const [w, h] = replicaOverlay(a, b);
    expect(w?.deployment).toBe("demo/nginx-web");
    expect(w?.rows).toEqual([
      { t: -20, a: null, b: 2 },
      { t: -10, a: 2, b: null },
      { t: -5, a: 2, b: null },
      { t: 0, a: 2, b: 3 },
      { t: 20, a: 4, b: 5 },
      { t: 60, a: 6, b: null },
      { t: 240, a: 2, b: null },
    ]);
    expect(h?.rows).toEqual([
      { t: -20, a: null, b: 1 },
      { t: 0, a: null, b: null },
      { t: 20, a: null, b: 2 },
    ]);
  });

  it("links two experiments to the Compare page with their kind", () => {
    expect(compareLink({ namespace: "d", name: "x" }, { namespace: "d", name: "y" }, "experiment")).toBe("/compare?a=d%2Fx&b=d%2Fy&kind=experiment");
  });
});
