// Cluster-level figures from the API's views (pure, unit-tested).
import type { ClusterView, NodeView, Schemas } from "../api/client";

type Usage = ReturnType<typeof clusterUsage>;

/** CPU and memory use of a cluster's VMs from the host agent's figures, for a cluster without
 * a metrics API: CPU weighted by each VM's vCPUs, memory summed; null where no VM has figures. */
export function vmUsage(vms: Schemas["VmView"][]): Usage | null {
  let cpuWeighted = 0;
  let cpus = 0;
  let memUsed = 0;
  let memTotal = 0;
  for (const vm of vms) {
    const s = vm.stats;
    if (!s) continue;
    const weight = vm.resources?.cpu ?? 1;
    if (s.cpuPercent != null) {
      cpuWeighted += s.cpuPercent * weight;
      cpus += weight;
    }
    memUsed += s.memory.usedBytes;
    memTotal += s.memory.totalBytes;
  }
  if (!cpus && !memTotal) return null;
  return {
    cpuPercent: cpus ? cpuWeighted / cpus : null,
    memoryPercent: memTotal ? (memUsed / memTotal) * 100 : null,
    memoryUsed: memTotal ? memUsed : null,
    memoryTotal: memTotal || null,
  };
}

/** CPU and memory use of the nodes that report usage, against their allocatable capacity;
 * null when no node reports (metrics API absent), never 0. */
export function clusterUsage(nodes: NodeView[]): {
  cpuPercent: number | null;
  memoryPercent: number | null;
  memoryUsed: number | null;
  memoryTotal: number | null;
} {
  let cpuUsed = 0;
  let cpuTotal = 0;
  let memUsed = 0;
  let memTotal = 0;
  for (const n of nodes) {
    if (!n.usage) continue;
    const cpu = n.cpuAllocatableMillis ?? n.cpuCapacityMillis;
    const mem = n.memoryAllocatableBytes ?? n.memoryCapacityBytes;
    if (cpu) {
      cpuUsed += n.usage.cpuMillis;
      cpuTotal += cpu;
    }
    if (mem) {
      memUsed += n.usage.memoryBytes;
      memTotal += mem;
    }
  }
  return {
    cpuPercent: cpuTotal ? (cpuUsed / cpuTotal) * 100 : null,
    memoryPercent: memTotal ? (memUsed / memTotal) * 100 : null,
    memoryUsed: memTotal ? memUsed : null,
    memoryTotal: memTotal || null,
  };
}

export function readyNodes(c: ClusterView): { ready: number; total: number } {
  return { ready: c.nodes.filter((n) => n.status === "Ready").length, total: c.nodes.length };
}

/** Ready and reachable: ok; reachable with trouble: warn; unreachable: bad. */
export function clusterLevel(c: ClusterView): "ok" | "warn" | "bad" {
  if (!c.reachable) return "bad";
  const { ready, total } = readyNodes(c);
  return c.phase === "Ready" && ready === total ? "ok" : "warn";
}
