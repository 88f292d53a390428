import { describe, expect, it } from "vitest";
import type { NodeView } from "../api/client";
import { clusterUsage } from "./cluster";

const node = (over: Partial<NodeView>): NodeView =>
  ({ name: "n", roles: [], status: "Ready", podCount: 0, ...over }) as NodeView;

describe("clusterUsage", () => {
  it("is unknown, not zero, without the metrics API", () => {
    expect(clusterUsage([node({}), node({})]).cpuPercent).toBeNull();
  });

  it("sums usage against allocatable capacity of reporting nodes", () => {
    const u = clusterUsage([
      node({ cpuAllocatableMillis: 2000, memoryAllocatableBytes: 4096, usage: { cpuMillis: 500, memoryBytes: 1024 } as NodeView["usage"] }),
      node({ cpuAllocatableMillis: 2000, memoryAllocatableBytes: 4096, usage: { cpuMillis: 1500, memoryBytes: 3072 } as NodeView["usage"] }),
      node({ cpuAllocatableMillis: 4000 }),
    ]);
    expect(u.cpuPercent).toBe(50);
    expect(u.memoryPercent).toBe(50);
    expect(u.memoryTotal).toBe(8192);
  });
});
