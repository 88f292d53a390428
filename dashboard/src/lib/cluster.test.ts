import { describe, expect, it } from "vitest";
import type { NodeView } from "../api/client";
import { runningVm } from "../components/vmFixture";
import { clusterUsage, vmUsage } from "./cluster";

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

describe("vmUsage", () => {
  const vm = (cpu: number, cpuPercent: number | null, used: number, total: number) => {
    const base = runningVm("v", "c");
    return { ...base, resources: { ...base.resources!, cpu }, stats: { ...base.stats!, cpuPercent, memory: { usedBytes: used, totalBytes: total } } };
  };

  it("weights CPU by vCPUs and sums memory", () => {
    const u = vmUsage([vm(2, 10, 1, 4), vm(6, 50, 3, 4)])!;
    expect(u.cpuPercent).toBe(40);
    expect(u.memoryPercent).toBe(50);
    expect([u.memoryUsed, u.memoryTotal]).toEqual([4, 8]);
  });

  it("leaves CPU unknown until a VM has two reads, and is null without figures", () => {
    expect(vmUsage([vm(2, null, 1, 4)])!.cpuPercent).toBeNull();
    expect(vmUsage([{ ...runningVm("v", "c"), stats: null }])).toBeNull();
    expect(vmUsage([])).toBeNull();
  });
});
