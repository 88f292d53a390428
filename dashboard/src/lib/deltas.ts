// Applies the event stream's per-cluster deltas (`delta` events) to the cached snapshot and
// cluster answers, so a change costs what changed rather than a refetch of everything.
import type { ClusterView, NodeView, PodView, Schemas, Snapshot } from "../api/client";

export type ClusterDelta = Schemas["ClusterDelta"];
type NamespaceCount = Schemas["NamespaceCount"];

const byKey = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** `part` as a percentage of `whole` to one decimal, as the server computes it. */
function percent(part: number, whole: number | null | undefined): number | null {
  return whole ? Math.round((part * 1000) / whole) / 10 : null;
}

function usage(figures: number[] | undefined, cpuWhole: number | null | undefined, memoryWhole: number | null | undefined) {
  const [cpuMillis, memoryBytes] = figures ?? [];
  if (cpuMillis === undefined || memoryBytes === undefined) return null;
  return { cpuMillis, memoryBytes, cpuPercent: percent(cpuMillis, cpuWhole), memoryPercent: percent(memoryBytes, memoryWhole) };
}

function withPods(pods: PodView[], delta: ClusterDelta): PodView[] {
  const gone = new Set(delta.podsDeleted.map((k) => `${k.namespace}/${k.name}`));
  const changed = new Map(delta.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  if (gone.size === 0 && changed.size === 0) return pods;
  const kept = pods.filter((p) => {
    const key = `${p.namespace}/${p.name}`;
    return !gone.has(key) && !changed.has(key);
  });
  return [...kept, ...changed.values()].sort(byKey);
}

function withNodes(nodes: NodeView[], delta: ClusterDelta): NodeView[] {
  const gone = new Set(delta.nodesDeleted);
  const changed = new Map(delta.nodes.map((n) => [n.name, n]));
  if (gone.size === 0 && changed.size === 0) return nodes;
  const old = new Map(nodes.map((n) => [n.name, n]));
  const kept = nodes.filter((n) => !gone.has(n.name) && !changed.has(n.name));
  // Disk and network figures are not part of a delta: a changed node keeps its own.
  const merged = [...changed.values()].map((n) => ({ ...n, figures: old.get(n.name)?.figures ?? n.figures, figuresMissing: old.get(n.name)?.figuresMissing ?? n.figuresMissing }));
  return [...kept, ...merged].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function withCounts(counts: NamespaceCount[], delta: ClusterDelta): NamespaceCount[] {
  if (delta.namespaces.length === 0) return counts;
  const changed = new Map(delta.namespaces.map((c) => [c.namespace, c]));
  const kept = counts.filter((c) => !changed.has(c.namespace));
  // Largest first, then by name, as the server sorts them; a namespace without pods goes.
  return [...kept, ...[...changed.values()].filter((c) => c.total > 0)].sort(
    (a, b) => b.total - a.total || (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0),
  );
}

/** One cluster's view with `delta` applied: pods (unless the view leaves them out, as the
 * overview's snapshot does) and nodes upserted and deleted, sorted as the server sorts them;
 * the changed namespaces' counts; each node's pod count; usage from a new reading. */
export function applyDelta(view: ClusterView, delta: ClusterDelta, withPodList = true): ClusterView {
  let pods = withPodList ? withPods(view.pods, delta) : view.pods;
  let nodes = withNodes(view.nodes, delta);
  // Sent whenever pods changed: every node's count (a node missing from it has none).
  const bound = delta.nodePods;
  if (delta.pods.length > 0 || delta.podsDeleted.length > 0) {
    nodes = nodes.map((n) => (n.podCount === (bound[n.name] ?? 0) ? n : { ...n, podCount: bound[n.name] ?? 0 }));
  }
  const reading = delta.usage;
  if (reading) {
    pods = pods.map((p) => ({ ...p, usage: usage(reading.pods[p.namespace]?.[p.name], p.cpuRequestMillis, p.memoryRequestBytes) }));
    nodes = nodes.map((n) => ({ ...n, usage: usage(reading.nodes[n.name], n.cpuAllocatableMillis, n.memoryAllocatableBytes) }));
  }
  return {
    ...view,
    metricsAvailable: reading ? reading.metricsAvailable : view.metricsAvailable,
    pods,
    nodes,
    namespaces: withCounts(view.namespaces, delta),
  };
}

/** The overview's snapshot (fetched without pods) with `delta` applied to its cluster;
 * unchanged when it does not hold the cluster. */
export function applyDeltaToSnapshot(snapshot: Snapshot, delta: ClusterDelta): Snapshot {
  if (!snapshot.clusters.some((c) => c.name === delta.cluster)) return snapshot;
  return { ...snapshot, clusters: snapshot.clusters.map((c) => (c.name === delta.cluster ? applyDelta(c, delta, false) : c)) };
}
