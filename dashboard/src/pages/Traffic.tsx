// Hubble traffic: every cluster at a glance, or one cluster's service map, busiest connections and recent flows.
import { useSearchParams } from "react-router";
import type { TrafficView } from "../api/client";
import { useAllTraffic, useSnapshot, useTraffic } from "../api/queries";
import { Table, type Column } from "../components/Table";
import { Badge, Card, CouldNotRefresh, Dot, Empty, ErrorBox, Loading, Picker, Swatch } from "../components/ui";
import { clockTime } from "../lib/format";
import {
  clusterSummary,
  flowDetail,
  FORWARDED,
  latestFlows,
  layoutServiceMap,
  namespaceColour,
  protocolLabel,
  simulatedCount,
  TONE_COLOURS,
  type ClusterFlow,
  type EdgeView,
  type FlowView,
  type MapEdge,
  type MapNode,
  type PeerView,
  type Tone,
} from "../lib/traffic";

const NO_TRAFFIC = "No traffic yet. Run a load test to generate flows.";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function Peer({ peer }: { peer: PeerView }) {
  return (
    <span className="whitespace-nowrap">
      <Swatch colour={namespaceColour(peer.namespace)} />
      {peer.service} <span className="text-slate-400">({peer.namespace})</span>
    </span>
  );
}

function Verdict({ verdict }: { verdict: string }) {
  return <Badge tone={verdict === FORWARDED ? "green" : "red"}>{verdict}</Badge>;
}

const SIMULATED = "Made up by the local lab's simulated Hubble Relay from its load model, not observed by Cilium";

/** Marks what the lab's simulated Hubble Relay made up (the API says so per flow and per cluster). */
function Simulated() {
  return (
    <span title={SIMULATED} className="ml-1">
      <Badge tone="purple">simulated</Badge>
    </span>
  );
}

function SimulatedNote({ flows }: { flows: FlowView[] }) {
  return (
    <p role="note" className="rounded border border-purple-800 bg-purple-950/40 p-3 text-sm text-purple-100">
      {simulatedCount(flows)} of {plural(flows.length, "flow")} are simulated: the local lab's Hubble Relay makes them up from its load model, and Cilium
      observed none of them (an HTTP status such as GET 200 is what the model assumed).
    </p>
  );
}

/** The columns of one flow, for tables whose rows hold a flow (`flowOf`). */
function flowColumns<T>(flowOf: (row: T) => FlowView): Column<T>[] {
  return [
    { header: "Source", cell: (r) => <Peer peer={flowOf(r).source} /> },
    { header: "Destination", cell: (r) => <Peer peer={flowOf(r).destination} /> },
    { header: "Port", cell: (r) => flowOf(r).port ?? "—", numeric: true },
    { header: "Protocol", cell: (r) => protocolLabel(flowOf(r)) },
    {
      header: "Verdict",
      cell: (r) => (
        <>
          <Verdict verdict={flowOf(r).verdict} />
          {flowOf(r).simulated && <Simulated />}
        </>
      ),
    },
  ];
}

const ALL_FLOW_COLUMNS: Column<ClusterFlow>[] = [{ header: "Cluster", cell: (r) => r.cluster }, ...flowColumns<ClusterFlow>((r) => r.flow)];

const RECENT_FLOW_COLUMNS: Column<FlowView>[] = [
  { header: "Time", cell: (f) => clockTime(f.time), className: "whitespace-nowrap" },
  ...flowColumns<FlowView>((f) => f),
  { header: "Details", cell: flowDetail, className: "break-all text-slate-300" },
];

const EDGE_COLUMNS: Column<EdgeView>[] = [
  { header: "Source → Destination", cell: (e) => `${e.source} → ${e.destination}` },
  { header: "Flows", cell: (e) => e.flowCount, numeric: true },
  { header: "Forwarded", cell: (e) => e.forwardedCount, numeric: true, className: "text-emerald-300" },
  { header: "Dropped", cell: (e) => e.droppedCount, numeric: true, className: (e) => (e.droppedCount > 0 ? "text-red-300" : "") },
  { header: "Protocols", cell: (e) => e.protocols.join(", ") },
];

const edgeKey = (e: EdgeView) => `${e.source}->${e.destination}`;

