// The experiment's cluster as it is now (not recorded with the experiment): Hubble's flows and
// the nodes' usage.
import type { TrafficView } from "../../api/client";
import { useCluster, useSnapshot, useTraffic } from "../../api/queries";
import { NodeDisk } from "../../components/NodeFigures";
import { VmFigures, vmsOf } from "../../components/VmFigures";
import { Table, type Column } from "../../components/Table";
import { Card, CouldNotRefresh, Empty, ErrorBox, Loading, UsageBar } from "../../components/ui";
import { clusterUsage } from "../../lib/cluster";
import { bytes, usageLevel } from "../../lib/format";

type Edge = TrafficView["edges"][number];

const EDGE_COLUMNS: Column<Edge>[] = [
  { header: "From", cell: (edge) => edge.source, className: "break-all" },
  { header: "To", cell: (edge) => edge.destination, className: "break-all" },
  { header: "Flows", cell: (edge) => edge.flowCount, numeric: true },
  { header: "Dropped", cell: (edge) => edge.droppedCount, numeric: true, className: (edge) => (edge.droppedCount > 0 ? "text-red-300" : "") },
  { header: "Protocols", cell: (edge) => edge.protocols.join(", ") },
];

export function TrafficNow({ cluster }: { cluster: string }) {
  const traffic = useTraffic(cluster);
  const t = traffic.data;
  return (
    <Card>
      <h2 id="traffic-heading" className="font-semibold">
        Traffic in {cluster} now
      </h2>
      <p className="mb-2 text-xs text-slate-400">Hubble's latest flows in the experiment's cluster; they are not recorded with the experiment.</p>
      {traffic.isPending ? (
        <Loading what={`traffic of ${cluster}`} />
      ) : !t ? (
        <ErrorBox error={traffic.error} />
      ) : !t.available ? (
        <Empty>No flows from {cluster}{t.message ? `: ${t.message}` : "."}</Empty>
      ) : (
        <>
          <CouldNotRefresh error={traffic.error} receivedAt={traffic.dataUpdatedAt} what="the flows" />
          <p className="text-sm text-slate-300">
            {t.forwarded} forwarded, <span className={t.dropped > 0 ? "text-red-300" : ""}>{t.dropped} dropped</span> of the last {t.flows.length} flows.
          </p>
          {t.edges.length === 0 ? (
            <p className="mt-2 text-sm text-slate-400">No flows between services.</p>
          ) : (
            <div className="mt-2">
              <Table labelledBy="traffic-heading" columns={EDGE_COLUMNS} rows={t.edges.slice(0, 20)} rowKey={(edge) => `${edge.source}->${edge.destination}`} />
            </div>
          )}
        </>
      )}
    </Card>
  );
}

export function NodesNow({ cluster }: { cluster: string }) {
  const view = useCluster(cluster);
  const c = view.data;
  // The original's per-VM cards: the host agent's figures of the cluster's VMs, where it has any.
  const vms = vmsOf(useSnapshot().data?.vms ?? [], cluster);
  return (
    <Card>
      <h2 className="font-semibold">Infrastructure impact: {cluster} nodes now</h2>
      <p className="text-xs text-slate-400">CPU and memory in use against allocatable, from the metrics API.</p>
      <ul className="mb-2 text-xs text-slate-400" aria-label="About these figures">
        <li>
          This is {cluster} now; before, during and after the load are in the infrastructure impact of the load above.
        </li>
        <li>Disk: the root file system from node-exporter's series in Prometheus, where it has them; each node says why when not.</li>
      </ul>
      {view.isPending ? (
        <Loading what={`nodes of ${cluster}`} />
      ) : !c ? (
        <ErrorBox error={view.error} />
      ) : (
        <>
          <CouldNotRefresh error={view.error} receivedAt={view.dataUpdatedAt} what="the nodes" />
          {!c.reachable && <p className="text-sm text-red-300">The API server of {cluster} does not answer.</p>}
          {!c.metricsAvailable && <p className="text-sm text-slate-300">No metrics API in {cluster}: usage is unknown.</p>}
          {c.nodes.length === 0 ? (
            <Empty>No nodes reported.</Empty>
          ) : (
            <ul className="grid gap-3 sm:grid-cols-2">
              {c.nodes.map((n) => {
                const u = clusterUsage([n]);
                return (
                  <li key={n.name} className="rounded border border-slate-800 p-2">
                    <p className="mb-1 text-sm font-medium">
                      {n.name} <span className="text-xs text-slate-400">{n.roles.join(", ")} · {n.status}</span>
                    </p>
                    <div className="space-y-1">
                      <UsageBar label={`${n.name} CPU`} value={u.cpuPercent} level={usageLevel(u.cpuPercent)} />
                      <UsageBar
                        label={`${n.name} memory`}
                        value={u.memoryPercent}
                        level={usageLevel(u.memoryPercent)}
                        detail={u.memoryTotal ? `${bytes(u.memoryUsed)} / ${bytes(u.memoryTotal)}` : undefined}
                      />
                      <NodeDisk node={n} />
                      {!n.figures?.disk && <p className="text-xs text-slate-400">Disk: {n.figuresMissing ?? "not collected"}</p>}
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
          {vms.length > 0 && (
            <div className="mt-3 grid gap-3 sm:grid-cols-2" aria-label={`VMs of ${cluster}`}>
              {vms.map((vm) => (
                <VmFigures key={vm.name} vm={vm} />
              ))}
            </div>
          )}
        </>
      )}
    </Card>
  );
}
