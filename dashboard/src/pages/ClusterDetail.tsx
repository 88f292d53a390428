import { memo, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError, type NodeView, type PodView, type ServiceView } from "../api/client";
import { useCluster, useServices, useSnapshot } from "../api/queries";
import { NodeFigures } from "../components/NodeFigures";
import { NO_VMS, VmFigures, vmsOf } from "../components/VmFigures";
import { Table, type Column } from "../components/Table";
import { Badge, Card, CouldNotRefresh, Dot, Empty, ErrorBox, Loading, UsageBar } from "../components/ui";
import { clusterLevel, readyNodes } from "../lib/cluster";
import { age, ageSeconds, bytes, millicores, usageLevel } from "../lib/format";

const STATUS_TONE: Record<string, "green" | "blue" | "yellow" | "red"> = {
  Running: "green",
  Completed: "blue",
  Succeeded: "blue",
  Pending: "yellow",
  ContainerCreating: "yellow",
};

function podTone(status: string): "green" | "blue" | "yellow" | "red" | "slate" {
  return STATUS_TONE[status] ?? (status === "Unknown" ? "slate" : "red");
}

const podKey = (p: PodView) => `${p.namespace}/${p.name}`;

// Narrow (a node card is a third of the page): the namespace goes with the name.
const NODE_POD_COLUMNS: Column<PodView>[] = [
  { header: "Pod", cell: (p) => `${p.namespace}/${p.name}`, className: "font-mono text-xs" },
  { header: "Phase", cell: (p) => p.phase },
  { header: "Status", cell: (p) => <Badge tone={podTone(p.status)}>{p.status}</Badge> },
  { header: "Restarts", cell: (p) => p.restarts, numeric: true, className: (p) => (p.restarts > 0 ? "text-yellow-300" : "") },
];

/** The pods scheduled on one node, behind a toggle as in the original's node cards. */
function NodePods({ node, pods }: { node: string; pods: PodView[] }) {
  const [open, setOpen] = useState(false);
  const id = `node-pods-${node}`;
  return (
    <div className="mt-2">
      <button
        type="button"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen(!open)}
        className="rounded border border-slate-600 px-2 py-1 text-xs text-slate-100 hover:bg-slate-800"
      >
        {open ? "Hide" : "Show"} the {pods.length} pods on {node}
      </button>
      {open && (
        <div id={id} className="mt-2">
          {pods.length === 0 ? <Empty>No pods on {node}.</Empty> : <Table caption={`Pods on ${node}`} columns={NODE_POD_COLUMNS} rows={pods} rowKey={podKey} scroll="both" />}
        </div>
      )}
    </div>
  );
}

// Memoized: a change to one node or its pods re-renders that card only.
const NodeCard = memo(function NodeCard({ node, pods }: { node: NodeView; pods: PodView[] }) {
  return (
    <Card>
      <div className="flex items-center gap-2">
        <Dot level={node.status === "Ready" ? "ok" : "bad"} />
        <h3 className="font-medium">{node.name}</h3>
        <span className="text-xs text-slate-400">{node.roles.join(", ") || "worker"}</span>
        <span className="ml-auto text-xs text-slate-400">{node.podCount} pods</span>
      </div>
      <p className="mt-1 text-xs text-slate-400">
        {node.internalIp ?? "no IP"} · {millicores(node.cpuCapacityMillis)} CPU · {bytes(node.memoryCapacityBytes)} · {node.kubeletVersion ?? ""}
      </p>
      <div className="mt-2 space-y-2">
        <UsageBar label="CPU" value={node.usage?.cpuPercent ?? null} level={usageLevel(node.usage?.cpuPercent)} />
        <UsageBar label="Memory" value={node.usage?.memoryPercent ?? null} level={usageLevel(node.usage?.memoryPercent)} />
      </div>
      <div className="mt-2">
        <NodeFigures node={node} />
      </div>
      <NodePods node={node.name} pods={pods} />
    </Card>
  );
});

const POD_COLUMNS: Column<PodView>[] = [
  { header: "Pod", cell: (p) => p.name, className: "font-mono text-xs" },
  { header: "Namespace", cell: (p) => p.namespace },
  { header: "Status", cell: (p) => <Badge tone={podTone(p.status)}>{p.status}</Badge> },
  { header: "Ready", cell: (p) => p.ready },
  { header: "Restarts", cell: (p) => p.restarts, numeric: true, className: (p) => (p.restarts > 0 ? "text-yellow-300" : "") },
  { header: "CPU", cell: (p) => (p.usage ? millicores(p.usage.cpuMillis) : "unknown"), numeric: true },
  { header: "Node", cell: (p) => p.node ?? "—", className: "text-xs" },
  { header: "Age", cell: (p) => age(ageSeconds(p.createdAt, Date.now())), numeric: true },
];