function ClusterCard({ view, onSelect }: { view: TrafficView; onSelect: () => void }) {
  const s = clusterSummary(view);
  return (
    <button
      type="button"
      onClick={onSelect}
      className="block w-full rounded-lg border border-slate-800 bg-slate-900 p-4 text-left hover:border-slate-600 focus-visible:outline-2 focus-visible:outline-blue-400"
    >
      <span className="flex items-center gap-2">
        <Dot level={view.available ? "ok" : "bad"} />
        <span className="text-lg font-semibold">{view.cluster}</span>
      </span>
      <span className="mt-2 block">
        <span className="text-2xl font-bold">{s.total}</span> <span className="text-slate-300">flows captured</span>
        {view.simulated && <Simulated />}
      </span>
      <span aria-hidden className="mt-2 block h-2 rounded bg-slate-800">
        <span className="block h-2 rounded bg-emerald-500" style={{ width: `${s.forwardedPct}%` }} />
      </span>
      <span className="mt-1 flex justify-between text-xs">
        <span className="text-emerald-300">{s.forwarded} fwd</span>
        <span className={s.notForwarded > 0 ? "text-red-300" : "text-slate-400"}>{s.notForwarded} drop</span>
      </span>
      {s.top && (
        <span className="mt-2 block truncate text-xs text-slate-300" title={`${s.top.source} → ${s.top.destination}`}>
          top: {s.top.source} → {s.top.destination} ({s.top.flowCount})
        </span>
      )}
      {!view.available && view.message && <span className="mt-2 block text-xs text-yellow-200">{view.message}</span>}
    </button>
  );
}

function AllFlowsTable({ views }: { views: TrafficView[] }) {
  const rows = latestFlows(views);
  return (
    <Card>
      <h2 id="traffic-all-flows" className="mb-2 font-semibold">
        All flows (latest per cluster)
      </h2>
      {rows.length === 0 ? (
        <Empty>{NO_TRAFFIC}</Empty>
      ) : (
        <Table labelledBy="traffic-all-flows" columns={ALL_FLOW_COLUMNS} rows={rows} rowKey={(r, i) => `${r.cluster}-${i}`} />
      )}
    </Card>
  );
}

function AllClusters({ onSelect }: { onSelect: (cluster: string) => void }) {
  const traffic = useAllTraffic();
  if (traffic.isPending) return <Loading what="traffic" />;
  if (traffic.isError && !traffic.data) return <ErrorBox error={traffic.error} />;
  const views = traffic.data ?? [];
  if (views.length === 0) return <Empty>No clusters yet: apply a ManagedCluster, or start the lab with scripts/lab up.</Empty>;
  return (
    <div className="space-y-4">
      <CouldNotRefresh error={traffic.error} receivedAt={traffic.dataUpdatedAt} />
      <ul aria-label="Clusters" className="grid gap-4 sm:grid-cols-2 xl:grid-cols-4">
        {views.map((v) => (
          <li key={v.cluster}>
            <ClusterCard view={v} onSelect={() => onSelect(v.cluster)} />
          </li>
        ))}
      </ul>
      <AllFlowsTable views={views} />
    </div>
  );
}

function Unavailable({ view }: { view: TrafficView }) {
  return (
    <div role="status" className="rounded border border-yellow-800 bg-yellow-950/50 p-4 text-yellow-100">
      <p className="font-medium">No flows from {view.cluster}.</p>
      <p className="mt-1 text-sm">{view.message ?? "The operator receives no flows from its Hubble Relay."}</p>
    </div>
  );
}

const ARROW: Record<Tone, string> = { red: "traffic-arrow-red", green: "traffic-arrow-green" };

// The dash flows towards the destination; reduced-motion users get still dashes.
function Arrow({ tone }: { tone: Tone }) {
  return (
    <marker id={ARROW[tone]} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
      <path d="M 0 0 L 10 5 L 0 10 z" fill={TONE_COLOURS[tone]} />
    </marker>
  );
}

function ServiceBox({ node }: { node: MapNode }) {
  return (
    <g>
      <title>{node.id}</title>
      <rect data-kind="service" x={node.x} y={node.y} width={node.w} height={node.h} rx={6} fill="#1e293b" stroke={node.colour} strokeWidth={1.5} />
      <text x={node.x + node.w / 2} y={node.y + node.h / 2} textAnchor="middle" dominantBaseline="central" fontSize={12} fill="#e2e8f0">
        {node.label}
      </text>
    </g>
  );
}

function EdgeLabel({ edge }: { edge: MapEdge }) {
  return (
    <text
      x={edge.labelX}
      y={edge.labelY - 4}
      textAnchor="middle"
      fontSize={11}
      fontWeight={600}
      fill="#f1f5f9"
      stroke="#0f172a"
      strokeWidth={3}
      paintOrder="stroke"
    >
      {edge.label}
    </text>
  );
}

