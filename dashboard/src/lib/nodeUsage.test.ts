import { describe, expect, it } from "vitest";
import type { NodeUsageRecord } from "../api/client";
import { nodeUsageNotes, nodeUsageRows } from "./nodeUsage";

describe("nodeUsageRows", () => {
  it("gives before, peak and after per node, and a dash for a reading the operator did not get", () => {
    const r: NodeUsageRecord = {
      samplesDuring: 1,
      duringThrough: "2026-11-28T10:00:20Z",
      nodes: [{ node: "w1", peak: { cpuMillis: 900, memoryBytes: 1048576 } }],
    };
    expect(nodeUsageRows(r)).toEqual([{ node: "w1", simulated: false, cpu: ["—", "900m", "—"], memory: ["—", "1.0 MiB", "—"] }]);
    expect(nodeUsageRows(null)).toEqual([]);
  });
});

describe("nodeUsageNotes", () => {
  it("says why nothing was measured, never zeros", () => {
    const r: NodeUsageRecord = { samplesDuring: 0, notMeasured: "the metrics API (metrics.k8s.io) is not served in this cluster: install metrics-server" };
    expect(nodeUsageNotes(r, true)).toEqual(["Not measured: the metrics API (metrics.k8s.io) is not served in this cluster: install metrics-server"]);
    expect(nodeUsageRows(r)).toEqual([]);
  });

  it("says what is pending and what is missing", () => {
    expect(nodeUsageNotes(null, false)).toEqual(["Recorded once the run starts."]);
    const r: NodeUsageRecord = {
      samplesDuring: 0,
      afterMissing: "metrics API: connection refused",
      nodes: [{ node: "w1", before: { cpuMillis: 1, memoryBytes: 1 } }],
    };
    expect(nodeUsageNotes(r, true)).toEqual([
      "Before: no reading in the two minutes before the start.",
      "Peak: no reading during the run yet (shorter than the operator's poll).",
      "After: not read: metrics API: connection refused",
    ]);
  });
});