const SERVICE_TONE: Record<string, "blue" | "purple"> = { NodePort: "blue", LoadBalancer: "purple" };

const SERVICE_COLUMNS: Column<ServiceView>[] = [
  { header: "Service", cell: (s) => s.name },
  { header: "Namespace", cell: (s) => s.namespace },
  { header: "Type", cell: (s) => <Badge tone={SERVICE_TONE[s.type] ?? "slate"}>{s.type}</Badge> },
  { header: "Cluster IP", cell: (s) => s.clusterIp ?? "—", className: "font-mono text-xs" },
  { header: "Ports", cell: (s) => s.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol}`).join(", "), className: "text-xs" },
  { header: "Endpoints", cell: (s) => `${s.endpoints.filter((e) => e.ready).length}/${s.endpoints.length} ready` },
];

const NO_PODS: PodView[] = [];

export function ClusterDetail() {
  const { name = "" } = useParams();
  const cluster = useCluster(name);
  const services = useServices(name);
  const snapshot = useSnapshot();
  const pods = cluster.data?.pods;
  const podsByNode = useMemo(() => {
    const by = new Map<string, PodView[]>();
    for (const p of pods ?? []) {
      if (!p.node) continue;
      const list = by.get(p.node);
      if (list) list.push(p);
      else by.set(p.node, [p]);
    }
    return by;
  }, [pods]);
  if (cluster.isPending) return <Loading what={`cluster ${name}`} />;
  if (cluster.error instanceof ApiError && cluster.error.status === 404) {
    return <Empty>Cluster “{name}” not found. <Link to="/" className="text-blue-300 underline">Back to the overview</Link></Empty>;
  }
  if (!cluster.data) return <ErrorBox error={cluster.error} />;
  const c = cluster.data;
  const nodes = readyNodes(c);
  return (
    <div className="space-y-4">
      <div className="flex items-center gap-3">
        <Dot level={clusterLevel(c)} />
        <h1 className="text-xl font-semibold">{c.name}</h1>
        <Badge>{c.tier ?? "cluster"}</Badge>
        <Badge tone={c.phase === "Ready" ? "green" : "yellow"}>{c.phase ?? "Unknown"}</Badge>
        <Badge tone={nodes.ready === nodes.total ? "green" : "yellow"}>
          {nodes.ready}/{nodes.total} nodes
        </Badge>
      </div>
      <CouldNotRefresh error={cluster.error} receivedAt={cluster.dataUpdatedAt} />
      <p className="text-sm text-slate-400">
        Pod CIDR {c.podCidr ?? "—"} · Service CIDR {c.serviceCidr ?? "—"} · {c.apiServerEndpoint ?? ""} · {c.kubernetesVersion ?? ""}
      </p>
      <h2 className="text-lg font-semibold">Nodes</h2>
      <div className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
        {c.nodes.map((n) => (
          <NodeCard key={n.name} node={n} pods={podsByNode.get(n.name) ?? NO_PODS} />
        ))}
      </div>
      <h2 className="text-lg font-semibold">VMs</h2>
      {snapshot.data && vmsOf(snapshot.data.vms, c.name).length > 0 ? (
        <div className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
          {vmsOf(snapshot.data.vms, c.name).map((vm) => (
            <VmFigures key={vm.name} vm={vm} ports />
          ))}
        </div>
      ) : (
        <p className="text-sm text-slate-400">{snapshot.data ? NO_VMS : "Loading the VMs…"}</p>
      )}
      <h2 id="cluster-pods" className="text-lg font-semibold">
        Pods
      </h2>
      {c.pods.length === 0 ? <Empty>No pods.</Empty> : <Table labelledBy="cluster-pods" columns={POD_COLUMNS} rows={c.pods} rowKey={podKey} scroll="both" />}
      <h2 id="cluster-services" className="text-lg font-semibold">
        Services
      </h2>
      {services.isPending ? (
        <Loading what="services" />
      ) : !services.data ? (
        <ErrorBox error={services.error} />
      ) : (
        <>
          <CouldNotRefresh error={services.error} receivedAt={services.dataUpdatedAt} what="the services" />
          {services.data.length === 0 ? (
            <Empty>No services.</Empty>
          ) : (
            <Table labelledBy="cluster-services" columns={SERVICE_COLUMNS} rows={services.data} rowKey={(s) => `${s.namespace}/${s.name}`} />
          )}
        </>
      )}
    </div>
  );
}
