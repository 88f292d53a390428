// Hubble traffic for the Traffic page: summaries, labels and the service map's layout (pure, unit-tested).
// The server already names services, aggregates edges and sorts them busiest first.
import type { Schemas, TrafficView } from "../api/client";

export type FlowView = Schemas["FlowView"];
export type EdgeView = Schemas["EdgeView"];
export type PeerView = Schemas["PeerView"];

const NAMESPACE_COLOURS = new Map([
  ["kube-system", "#3b82f6"],
  ["demo", "#10b981"],
  ["monitoring", "#a855f7"],
  ["argocd", "#f97316"],
  ["istio-system", "#06b6d4"],
  ["istio-ingress", "#14b8a6"],
  ["cluster", "#64748b"],
  ["default", "#8b5cf6"],
]);
const OTHER_NAMESPACE = "#64748b";

export function namespaceColour(namespace: string): string {
  return NAMESPACE_COLOURS.get(namespace) ?? OTHER_NAMESPACE;
}

/** `name` cut to `max` characters, with "…" when cut. */
export function truncateName(name: string, max = 15): string {
  return name.length <= max ? name : `${name.slice(0, max)}…`;
}

export const FORWARDED = "FORWARDED";

/** "TCP", or "TCP/HTTP" when Cilium parsed the layer 7 (as the server labels edge protocols). */
export function protocolLabel(flow: FlowView): string {
  return flow.l7 ? `${flow.protocol}/${flow.l7}` : flow.protocol;
}

/** The layer-7 detail of a flow: "GET 200 http://…" or "DNS example.org.", else "". */
export function flowDetail(flow: FlowView): string {
  if (flow.dnsQuery) return `DNS ${flow.dnsQuery}`;
  return [flow.httpMethod, flow.httpStatus, flow.httpUrl].filter((part) => part != null && part !== "").join(" ");
}

export type Tone = "red" | "green";

export const TONE_COLOURS: Record<Tone, string> = { red: "#ef4444", green: "#22c55e" };

/** Red when drops are at least half of the edge's known verdicts, else green. */
export function edgeTone(edge: Pick<EdgeView, "droppedCount" | "forwardedCount">): Tone {
  return edge.droppedCount > 0 && edge.droppedCount >= edge.forwardedCount ? "red" : "green";
}

export interface ClusterSummary {
  total: number;
  forwarded: number;
  /** Every flow not FORWARDED: the server's `dropped` counts DROPPED only, not ERROR. */
  notForwarded: number;
  /** 0 to 100; 0 without flows. */
  forwardedPct: number;
  /** The busiest edge, or null. */
  top: EdgeView | null;
}

export function clusterSummary(view: Pick<TrafficView, "flows" | "edges">): ClusterSummary {
  const total = view.flows.length;
  const forwarded = view.flows.filter((f) => f.verdict === FORWARDED).length;
  return {
    total,
    forwarded,
    notForwarded: total - forwarded,
    forwardedPct: total === 0 ? 0 : (forwarded / total) * 100,
    top: view.edges[0] ?? null,
  };
}

/** How many of the flows the local lab's simulated Hubble Relay made up (the API marks them; Cilium observed none). */
export function simulatedCount(flows: Pick<FlowView, "simulated">[]): number {
  return flows.filter((f) => f.simulated === true).length;
}

export interface ClusterFlow {
  cluster: string;
  flow: FlowView;
}

/** The first `perCluster` flows (the newest) of each cluster in the views' order, at most `max` in all. */
export function latestFlows(views: Pick<TrafficView, "cluster" | "flows">[], perCluster = 30, max = 100): ClusterFlow[] {
  return views.flatMap((v) => v.flows.slice(0, perCluster).map((flow) => ({ cluster: v.cluster, flow }))).slice(0, max);
}

// Service map geometry, in SVG user units.
export const MAP = {
  nodeWidth: 130,
  nodeHeight: 34,
  perRow: 4,
  gapX: 40,
  gapY: 24,
  padding: 16,
  header: 22,
  blockGap: 20,
  margin: 20,
  minWidth: 400,
  minHeight: 200,
  labelLength: 15,
} as const;

export interface MapBlock {
  namespace: string;
  x: number;
  y: number;
  w: number;
  h: number;
  colour: string;
}

export interface MapNode {
  /** "namespace/service", as edges name their ends. */
  id: string;
  namespace: string;
  service: string;
  /** The service, truncated to fit the box. */
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
  colour: string;
}

export interface MapEdge {
  id: string;
  source: string;
  destination: string;
  /** An SVG path: a cubic Bézier from the source's right side to the destination's left side. */
  path: string;
  tone: Tone;
  colour: string;
  dropped: boolean;
  /** The flow count. */
  label: string;
  labelX: number;
  labelY: number;
}

export interface ServiceMap {
  width: number;
  height: number;
  blocks: MapBlock[];
  nodes: Map<string, MapNode>;
  edges: MapEdge[];
}

