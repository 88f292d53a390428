// HPAs of one cluster: where each stands now, replicas and CPU over the last 30 minutes.
import { memo, useEffect, useMemo } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { Area, AreaChart, CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { get, type ClusterView, type ScalingHistory, type Schemas } from "../api/client";
import { useScaling, useSnapshot } from "../api/queries";
import { AXIS, GRID, LINE, MARGIN, refLabel, STEP_AREA, TOOLTIP } from "../components/chartTheme";
import { Table, type Column } from "../components/Table";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading, Picker, Swatch } from "../components/ui";
import { clockTime, duration, percent } from "../lib/format";
import {
  candidateClusters,
  firstWithHpas,
  hpaBadge,
  hpaId,
  latest,
  progress,
  sampleLag,
  seriesKey,
  toCpuSeries,
  toReplicaSeries,
  type HpaSample,
  type Row,
  type Series,
} from "../lib/scaling";

type SourceError = Schemas["SourceError"];

/** The default cluster when the URL names none: the first with HPAs (managed clusters in the
 * snapshot's order, the platform last), asked one at a time through the shared ["scaling", name]
 * cache, so the usual case costs one request and the chosen cluster renders from cache. Polls
 * again every 30 s while no cluster has any. */
function useDefaultCluster(clusters: ClusterView[] | undefined, enabled: boolean) {
  const client = useQueryClient();
  const candidates = clusters ? candidateClusters(clusters) : [];
  return useQuery({
    queryKey: ["scaling-default", candidates],
    queryFn: () =>
      firstWithHpas(candidates, (name) =>
        client.fetchQuery({
          queryKey: ["scaling", name],
          queryFn: () => get<ScalingHistory>(`/clusters/${encodeURIComponent(name)}/scaling`),
          staleTime: 10_000,
        }),
      ),
    enabled: enabled && clusters !== undefined,
    refetchInterval: (q) => (q.state.data && q.state.data.cluster === null ? 30_000 : false),
  });
}

function HpaCard({ hpa, colour }: { hpa: HpaSample; colour: string }) {
  const badge = hpaBadge(hpa);
  const id = hpaId(hpa);
  return (
    <Card>
      <div className="flex items-start gap-2">
        <div className="min-w-0">
          <h3 className="truncate font-medium" title={id}>
            {id}
          </h3>
          <p className="truncate text-xs text-slate-400">{hpa.target}</p>
        </div>
        <span className="ml-auto">
          <Badge tone={badge.tone}>{badge.label}</Badge>
        </span>
      </div>
      <p className="mt-2">
        <span className="text-3xl font-bold" style={{ color: colour }}>
          {hpa.currentReplicas}
        </span>
        <span className="text-slate-300"> / {hpa.maxReplicas}</span>
        {hpa.desiredReplicas !== hpa.currentReplicas && <span className="ml-2 text-yellow-300">→ {hpa.desiredReplicas}</span>}
        <span className="sr-only"> replicas</span>
      </p>
      <div
        role="meter"
        aria-label={`${id} replicas between min and max`}
        aria-valuemin={hpa.minReplicas}
        aria-valuemax={hpa.maxReplicas}
        aria-valuenow={Math.min(hpa.maxReplicas, Math.max(hpa.minReplicas, hpa.currentReplicas))}
        aria-valuetext={`${hpa.currentReplicas} replicas (min ${hpa.minReplicas}, max ${hpa.maxReplicas})`}
        className="mt-2 h-2 rounded bg-slate-800"
      >
        <div className="h-2 rounded" style={{ width: `${progress(hpa)}%`, backgroundColor: colour }} />
      </div>
      <div className="mt-1 flex justify-between text-xs text-slate-400">
        <span>min {hpa.minReplicas}</span>
        <span>
          CPU {percent(hpa.currentCpuPercent)} / {hpa.targetCpuPercent == null ? "no CPU target" : `target ${hpa.targetCpuPercent}%`}
        </span>
      </div>
    </Card>
  );
}

/** A value accessor for a series (its key contains "/" and maybe ".", which a string dataKey would read as a path). */
const column = (key: string) => (row: Row) => row[key];

/** Labels only the first reference line at each height, so equal limits do not print on top of each other. */
function firstAtEachHeight(series: Series[], value: (s: Series) => number | null): Set<string> {
  const seen = new Set<number>();
  const first = new Set<string>();
  for (const s of series) {
    const v = value(s);
    if (v == null || seen.has(v)) continue;
    seen.add(v);
    first.add(s.key);
  }
  return first;
}

const legendName = (s: Series) => (s.present ? s.key : `${s.key} (deleted)`);

