import { describe, expect, it } from "vitest";
import type { ClusterView, PresetView, TestView } from "../api/client";
import {
  analysisLink,
  attachmentName,
  defaultCluster,
  effectiveSpec,
  newestFirst,
  isFinished,
  notMeasured,
  phaseInfo,
  percentilesPerRunner,
  queuePosition,
  runnerRows,
  secondsBetween,
  specSummary,
  testLabel,
  verdict,
} from "./testView";

const cluster = (name: string, tier: string, phase: string | null) =>
  ({ name, tier, phase, reachable: true, metricsAvailable: true, nodes: [], pods: [], namespaces: [] }) as ClusterView;

const test = (over: Partial<TestView>): TestView =>
  ({ namespace: "default", name: "t", cluster: "dev", queued: false, deleting: false, spec: { cluster: "dev" }, ...over }) as TestView;

describe("defaultCluster", () => {
  it("is the first managed cluster that is Ready", () => {
    expect(defaultCluster([cluster("platform", "platform", "Ready"), cluster("dev", "dev", "Provisioning"), cluster("staging", "staging", "Ready")])).toBe(
      "staging",
    );
    expect(defaultCluster([cluster("platform", "platform", "Ready"), cluster("dev", "dev", "Failed")])).toBeNull();
  });
});

describe("phaseInfo", () => {
  it("reads the queue position from the operator's message", () => {
    const msg = "queued: 1 test(s) running on cluster dev (at most 1 at once); position 2 in line";
    expect(queuePosition(msg)).toBe(2);
    expect(queuePosition("waiting")).toBeNull();
    expect(phaseInfo(test({ phase: "Pending", queued: true, message: msg }))).toEqual({ label: "Queued (#2 in line)", tone: "yellow" });
    expect(phaseInfo(test({ phase: "Pending", queued: true })).label).toBe("Queued");
  });

  it("labels each phase, with the reason of a failure and deletion first", () => {
    expect(phaseInfo(test({ phase: "Running" })).label).toBe("Running");
    expect(phaseInfo(test({ phase: "Succeeded" })).tone).toBe("green");
    expect(phaseInfo(test({ phase: "Failed", reason: "OOMKilled" }))).toEqual({ label: "Failed", tone: "red", reason: "OOMKilled" });
    expect(phaseInfo(test({ phase: "Running", deleting: true })).label).toBe("Deleting");
    expect(phaseInfo(test({})).label).toBe("Pending");
  });

  it("shows a run that measured nothing in a neutral tone, with its reason, as finished", () => {
    const simulated = test({ phase: "Completed", reason: "RunnerSimulated", message: "the runner ran on simulated node dev-worker1" });
    const info = phaseInfo(simulated);
    expect(info).toEqual({ label: "Simulated, not measured", tone: "slate", reason: "RunnerSimulated" });
    expect(info.tone).not.toBe("red");
    expect(info.tone).not.toBe("green");
    expect(isFinished(simulated)).toBe(true);
    expect(notMeasured(simulated)).toBe(true);
    expect(notMeasured(test({ phase: "Failed", reason: "NoResults" }))).toBe(false);
    expect(phaseInfo(test({ phase: "Completed" })).label).toBe("Not measured");
    // Queued is never shown once it is over.
    expect(phaseInfo({ ...simulated, queued: true }).label).toBe("Simulated, not measured");
  });
});

describe("tests list", () => {
  it("sorts newest first", () => {
    const sorted = newestFirst([
      test({ name: "old", createdAt: "2026-11-28T10:00:00Z" }),
      test({ name: "new", createdAt: "2026-11-28T12:00:00Z" }),
      test({ name: "none" }),
    ]);
    expect(sorted.map((t) => t.name)).toEqual(["new", "old", "none"]);
  });

  it("labels presets and custom tests", () => {
    expect(testLabel(test({ preset: "strict-sla" }))).toBe("strict-sla");
    expect(testLabel(test({ testType: "memory" }))).toBe("Custom Memory stress");
    expect(testLabel(test({ spec: { cluster: "dev", http: {} } }))).toBe("Custom HTTP load (k6)");
  });

  it("summarizes a spec or the preset's", () => {
    expect(specSummary({ http: { vus: 80, duration: "45s", rampUp: "15s", targetUrl: "http://h/get", thresholds: { p95Ms: 800, errorRate: 0.02 } } })).toEqual([
      "80 VUs",
      "45s",
      "ramp 15s",
      "http://h/get",
      "p95 < 800 ms",
      "errors < 2%",
    ]);
    expect(specSummary({ stress: { kind: "memory", workers: 2 } })).toEqual(["2 memory workers", "30s", "64M each"]);
    const presets = [{ name: "cpu-stress-light", spec: { stress: { kind: "cpu", workers: 1, timeout: "30s" } } }] as PresetView[];
    expect(specSummary(effectiveSpec(test({ preset: "cpu-stress-light" }), presets))).toEqual(["1 cpu worker", "30s"]);
  });

  it("gives threshold verdicts per metric", () => {
    const results = {
      thresholds: [
        { metric: "http_req_duration", expression: "p(95)<500", passed: false },
        { metric: "http_req_failed", expression: "rate<0.01", passed: true },
      ],
    };
    expect(verdict(results, "http_req_duration")).toBe(false);
    expect(verdict(results, "http_req_failed")).toBe(true);
    expect(verdict({ thresholds: [] }, "http_req_failed")).toBeNull();
  });

  it("measures runs and names downloads", () => {
    expect(secondsBetween("2026-11-28T10:00:00Z", "2026-11-28T10:00:31Z")).toBe(31);
    expect(secondsBetween("2026-11-28T10:00:00Z", null)).toBeNull();
    expect(attachmentName('attachment; filename="tart-infra-tests.csv"', "x.csv")).toBe("tart-infra-tests.csv");
    expect(attachmentName(null, "x.csv")).toBe("x.csv");
    expect(analysisLink("scale-light", "dev")).toBe("/analysis?preset=scale-light&cluster=dev");
  });
});

describe("parallel runners", () => {
  it("lists each runner by index with its own percentiles", () => {
    const results = {
      percentiles: "PerRunner",
      runners: [
        { index: 2, requests: 10, rps: 1, errorRate: 0, latencyMs: { p95: 30, p99: 40 }, thresholdsPassed: true },
        { index: 0, requests: 12, latencyMs: {} },
      ],
    } as TestView["results"];
    expect(runnerRows(results)).toEqual([
      { index: 0, requests: 12, rps: null, errorRate: null, p95: null, p99: null, passed: null },
      { index: 2, requests: 10, rps: 1, errorRate: 0, p95: 30, p99: 40, passed: true },
    ]);
    expect(percentilesPerRunner(results)).toBe(true);
    expect(specSummary({ http: { vus: 30, duration: "40s", parallelism: 3 } })).toEqual(["30 VUs", "40s", "3 runners"]);
    expect(runnerRows(null)).toEqual([]);
    expect(percentilesPerRunner({ requests: 5 } as TestView["results"])).toBe(false);
  });
});