/** The service of an edge end: `namespace/service` without its namespace. */
function serviceOf(id: string, namespace: string): string {
  return id.startsWith(`${namespace}/`) ? id.slice(namespace.length + 1) : id;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Services by namespace, both sorted by name so the map keeps its shape between polls. */
function servicesByNamespace(edges: EdgeView[], flows: FlowView[]): [string, string[]][] {
  const byNamespace = new Map<string, Set<string>>();
  const add = (namespace: string, service: string) => {
    const services = byNamespace.get(namespace) ?? new Set<string>();
    services.add(service);
    byNamespace.set(namespace, services);
  };
  for (const e of edges) {
    add(e.sourceNamespace, serviceOf(e.source, e.sourceNamespace));
    add(e.destinationNamespace, serviceOf(e.destination, e.destinationNamespace));
  }
  for (const f of flows) {
    add(f.source.namespace, f.source.service);
    add(f.destination.namespace, f.destination.service);
  }
  return [...byNamespace.entries()].sort(([a], [b]) => compare(a, b)).map(([ns, services]) => [ns, [...services].sort(compare)]);
}

/** The width of a grid of `count` boxes, `perRow` to a row. */
function gridWidth(count: number): number {
  const columns = Math.min(count, MAP.perRow);
  return columns * MAP.nodeWidth + (columns - 1) * MAP.gapX;
}

function gridHeight(count: number): number {
  const rows = Math.ceil(count / MAP.perRow);
  return rows * MAP.nodeHeight + (rows - 1) * MAP.gapY;
}

/** How far a curve's control points are pulled up or down. A curve within one row would run under the
 * boxes between its ends, so it arcs above the row going forwards and below it going backwards
 * (peaking at 0.75 of this, past the boxes' edges but inside the row gap and block padding). */
const BEND = 48;

function bend(x1: number, y1: number, x2: number, y2: number): number {
  if (y1 !== y2 || x2 - x1 === MAP.gapX) return 0;
  return x2 > x1 ? -BEND : BEND;
}

function edgeLayout(edge: EdgeView, from: MapNode, to: MapNode): MapEdge {
  const x1 = from.x + from.w;
  const y1 = from.y + from.h / 2;
  const x2 = to.x;
  const y2 = to.y + to.h / 2;
  // Horizontal control points make the curve leave and enter its boxes sideways. A backward curve
  // (target left of source) keeps them short so it bulges at most ~0.3·gapX past its ends, inside the margins.
  const dx = x2 > x1 ? Math.max(MAP.gapX, (x2 - x1) / 2) : MAP.gapX;
  const dy = bend(x1, y1, x2, y2);
  const tone = edgeTone(edge);
  return {
    id: `${edge.source}->${edge.destination}`,
    source: edge.source,
    destination: edge.destination,
    path: `M ${x1} ${y1} C ${x1 + dx} ${y1 + dy}, ${x2 - dx} ${y2 + dy}, ${x2} ${y2}`,
    tone,
    colour: TONE_COLOURS[tone],
    dropped: tone === "red",
    label: String(edge.flowCount),
    // The curve's point at t = 0.5 is (P0 + 3·P1 + 3·P2 + P3) / 8.
    labelX: (x1 + x2) / 2,
    labelY: (y1 + y2) / 2 + 0.75 * dy,
  };
}

/** Namespaces stacked top to bottom as blocks of equal width, each with its services in rows of four. */
export function layoutServiceMap(edges: EdgeView[], flows: FlowView[]): ServiceMap {
  const groups = servicesByNamespace(edges, flows);
  const blockWidth = 2 * MAP.padding + Math.max(0, ...groups.map(([, s]) => gridWidth(s.length)));
  const blocks: MapBlock[] = [];
  const nodes = new Map<string, MapNode>();
  let y = MAP.margin;
  for (const [namespace, services] of groups) {
    const colour = namespaceColour(namespace);
    const h = MAP.header + 2 * MAP.padding + gridHeight(services.length);
    blocks.push({ namespace, x: MAP.margin, y, w: blockWidth, h, colour });
    services.forEach((service, i) => {
      const id = `${namespace}/${service}`;
      nodes.set(id, {
        id,
        namespace,
        service,
        label: truncateName(service, MAP.labelLength),
        x: MAP.margin + MAP.padding + (i % MAP.perRow) * (MAP.nodeWidth + MAP.gapX),
        y: y + MAP.header + MAP.padding + Math.floor(i / MAP.perRow) * (MAP.nodeHeight + MAP.gapY),
        w: MAP.nodeWidth,
        h: MAP.nodeHeight,
        colour,
      });
    });
    y += h + MAP.blockGap;
  }
  const contentHeight = groups.length ? y - MAP.blockGap + MAP.margin : 0;
  const laidOut = edges.flatMap((e) => {
    const from = nodes.get(e.source);
    const to = nodes.get(e.destination);
    return from && to ? [edgeLayout(e, from, to)] : [];
  });
  return {
    width: Math.max(MAP.minWidth, blockWidth + 2 * MAP.margin),
    height: Math.max(MAP.minHeight, contentHeight),
    blocks,
    nodes,
    edges: laidOut,
  };
}