// Charts are memoized and their series computed once per history: a page re-render (an event,
// a snapshot refresh) does not recompute 30 minutes of samples.
const ReplicaChart = memo(function ReplicaChart({ series, rows }: { series: Series[]; rows: Row[] }) {
  const labelled = firstAtEachHeight(series, (s) => s.max);
  return (
    <Card>
      <h2 className="mb-2 font-semibold">Replicas over time</h2>
      <figure aria-label={`Replicas of ${series.map((s) => s.key).join(", ")} over the last ${rows.length} samples, with each HPA's max as a dashed line`}>
        <ResponsiveContainer width="100%" height={300}>
          <AreaChart data={rows} margin={MARGIN}>
            <CartesianGrid stroke={GRID} />
            <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={clockTime} stroke={AXIS} />
            <YAxis allowDecimals={false} stroke={AXIS} />
            <Tooltip labelFormatter={(t) => clockTime(Number(t))} {...TOOLTIP} />
            <Legend />
            {series.map((s) => (
              <Area
                key={s.key}
                name={legendName(s)}
                dataKey={column(s.key)}
                stroke={s.colour}
                fill={s.colour}
                {...STEP_AREA}
              />
            ))}
            {series.map((s) => (
              <ReferenceLine
                key={`max-${s.key}`}
                y={s.max}
                stroke={s.colour}
                strokeDasharray="6 4"
                ifOverflow="extendDomain"
                label={labelled.has(s.key) ? refLabel(`max ${s.max}`, "insideTopRight") : undefined}
              />
            ))}
          </AreaChart>
        </ResponsiveContainer>
      </figure>
    </Card>
  );
});

const CpuChart = memo(function CpuChart({ history }: { history: ScalingHistory }) {
  const { series, rows, unreported, yMax } = useMemo(() => toCpuSeries(history.points), [history.points]);
  const labelled = firstAtEachHeight(series, (s) => s.target);
  const reported = series.filter((s) => !unreported.includes(s.key));
  return (
    <Card>
      <h2 className="mb-2 font-semibold">CPU vs target</h2>
      {reported.length === 0 ? (
        <Empty>No HPA reported CPU utilisation in this history: the metrics API is missing, or they scale on other metrics.</Empty>
      ) : (
        <figure aria-label={`CPU utilisation of ${reported.map((s) => s.key).join(", ")} in percent of requests, with each target as a dashed line`}>
          <ResponsiveContainer width="100%" height={250}>
            <LineChart data={rows} margin={MARGIN}>
              <CartesianGrid stroke={GRID} />
              <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={clockTime} stroke={AXIS} />
              <YAxis domain={[0, yMax]} tickFormatter={(v: number) => `${v}%`} stroke={AXIS} />
              <Tooltip labelFormatter={(t) => clockTime(Number(t))} formatter={(v) => percent(typeof v === "number" ? v : null)} {...TOOLTIP} />
              <Legend />
              {reported.map((s) => (
                <Line key={s.key} name={legendName(s)} dataKey={column(s.key)} stroke={s.colour} {...LINE} />
              ))}
              {series.map((s) =>
                s.target == null ? null : (
                  <ReferenceLine
                    key={`target-${s.key}`}
                    y={s.target}
                    stroke={s.colour}
                    strokeDasharray="6 4"
                    label={labelled.has(s.key) ? refLabel(`target ${s.target}%`, "insideTopRight") : undefined}
                  />
                ),
              )}
            </LineChart>
          </ResponsiveContainer>
        </figure>
      )}
      {reported.length > 0 && unreported.length > 0 && (
        <p className="mt-2 text-xs text-slate-400">CPU utilisation unknown (never reported) for {unreported.join(", ")}.</p>
      )}
    </Card>
  );
});

function ConfigTable({ hpas, colours }: { hpas: HpaSample[]; colours: Map<string, string> }) {
  const columns: Column<HpaSample>[] = [
    {
      header: "HPA",
      cell: (h) => (
        <>
          <Swatch colour={colours.get(seriesKey(h))} />
          {hpaId(h)}
        </>
      ),
    },
    { header: "Target", cell: (h) => h.target },
    { header: "Min", cell: (h) => h.minReplicas, numeric: true },
    { header: "Max", cell: (h) => h.maxReplicas, numeric: true },
    { header: "Target CPU", cell: (h) => (h.targetCpuPercent == null ? "none" : `${h.targetCpuPercent}%`), numeric: true },
    { header: "Current", cell: (h) => h.currentReplicas, numeric: true },
    { header: "Desired", cell: (h) => h.desiredReplicas, numeric: true, className: (h) => (h.desiredReplicas !== h.currentReplicas ? "text-yellow-300" : "") },
  ];
  return (
    <Card>
      <h2 id="hpa-config" className="mb-2 font-semibold">
        Configuration
      </h2>
      <Table labelledBy="hpa-config" columns={columns} rows={hpas} rowKey={hpaId} />
    </Card>
  );
}

