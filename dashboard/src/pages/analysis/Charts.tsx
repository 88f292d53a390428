// The load's throughput against the pods serving it, and the per-deployment bars (the timeline
// is components/LoadTimeline).
import { Area, Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ExperimentView, TestView } from "../../api/client";
import { AXIS, GRID, LINE, MARGIN, refLabel, STEP_AREA, TOOLTIP } from "../../components/chartTheme";
import { Card, Empty } from "../../components/ui";
import { Stat } from "../../components/values";
import { efficiency, type PhaseWindows, type TimelineRow } from "../../lib/analysis";
import { count, latencyMs, preciseDuration, ratio, wholeSeconds } from "../../lib/format";

export function Throughput({
  e,
  rows,
  windows,
  test,
  rpsMissing,
}: {
  e: ExperimentView;
  rows: TimelineRow[];
  windows: PhaseWindows;
  test: TestView | undefined;
  rpsMissing: string | null;
}) {
  const results = test?.results;
  const rps = results?.rps ?? null;
  const eff = efficiency(rps, rows, windows.load);
  const perPod = e.kpis?.avgRpsPerPod ?? eff.rpsPerPod;
  return (
    <Card>
      <h2 className="mb-2 font-semibold">Throughput vs pods</h2>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4" aria-label="Load results">
        <Stat label="Load RPS (k6 average)" value={rps == null ? "—" : `${rps.toFixed(1)} req/s`} />
        <Stat label="Mean replicas during load" value={eff.meanReplicas == null ? "—" : eff.meanReplicas.toFixed(1)} />
        <Stat label="RPS per pod" value={perPod == null ? "—" : `${perPod.toFixed(1)} req/s`} />
        <Stat label="Total requests" value={count(results?.requests)} />
        <Stat label="p95 latency" value={latencyMs(results?.latencyMs?.p95)} />
        <Stat label="p99 latency" value={latencyMs(results?.latencyMs?.p99)} />
        <Stat label="Avg latency" value={latencyMs(results?.latencyMs?.avg)} />
        <Stat label="Error rate" value={ratio(results?.errorRate)} />
      </dl>
      {rpsMissing && <p className="mt-2 text-sm text-slate-300">No requests per second: {rpsMissing}</p>}
      {test && (
        <p className="mt-1 text-xs text-slate-400">
          From LoadTest {test.namespace}/{test.name} ({test.phase ?? "Pending"}). k6 gives one average over the whole run, so the per-pod line shows how that
          load spreads over the replicas of each sample.
        </p>
      )}
      {eff.points.length === 0 ? (
        <div className="mt-3">
          <Empty>{windows.load ? "No samples with replica data during the load yet." : "The load has not started, so there is nothing to compare."}</Empty>
        </div>
      ) : (
        <figure
          className="mt-3"
          aria-label={`Summed replicas during the load${rps == null ? "" : " and the load's requests per second per pod"}, by seconds since the start`}
        >
          <ResponsiveContainer width="100%" height={240}>
            <ComposedChart data={eff.points} margin={MARGIN}>
              <CartesianGrid stroke={GRID} />
              <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} tickFormatter={wholeSeconds} stroke={AXIS} />
              <YAxis yAxisId="pods" allowDecimals={false} stroke={AXIS} />
              {rps != null && <YAxis yAxisId="rps" orientation="right" stroke={AXIS} tickFormatter={(v: number) => v.toFixed(0)} />}
              <Tooltip labelFormatter={(t) => `${wholeSeconds(Number(t))} since start`} {...TOOLTIP} />
              <Legend />
              <Area yAxisId="pods" name="Replicas (all targets)" dataKey="replicas" stroke="#06b6d4" fill="#06b6d4" {...STEP_AREA} />
              {rps != null && (
                <Line yAxisId="rps" name="req/s per pod" dataKey="rpsPerPod" type="stepAfter" stroke="#22c55e" {...LINE} />
              )}
              {rps != null && perPod != null && (
                <ReferenceLine
                  yAxisId="rps"
                  y={perPod}
                  stroke="#22c55e"
                  strokeDasharray="6 4"
                  label={refLabel(`mean ${perPod.toFixed(1)}`, "insideTopRight")}
                />
              )}
            </ComposedChart>
          </ResponsiveContainer>
        </figure>
      )}
    </Card>
  );
}

const BAR = { isAnimationActive: false } as const;
/** The replica bars, in this order in the legend and tooltip too (Recharts would sort by name). */
const REPLICA_BARS = ["baseline", "peak", "final"];
/** Bar tooltips name each bar in text colour: the bars' own colours are too dark to read there. */
const BAR_TOOLTIP = { ...TOOLTIP, itemStyle: { color: "#e2e8f0" }, cursor: { fill: GRID } };

/** Per target: baseline, peak and final replicas side by side, and how long each took to scale
 * up (only targets that did: a missing bar is not a zero; the table says why). */
export function DeploymentBars({ e }: { e: ExperimentView }) {
  const names = e.deployments.map((d) => `${d.namespace}/${d.name}`);
  const replicas = e.deployments.map((d, i) => ({ name: names[i], baseline: d.baselineReplicas ?? null, peak: d.peakReplicas ?? null, final: d.finalReplicas ?? null }));
  const scaled = e.deployments.flatMap((d, i) => (d.scaleUpLatencySeconds == null ? [] : [{ name: names[i] ?? "", seconds: d.scaleUpLatencySeconds }]));
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <figure aria-label={`Replicas per deployment: baseline, peak and final of ${names.join(", ")}`}>
        <figcaption className="mb-1 text-sm text-slate-300">Replicas: baseline, peak, final</figcaption>
        <ResponsiveContainer width="100%" height={200}>
          <BarChart data={replicas} margin={MARGIN}>
            <CartesianGrid stroke={GRID} />
            <XAxis dataKey="name" stroke={AXIS} />
            <YAxis allowDecimals={false} stroke={AXIS} />
            <Tooltip itemSorter={(item) => REPLICA_BARS.indexOf(String(item.dataKey))} {...BAR_TOOLTIP} />
            <Legend itemSorter={(item) => REPLICA_BARS.indexOf(String(item.dataKey))} />
            <Bar name="Baseline" dataKey="baseline" fill="#94a3b8" {...BAR} />
            <Bar name="Peak" dataKey="peak" fill="#3b82f6" {...BAR} />
            <Bar name="Final" dataKey="final" fill="#22c55e" {...BAR} />
          </BarChart>
        </ResponsiveContainer>
      </figure>
      <div>
        {scaled.length === 0 ? (
          <p className="text-sm text-slate-300">No scale-up latency bars: no target scaled above its baseline (the table says why for each).</p>
        ) : (
          <figure aria-label={`Scale-up latency per deployment of ${scaled.map((u) => u.name).join(", ")}, in seconds from the load's start`}>
            <figcaption className="mb-1 text-sm text-slate-300">Scale-up latency (seconds from the load's start)</figcaption>
            <ResponsiveContainer width="100%" height={200}>
              <BarChart data={scaled} margin={MARGIN}>
                <CartesianGrid stroke={GRID} />
                <XAxis dataKey="name" stroke={AXIS} />
                <YAxis stroke={AXIS} tickFormatter={wholeSeconds} />
                <Tooltip formatter={(v) => preciseDuration(Number(v))} {...BAR_TOOLTIP} />
                <Bar name="Scale-up latency" dataKey="seconds" fill="#a855f7" {...BAR} />
              </BarChart>
            </ResponsiveContainer>
          </figure>
        )}
      </div>
    </div>
  );
}
