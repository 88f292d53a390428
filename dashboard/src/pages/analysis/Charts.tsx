// The experiment's charts: replicas over time with the load and cooldown shaded, and the load's
// throughput against the pods serving it.
import { Area, AreaChart, CartesianGrid, ComposedChart, Legend, Line, ReferenceArea, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ExperimentView, TestView } from "../../api/client";
import { AXIS, GRID, LINE, MARGIN, refLabel, STEP_AREA, TOOLTIP } from "../../components/chartTheme";
import { Card, Empty } from "../../components/ui";
import { Stat } from "../../components/values";
import { efficiency, type PhaseWindows, type TimelineRow, type Window as PhaseWindow } from "../../lib/analysis";
import { clockTime, count, latencyMs, PALETTE, ratio, wholeSeconds } from "../../lib/format";

/** One shaded phase window, labelled at its top left. */
function PhaseArea({ window, fill, opacity, label }: { window: PhaseWindow; fill: string; opacity: number; label: string }) {
  return <ReferenceArea x1={window.from} x2={window.to} fill={fill} fillOpacity={opacity} ifOverflow="extendDomain" label={refLabel(label, "insideTopLeft")} />;
}

// The load is the window to read, so it is shaded more than the cooldown.
function PhaseAreas({ windows }: { windows: PhaseWindows }) {
  return (
    <>
      {windows.load && <PhaseArea window={windows.load} fill="#3b82f6" opacity={0.15} label={windows.load.open ? "load (running)" : "load"} />}
      {windows.cooldown && <PhaseArea window={windows.cooldown} fill="#eab308" opacity={0.08} label="cooldown" />}
    </>
  );
}

const deploymentName = (e: ExperimentView, i: number) => {
  const d = e.deployments[i];
  return d ? `${d.namespace}/${d.name}` : `target ${i + 1}`;
};

export function TimelineChart({ e, rows, windows }: { e: ExperimentView; rows: TimelineRow[]; windows: PhaseWindows }) {
  const columns = Math.max(e.deployments.length, ...rows.map((r) => r.replicas.length));
  const names = Array.from({ length: columns }, (_, i) => deploymentName(e, i));
  return (
    <Card>
      <h2 className="mb-2 font-semibold">Scaling timeline</h2>
      {rows.length === 0 ? (
        <Empty>{e.live ? "No samples yet: sampling starts in the Baseline phase." : "No samples were taken."}</Empty>
      ) : (
        <>
          <figure
            aria-label={`Replicas of ${names.join(", ")} over ${Math.round(rows[rows.length - 1]?.t ?? 0)} seconds since the start, with the load window shaded blue and the cooldown shaded yellow`}
          >
            <ResponsiveContainer width="100%" height={280}>
              <AreaChart data={rows} margin={MARGIN}>
                <CartesianGrid stroke={GRID} />
                <XAxis dataKey="t" type="number" domain={[0, "dataMax"]} tickFormatter={wholeSeconds} stroke={AXIS} />
                <YAxis allowDecimals={false} stroke={AXIS} />
                <Tooltip labelFormatter={(t) => `${wholeSeconds(Number(t))} since start`} {...TOOLTIP} />
                <Legend />
                <PhaseAreas windows={windows} />
                {names.map((name, i) => (
                  <Area
                    key={name}
                    name={name}
                    dataKey={(r: TimelineRow) => r.replicas[i] ?? null}
                    stroke={PALETTE[i % PALETTE.length]}
                    fill={PALETTE[i % PALETTE.length]}
                    {...STEP_AREA}
                  />
                ))}
              </AreaChart>
            </ResponsiveContainer>
          </figure>
          <p className="mt-1 text-xs text-slate-400">
            Seconds since sampling started. <span className="text-blue-300">Blue</span>: the load ({clockTime(e.loadStartedAt)} to{" "}
            {e.loadEndedAt ? clockTime(e.loadEndedAt) : "now"}); <span className="text-yellow-300">yellow</span>: the cooldown.
            {e.live ? "" : " A finished experiment's series is downsampled (at most 240 points, replica changes kept)."}
          </p>
        </>
      )}
    </Card>
  );
}

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
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 xl:grid-cols-6">
        <Stat label="Load RPS (k6 average)" value={rps == null ? "—" : `${rps.toFixed(1)} req/s`} />
        <Stat label="Mean replicas during load" value={eff.meanReplicas == null ? "—" : eff.meanReplicas.toFixed(1)} />
        <Stat label="RPS per pod" value={perPod == null ? "—" : `${perPod.toFixed(1)} req/s`} />
        <Stat label="Requests" value={count(results?.requests)} />
        <Stat label="p95 latency" value={latencyMs(results?.latencyMs?.p95)} />
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