function StaleNotes({ history, receivedAt, hpaErrors }: { history: ScalingHistory; receivedAt: number; hpaErrors: SourceError[] }) {
  const lag = sampleLag(history, receivedAt);
  if (!lag.stale && hpaErrors.length === 0) return null;
  const last = latest(history);
  return (
    <div role="status" className="rounded border border-yellow-800 bg-yellow-950/50 p-3 text-sm text-yellow-100">
      {lag.stale && last && (
        <p>
          The newest sample is from {clockTime(last.timestamp)}, {duration(lag.seconds)} before it was received: the
          operator has stopped sampling this cluster's HPAs, so this is old.
        </p>
      )}
      {hpaErrors.map((e) => (
        <p key={`${e.source}-${e.since}`}>
          Watching HorizontalPodAutoscalers fails since {clockTime(e.since)}: {e.message}. Samples repeat the last known state.
        </p>
      ))}
    </div>
  );
}

function ScalingView({ cluster, sourceErrors }: { cluster: string; sourceErrors: SourceError[] }) {
  const scaling = useScaling(cluster);
  const points = scaling.data?.points;
  const replicas = useMemo(() => toReplicaSeries(points ?? []), [points]);
  if (scaling.isPending) return <Loading what={`scaling data of ${cluster}`} />;
  if (scaling.isError && !scaling.data) return <ErrorBox error={scaling.error} />;
  const history = scaling.data;
  if (!history) return null;
  const point = latest(history);
  const { series } = replicas;
  const colours = new Map(series.map((s) => [s.key, s.colour]));
  const hpaErrors = sourceErrors.filter((e) => e.cluster === cluster && e.source === "horizontalpodautoscalers");
  return (
    <div className="space-y-4">
      <CouldNotRefresh error={scaling.error} receivedAt={scaling.dataUpdatedAt} />
      <StaleNotes history={history} receivedAt={scaling.dataUpdatedAt} hpaErrors={hpaErrors} />
      {!point ? (
        <Empty>No samples of {cluster} yet: the operator samples its HPAs every {history.intervalSeconds} s once their watch is ready.</Empty>
      ) : point.hpas.length === 0 ? (
        <Empty>
          No HorizontalPodAutoscalers in {cluster}.
          <span className="mt-1 block text-xs">Scaling data is sampled every {history.intervalSeconds} s.</span>
        </Empty>
      ) : (
        <section aria-labelledby="hpa-now">
          <h2 id="hpa-now" className="sr-only">
            HorizontalPodAutoscalers now
          </h2>
          <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-4">
            {point.hpas.map((h) => (
              <HpaCard key={hpaId(h)} hpa={h} colour={colours.get(seriesKey(h)) ?? "#3b82f6"} />
            ))}
          </div>
        </section>
      )}
      {series.length > 0 && (
        <>
          <ReplicaChart {...replicas} />
          <CpuChart history={history} />
        </>
      )}
      {point && point.hpas.length > 0 && <ConfigTable hpas={point.hpas} colours={colours} />}
    </div>
  );
}

function NoClusterChosen({ clusters, search }: { clusters: ClusterView[] | undefined; search: ReturnType<typeof useDefaultCluster> }) {
  if (clusters && clusters.length === 0) return <Empty>No clusters yet: apply a ManagedCluster, or start the lab with scripts/lab up.</Empty>;
  if (search.isError && !search.data) return <ErrorBox error={search.error} />;
  const found = search.data;
  if (!found || found.cluster) return <Loading what="a cluster with HPAs" />;
  return (
    <div className="space-y-2">
      <Empty>
        No cluster has HorizontalPodAutoscalers{clusters ? ` (looked in ${candidateClusters(clusters).join(", ")})` : ""}. Choose a cluster
        above to see its history.
      </Empty>
      {found.failed.length > 0 && (
        <p role="status" className="text-sm text-yellow-200">
          Could not ask {found.failed.map((f) => f.cluster).join(", ")}: they may have some.
        </p>
      )}
    </div>
  );
}

export function Scaling() {
  const [params, setParams] = useSearchParams();
  const chosen = params.get("cluster") ?? "";
  const snapshot = useSnapshot();
  const clusters = snapshot.data?.clusters;
  const search = useDefaultCluster(clusters, !chosen);
  const found = search.data?.cluster;

  useEffect(() => {
    if (!chosen && found) setParams({ cluster: found }, { replace: true });
  }, [chosen, found, setParams]);

  const header = (
    <div className="flex flex-wrap items-center gap-4">
      <h1 className="text-xl font-semibold">Scaling</h1>
      {(clusters || chosen) && (
        <Picker id="scaling-cluster" label="Cluster" placeholder="Choose a cluster" value={chosen} choices={clusters?.map((c) => ({ value: c.name, label: c.name })) ?? []} onChange={(name) => setParams({ cluster: name })} />
      )}
    </div>
  );

  let body;
  if (chosen) body = <ScalingView cluster={chosen} sourceErrors={snapshot.data?.errors ?? []} />;
  else if (snapshot.isPending) body = <Loading what="clusters" />;
  else if (snapshot.isError && !clusters) body = <ErrorBox error={snapshot.error} />;
  else body = <NoClusterChosen clusters={clusters} search={search} />;

  return (
    <div className="space-y-4">
      {header}
      {body}
    </div>
  );
}
