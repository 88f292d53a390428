import { memo, useMemo, useState } from "react";
import { Link } from "react-router";
import type { ClusterView } from "../api/client";
import { useSnapshot } from "../api/queries";
import { Table, type Column } from "../components/Table";
import { NO_VMS, VmFigures, type VmView } from "../components/VmFigures";
import { Badge, Card, CouldNotRefresh, Dot, Empty, ErrorBox, Loading, UsageBar } from "../components/ui";
import { clusterLevel, clusterUsage, readyNodes, vmUsage } from "../lib/cluster";
import { bytes, podTotals, TIER_COLOURS, usageLevel } from "../lib/format";

const NAMESPACE_COLUMNS: Column<ClusterView["namespaces"][number]>[] = [
  { header: "Namespace", cell: (n) => n.namespace },
  { header: "Total", cell: (n) => n.total, numeric: true },
  { header: "Running", cell: (n) => n.running, numeric: true },
  { header: "Pending", cell: (n) => n.pending, numeric: true },
  { header: "Failed", cell: (n) => n.failed, numeric: true },
];

// Memoized: a change to one cluster re-renders its card only (the query cache keeps the
// objects of unchanged clusters, and `vmsByCluster` their VM lists).
const ClusterCard = memo(function ClusterCard({ cluster, vms }: { cluster: ClusterView; vms: VmView[] }) {
  const [open, setOpen] = useState(false);
  const nodes = readyNodes(cluster);
  const pods = podTotals(cluster.namespaces);
  // Without a metrics API, the VMs' own figures (host agent) stand in for the nodes' usage.
  const fromVms = cluster.metricsAvailable ? null : vmUsage(vms);
  const usage = fromVms ?? clusterUsage(cluster.nodes);
  const colour = TIER_COLOURS[cluster.tier ?? ""] ?? "#64748b";
  return (
    <Card className="border-l-4" style={{ borderLeftColor: colour }}>
      <div className="flex items-center gap-2">
        <Dot level={clusterLevel(cluster)} />
        <h2 className="text-lg font-semibold">
          <Link to={`/clusters/${encodeURIComponent(cluster.name)}`} className="hover:underline">
            {cluster.name}
          </Link>
        </h2>
        <span className="text-sm text-slate-400">{cluster.tier}</span>
        <span className="ml-auto flex gap-2">
          <Badge tone={cluster.phase === "Ready" ? "green" : "yellow"}>{cluster.phase ?? "Unknown"}</Badge>
          <Badge tone={nodes.ready === nodes.total ? "green" : "yellow"}>
            {nodes.ready}/{nodes.total} nodes
          </Badge>
        </span>
      </div>
      {!cluster.reachable && <p className="mt-2 text-sm text-red-300">The API server does not answer.</p>}
      <div className="mt-3 flex flex-wrap gap-2" aria-label="Pods">
        <Badge tone="green">{pods.running} Running</Badge>
        {pods.pending > 0 && <Badge tone="yellow">{pods.pending} Pending</Badge>}
        {pods.failed > 0 && <Badge tone="red">{pods.failed} Failed</Badge>}
        {pods.crashLooping > 0 && <Badge tone="red">{pods.crashLooping} CrashLoopBackOff</Badge>}
        <Badge>{pods.total} total</Badge>
      </div>
      <div className="mt-3 space-y-2">
        <UsageBar label="CPU" value={usage.cpuPercent} level={usageLevel(usage.cpuPercent)} />
        <UsageBar
          label="Memory"
          value={usage.memoryPercent}
          level={usageLevel(usage.memoryPercent)}
          detail={usage.memoryTotal ? `${bytes(usage.memoryUsed)} / ${bytes(usage.memoryTotal)}` : undefined}
        />
        {!cluster.metricsAvailable && (
          <p className="text-xs text-slate-400">
            {fromVms
              ? "No metrics API in this cluster: usage of its VMs, as the host agent reads them."
              : "No metrics API in this cluster: usage is unknown."}
          </p>
        )}
      </div>
      {vms.length > 0 && (
        <div className="mt-3 space-y-2" aria-label={`VMs of ${cluster.name}`}>
          {vms.map((vm) => (
            <VmFigures key={vm.name} vm={vm} />
          ))}
        </div>
      )}
      <button
        type="button"
        className="mt-3 text-sm text-blue-300 hover:underline"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {cluster.namespaces.length} namespaces
      </button>
      {open && (
        <div className="mt-2">
          <Table caption={`Pods per namespace in ${cluster.name}`} columns={NAMESPACE_COLUMNS} rows={cluster.namespaces} rowKey={(n) => n.namespace} />
        </div>
      )}
    </Card>
  );
});

const NONE: VmView[] = [];

export function Overview() {
  const snapshot = useSnapshot();
  const vms = snapshot.data?.vms;
  const vmsByCluster = useMemo(() => {
    const by = new Map<string, VmView[]>();
    for (const vm of vms ?? []) {
      const list = by.get(vm.cluster);
      if (list) list.push(vm);
      else by.set(vm.cluster, [vm]);
    }
    for (const list of by.values()) list.sort((a, b) => a.name.localeCompare(b.name));
    return by;
  }, [vms]);
  if (snapshot.isPending) return <Loading what="clusters" />;
  if (snapshot.isError && !snapshot.data) return <ErrorBox error={snapshot.error} />;
  const data = snapshot.data;
  if (!data) return null;
  const names = new Set(data.clusters.map((c) => c.name));
  const unowned = data.vms.filter((v) => !names.has(v.cluster));
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Overview</h1>
      <CouldNotRefresh error={snapshot.error} receivedAt={snapshot.dataUpdatedAt} />
      {data.stale && (
        <div role="status" className="rounded border border-yellow-800 bg-yellow-950/50 p-3 text-sm text-yellow-100">
          Some sources are failing, so part of this is old:
          <ul className="mt-1 list-disc pl-5">
            {data.errors.map((e) => (
              <li key={`${e.cluster}/${e.source}`}>
                {e.cluster} {e.source}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {data.clusters.length === 0 ? (
        <Empty>No clusters yet: apply a ManagedCluster, or start the lab with scripts/lab up.</Empty>
      ) : (
        <div className="grid gap-4 xl:grid-cols-2">
          {data.clusters.map((c) => (
            <ClusterCard key={c.name} cluster={c} vms={vmsByCluster.get(c.name) ?? NONE} />
          ))}
        </div>
      )}
      {data.vms.length === 0 ? (
        <p className="text-sm text-slate-400">{NO_VMS}</p>
      ) : (
        unowned.length > 0 && (
          <Card>
            <h2 className="font-semibold">VMs of no managed cluster</h2>
            <div className="mt-2 grid gap-2 xl:grid-cols-2">
              {unowned.map((vm) => (
                <VmFigures key={vm.name} vm={vm} />
              ))}
            </div>
          </Card>
        )
      )}
    </div>
  );
}
