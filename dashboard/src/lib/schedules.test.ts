import { describe, expect, it } from "vitest";
import { missingChart, passRate, runCompareLink, runLink, runSeries } from "./schedules";
import { run, schedule } from "./schedules.fixtures";


describe("schedules", () => {
  it("counts the pass rate over runs that passed or failed only", () => {
    const rate = passRate([run("a", "passed"), run("b", "failed"), run("c", "passed"), run("d", "notMeasured"), run("e", "running")]);
    expect(rate).toEqual({ passed: 2, failed: 1, notMeasured: 1, running: 1, rate: 2 / 3 });
    expect(passRate([run("lab", "notMeasured")]).rate).toBeNull();
  });

  it("charts p95 for tests and scale-up latency for experiments, with gaps where nothing was measured", () => {
    const s = schedule([run("a", "passed", { p95Ms: 120 }), run("b", "notMeasured"), run("c", "passed", { p95Ms: 140 })]);
    expect(runSeries(s)).toEqual([
      { run: "a", value: 120 },
      { run: "b", value: null },
      { run: "c", value: 140 },
    ]);
    const e = schedule([run("x", "passed", { scaleUpLatencySeconds: 35 })], { runKind: "ScalingExperiment" });
    expect(runSeries(e)).toEqual([{ run: "x", value: 35 }]);
    expect(missingChart(s)).toBeNull();
  });

  it("says why there is no chart instead of drawing zeros", () => {
    expect(missingChart(schedule([]))).toBe("No runs yet.");
    expect(missingChart(schedule([run("a", "running")]))).toContain("no run has finished");
    expect(missingChart(schedule([run("a", "notMeasured"), run("b", "running")]))).toContain("measured nothing");
    expect(missingChart(schedule([run("a", "failed")]))).toContain("no finished run measured it");
  });

  it("links each run to its view and to the Compare page with the run before (or its baseline)", () => {
    const s = schedule([run("a", "passed"), run("b", "passed", { baseline: "a" }), run("c", "running")]);
    expect(runLink(s, s.runs[0]!)).toBe("#test-team-a");
    expect(runLink(schedule([run("x", "passed")], { runKind: "ScalingExperiment" }), run("x", "passed"))).toBe("/analysis?experiment=team%2Fx");
    expect(runCompareLink(s, 0)).toBeNull();
    expect(runCompareLink(s, 1)).toBe("/compare?a=team%2Fa&b=team%2Fb");
    expect(runCompareLink(s, 2)).toBe("/compare?a=team%2Fb&b=team%2Fc");
  });
});
