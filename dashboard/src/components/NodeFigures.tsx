// A node's disk and network from node-exporter or the kubelet Summary API (NodeView.figures): a
// disk gauge and RX/TX sparklines of the last 30 minutes, or why there are none.
import type { NodeView } from "../api/client";
import { bytes, clockTime, usageLevel } from "../lib/format";
import { rateSummary, sparklinePath } from "../lib/sparkline";
import { UsageBar } from "./ui";

const WIDTH = 120;
const HEIGHT = 24;

const used = (d: { usedBytes: number; totalBytes: number }): number | null => (d.totalBytes > 0 ? (d.usedBytes / d.totalBytes) * 100 : null);

/** The root file system's use as a gauge, or "unknown" without its series. */
export function NodeDisk({ node }: { node: NodeView }) {
  const d = node.figures?.disk;
  return (
    <UsageBar
      label={`${node.name} disk ${d?.mount ?? "/"}`}
      value={d ? used(d) : null}
      level={d ? usageLevel(used(d)) : null}
      detail={d ? `${bytes(d.usedBytes)} / ${bytes(d.totalBytes)}` : undefined}
    />
  );
}

function Sparkline({ label, values, colour }: { label: string; values: (number | null | undefined)[]; colour: string }) {
  return (
    <svg role="img" aria-label={`${label}: ${rateSummary(values)}`} width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="rounded bg-slate-800">
      <path d={sparklinePath(values, WIDTH, HEIGHT)} fill="none" stroke={colour} strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

const rate = (v: number | null | undefined): string => (v == null ? "—" : `${bytes(v)}/s`);

/** Disk and network of one node, with where they come from, or why there are none. */
export function NodeFigures({ node }: { node: NodeView }) {
  const f = node.figures;
  if (!f) return <p className="text-xs text-slate-400">Disk and network: {node.figuresMissing ?? "not collected"}</p>;
  const history = f.networkHistory;
  return (
    <div className="space-y-2" aria-label={`Disk and network of ${node.name}`} role="group">
      <NodeDisk node={node} />
      <div className="grid grid-cols-[auto_1fr] items-center gap-x-2 gap-y-1 text-xs text-slate-300">
        <Sparkline label={`${node.name} received, last 30 minutes`} values={history.map((p) => p.rxBytesPerSecond)} colour="#60a5fa" />
        <span>RX {rate(f.network.rxBytesPerSecond)}</span>
        <Sparkline label={`${node.name} sent, last 30 minutes`} values={history.map((p) => p.txBytesPerSecond)} colour="#c084fc" />
        <span>TX {rate(f.network.txBytesPerSecond)}</span>
      </div>
      <p className="text-xs text-slate-400">
        {f.source}, read {clockTime(f.collectedAt)}
      </p>
    </div>
  );
}