function ServiceMap({ view }: { view: TrafficView }) {
  const map = layoutServiceMap(view.edges, view.flows);
  const nodes = [...map.nodes.values()];
  return (
    <Card>
      <h2 className="mb-2 font-semibold">Service map</h2>
      <svg
        role="img"
        aria-label={`Service map of ${view.cluster}: ${plural(nodes.length, "service")}, ${plural(map.edges.length, "connection")}`}
        viewBox={`0 0 ${map.width} ${map.height}`}
        className="block h-auto w-full"
        style={{ maxHeight: "50vh" }}
      >
        <defs>
          <Arrow tone="green" />
          <Arrow tone="red" />
        </defs>
        {map.blocks.map((b) => (
          <g key={b.namespace}>
            <rect x={b.x} y={b.y} width={b.w} height={b.h} rx={10} fill={b.colour} fillOpacity={0.08} stroke={b.colour} strokeOpacity={0.5} />
            <text x={b.x + 10} y={b.y + 16} fontSize={12} fontWeight={600} fill="#cbd5e1">
              {b.namespace}
            </text>
          </g>
        ))}
        {map.edges.map((e) => (
          <path
            key={e.id}
            data-kind="edge"
            className="traffic-edge"
            d={e.path}
            fill="none"
            stroke={e.colour}
            strokeWidth={1.5}
            strokeDasharray="6 3"
            markerEnd={`url(#${ARROW[e.tone]})`}
          />
        ))}
        {nodes.map((n) => (
          <ServiceBox key={n.id} node={n} />
        ))}
        {map.edges.map((e) => (
          <EdgeLabel key={e.id} edge={e} />
        ))}
      </svg>
    </Card>
  );
}

function TopConnections({ edges }: { edges: EdgeView[] }) {
  return (
    <Card>
      <h2 id="traffic-top" className="mb-2 font-semibold">
        Top connections
      </h2>
      <Table labelledBy="traffic-top" columns={EDGE_COLUMNS} rows={edges.slice(0, 15)} rowKey={edgeKey} />
    </Card>
  );
}

function RecentFlows({ flows }: { flows: FlowView[] }) {
  return (
    <Card>
      <h2 id="traffic-recent" className="mb-2 font-semibold">
        Recent flows
      </h2>
      <Table labelledBy="traffic-recent" columns={RECENT_FLOW_COLUMNS} rows={flows.slice(0, 50)} rowKey={(_, i) => String(i)} />
    </Card>
  );
}

function Counts({ view }: { view: TrafficView }) {
  const errors = view.flows.length - view.forwarded - view.dropped;
  return (
    <p className="text-sm text-slate-300">
      {view.source && <>Source: {view.source} · </>}
      <span className="text-emerald-300">{view.forwarded} forwarded</span> · <span className={view.dropped > 0 ? "text-red-300" : ""}>{view.dropped} dropped</span>
      {errors > 0 && <span className="text-red-300"> · {plural(errors, "error")}</span>}
    </p>
  );
}

function ClusterTraffic({ cluster }: { cluster: string }) {
  const traffic = useTraffic(cluster);
  if (traffic.isPending) return <Loading what={`traffic of ${cluster}`} />;
  if (traffic.isError && !traffic.data) return <ErrorBox error={traffic.error} />;
  const view = traffic.data;
  if (!view) return null;
  if (!view.available) return <Unavailable view={view} />;
  const empty = view.flows.length === 0 && view.edges.length === 0;
  return (
    <div className="space-y-4">
      <CouldNotRefresh error={traffic.error} receivedAt={traffic.dataUpdatedAt} />
      <Counts view={view} />
      {view.simulated && <SimulatedNote flows={view.flows} />}
      {empty ? (
        <Empty>{NO_TRAFFIC}</Empty>
      ) : (
        <>
          <ServiceMap view={view} />
          {view.edges.length > 0 && <TopConnections edges={view.edges} />}
          {view.flows.length > 0 && <RecentFlows flows={view.flows} />}
        </>
      )}
    </div>
  );
}

export function Traffic() {
  const [params, setParams] = useSearchParams();
  const chosen = params.get("cluster") ?? "";
  const snapshot = useSnapshot();
  const clusters = snapshot.data?.clusters.map((c) => c.name) ?? [];
  const choose = (name: string) => setParams(name ? { cluster: name } : {});
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-4">
        <h1 className="text-xl font-semibold">Traffic</h1>
        <Picker id="traffic-cluster" label="Cluster" value={chosen} choices={[{ value: "", label: "All clusters" }, ...clusters.map((n) => ({ value: n, label: n }))]} onChange={choose} />
      </div>
      {chosen ? <ClusterTraffic cluster={chosen} /> : <AllClusters onSelect={choose} />}
    </div>
  );
}
