import { Link, useParams } from "react-router";
import { ApiError, type NodeView, type PodView } from "../api/client";
import { useCluster, useServices } from "../api/queries";
import { Badge, Card, Dot, Empty, ErrorBox, Loading, UsageBar } from "../components/ui";
import { clusterLevel, readyNodes } from "../lib/cluster";
import { age, bytes, millicores, usageLevel } from "../lib/format";

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

function NodeCard({ node }: { node: NodeView }) {
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
      <p className="mt-2 text-xs text-slate-400">Disk and network: not collected (the metrics API reports CPU and memory only).</p>
    </Card>
  );
}

function PodTable({ pods }: { pods: PodView[] }) {
  if (pods.length === 0) return <Empty>No pods.</Empty>;
  return (
    <table className="w-full text-sm">
      <thead className="text-left text-slate-400">
        <tr>
          <th className="font-normal">Pod</th>
          <th className="font-normal">Namespace</th>
          <th className="font-normal">Status</th>
          <th className="font-normal">Ready</th>
          <th className="font-normal">Restarts</th>
          <th className="font-normal">CPU</th>
          <th className="font-normal">Node</th>
          <th className="font-normal">Age</th>
        </tr>
      </thead>
      <tbody>
        {pods.map((p) => (
          <tr key={`${p.namespace}/${p.name}`} className="border-t border-slate-800">
            <td className="py-1 font-mono text-xs">{p.name}</td>
            <td>{p.namespace}</td>
            <td>
              <Badge tone={podTone(p.status)}>{p.status}</Badge>
            </td>
            <td>{p.ready}</td>
            <td className={p.restarts > 0 ? "text-yellow-300" : ""}>{p.restarts}</td>
            <td>{p.usage ? millicores(p.usage.cpuMillis) : "unknown"}</td>
            <td className="text-xs">{p.node ?? "—"}</td>
            <td>{age(p.ageSeconds)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ClusterDetail() {
  const { name = "" } = useParams();
  const cluster = useCluster(name);
  const services = useServices(name);
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
      {cluster.isError && <ErrorBox error={cluster.error} />}
      <p className="text-sm text-slate-400">
        Pod CIDR {c.podCidr ?? "—"} · Service CIDR {c.serviceCidr ?? "—"} · {c.apiServerEndpoint ?? ""} · {c.kubernetesVersion ?? ""}
      </p>
      <h2 className="text-lg font-semibold">Nodes</h2>
      <div className="grid gap-3 md:grid-cols-2 xl:grid-cols-3">
        {c.nodes.map((n) => (
          <NodeCard key={n.name} node={n} />
        ))}
      </div>
      <h2 className="text-lg font-semibold">Pods</h2>
      <PodTable pods={c.pods} />
      <h2 className="text-lg font-semibold">Services</h2>
      {services.isPending ? (
        <Loading what="services" />
      ) : services.isError ? (
        <ErrorBox error={services.error} />
      ) : services.data.length === 0 ? (
        <Empty>No services.</Empty>
      ) : (
        <table className="w-full text-sm">
          <thead className="text-left text-slate-400">
            <tr>
              <th className="font-normal">Service</th>
              <th className="font-normal">Namespace</th>
              <th className="font-normal">Type</th>
              <th className="font-normal">Cluster IP</th>
              <th className="font-normal">Ports</th>
              <th className="font-normal">Endpoints</th>
            </tr>
          </thead>
          <tbody>
            {services.data.map((s) => (
              <tr key={`${s.namespace}/${s.name}`} className="border-t border-slate-800">
                <td className="py-1">{s.name}</td>
                <td>{s.namespace}</td>
                <td>
                  <Badge tone={s.type === "NodePort" ? "blue" : s.type === "LoadBalancer" ? "purple" : "slate"}>{s.type}</Badge>
                </td>
                <td className="font-mono text-xs">{s.clusterIp ?? "—"}</td>
                <td className="text-xs">
                  {s.ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol}`).join(", ")}
                </td>
                <td>
                  {s.endpoints.filter((e) => e.ready).length}/{s.endpoints.length} ready
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
