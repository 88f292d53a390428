import { describe, expect, it } from "vitest";
import type { ClusterView, NodeView, PodView, Snapshot } from "../api/client";
import { applyDelta, applyDeltaToSnapshot, type ClusterDelta } from "./deltas";

const pod = (namespace: string, name: string, extra: Partial<PodView> = {}): PodView => ({
  namespace,
  name,
  node: "n1",
  phase: "Running",
  status: "Running",
  ready: "1/1",
  restarts: 0,
  cpuRequestMillis: 100,
  memoryRequestBytes: 1000,
  ...extra,
});

const node = (name: string, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  roles: ["worker"],
  status: "Ready",
  podCount: 0,
  cpuAllocatableMillis: 2000,
  memoryAllocatableBytes: 4000,
  ...extra,
});

const cluster = (): ClusterView => ({
  name: "dev",
  reachable: true,
  metricsAvailable: false,
  pods: [pod("a", "p1"), pod("b", "p1"), pod("b", "p3")],
  nodes: [node("n1", { podCount: 3, figuresMissing: "simulated node" }), node("n2")],
  namespaces: [
    count("b", 2),
    count("a", 1),
  ],
});

const count = (namespace: string, total: number) => ({ namespace, total, running: total, pending: 0, failed: 0, crashLooping: 0 });

const delta = (extra: Partial<ClusterDelta>): ClusterDelta => ({
  cluster: "dev",
  revision: 2,
  since: 1,
  pods: [],
  podsDeleted: [],
  nodes: [],
  nodesDeleted: [],
  namespaces: [],
  nodePods: {},
  ...extra,
});

const keys = (v: ClusterView) => v.pods.map((p) => `${p.namespace}/${p.name}`);

describe("applyDelta", () => {
  const cases: { what: string; delta: ClusterDelta; pods: string[]; namespaces: [string, number][]; podCounts: [string, number][] }[] = [
    {
      what: "an upsert of a new pod lands in namespace/name order, counts follow",
      delta: delta({
        pods: [pod("b", "p2", { node: "n2" })],
        namespaces: [count("b", 3)],
        nodePods: { n1: 3, n2: 1 },
      }),
      pods: ["a/p1", "b/p1", "b/p2", "b/p3"],
      namespaces: [["b", 3], ["a", 1]],
      podCounts: [["n1", 3], ["n2", 1]],
    },
    {
      what: "an upsert of a known pod replaces it in place",
      delta: delta({ pods: [pod("a", "p1", { status: "CrashLoopBackOff" })], nodePods: { n1: 3 } }),
      pods: ["a/p1", "b/p1", "b/p3"],
      namespaces: [["b", 2], ["a", 1]],
      podCounts: [["n1", 3], ["n2", 0]],
    },
    {
      what: "a delete removes the pod; a namespace without pods goes; the node's count drops",
      delta: delta({
        podsDeleted: [{ namespace: "a", name: "p1" }],
        namespaces: [count("a", 0)],
        nodePods: { n1: 2 },
      }),
      pods: ["b/p1", "b/p3"],
      namespaces: [["b", 2]],
      podCounts: [["n1", 2], ["n2", 0]],
    },
    {
      what: "a namespace that grows past another moves ahead of it",
      delta: delta({
        pods: [pod("a", "p0"), pod("a", "p2")],
        namespaces: [count("a", 3)],
        nodePods: { n1: 5 },
      }),
      pods: ["a/p0", "a/p1", "a/p2", "b/p1", "b/p3"],
      namespaces: [["a", 3], ["b", 2]],
      podCounts: [["n1", 5], ["n2", 0]],
    },
    {
      what: "a delta of nodes only leaves pods and counts alone",
      delta: delta({ nodes: [node("n0")], nodesDeleted: ["n2"] }),
      pods: ["a/p1", "b/p1", "b/p3"],
      namespaces: [["b", 2], ["a", 1]],
      podCounts: [["n0", 0], ["n1", 3]],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const after = applyDelta(cluster(), c.delta);
      expect(keys(after)).toEqual(c.pods);
      expect(after.namespaces.map((n) => [n.namespace, n.total])).toEqual(c.namespaces);
      expect(after.nodes.map((n) => [n.name, n.podCount])).toEqual(c.podCounts);
    });
  }

  it("a changed node keeps its figures", () => {
    const after = applyDelta(cluster(), delta({ nodes: [node("n1", { status: "NotReady" })] }));
    expect(after.nodes[0]).toMatchObject({ name: "n1", status: "NotReady", figuresMissing: "simulated node", podCount: 0 });
  });

  it("a usage reading replaces every figure, with percentages of requests and allocatable", () => {
    const after = applyDelta(
      cluster(),
      delta({ usage: { metricsAvailable: true, pods: { b: { p1: [50, 250] } }, nodes: { n1: [500, 1000] } } }),
    );
    expect(after.metricsAvailable).toBe(true);
    expect(after.pods.find((p) => p.name === "p1" && p.namespace === "b")?.usage).toEqual({ cpuMillis: 50, memoryBytes: 250, cpuPercent: 50, memoryPercent: 25 });
    expect(after.pods.find((p) => p.namespace === "a")?.usage).toBeNull();
    expect(after.nodes.map((n) => n.usage?.cpuPercent ?? null)).toEqual([25, null]);
  });
});

describe("applyDeltaToSnapshot", () => {
  const snapshot = (): Snapshot => ({ collectedAt: "t", clusters: [{ ...cluster(), pods: [] }], vms: [], errors: [] }) as unknown as Snapshot;

  it("updates the cluster's counts but holds no pods, as the overview fetched it", () => {
    const after = applyDeltaToSnapshot(
      snapshot(),
      delta({ pods: [pod("c", "x")], namespaces: [count("c", 1)], nodePods: { n1: 4 } }),
    );
    const [dev] = after.clusters;
    expect(dev?.pods).toEqual([]);
    expect(dev?.namespaces.map((n) => n.namespace)).toEqual(["b", "a", "c"]);
    expect(dev?.nodes[0]?.podCount).toBe(4);
  });

  it("leaves a snapshot without the cluster as it is", () => {
    const before = snapshot();
    expect(applyDeltaToSnapshot(before, delta({ cluster: "prod", pods: [pod("a", "z")] }))).toBe(before);
  });
});
