// Load analysis: one ScalingExperiment's KPIs, replica timeline, throughput, per-deployment
// results and replica events, its cluster's traffic and nodes now, and a form to start another.
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import {
  Area,
  AreaChart,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ReferenceArea,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { ApiError, type ExperimentView, type Schemas, type TestView, type TrafficView } from "../api/client";
import { NAMESPACE, useCreateExperiment } from "../api/mutations";
import { useCluster, useExperiment, useExperiments, usePresets, useSnapshot, useTests, useTraffic } from "../api/queries";
import { AXIS, GRID, LINE, MARGIN, refLabel, STEP_AREA, TOOLTIP } from "../components/chartTheme";
import { Table, type Column } from "../components/Table";
import { controlProps, FieldError, FormControl, INPUT } from "../components/FormControl";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading, Picker, Swatch, UsageBar } from "../components/ui";
import { Field, Stat } from "../components/values";
import {
  childLoadTest,
  DEFAULT_COOLDOWN_SECONDS,
  defaultExperiment,
  describeLoad,
  efficiency,
  experimentId,
  experimentLabel,
  experimentSpec,
  formatKpis,
  formFieldOf,
  isScalingPreset,
  parseExperimentId,
  phaseWindows,
  rpsMissingReason,
  sampleLag,
  SCALING_PRESETS,
  sortExperiments,
  timelineRows,
  totalDuration,
  type ExperimentForm,
  type FormField,
  type PhaseWindows,
  type SamplePhase,
  type TimelineRow,
} from "../lib/analysis";
import { clusterUsage } from "../lib/cluster";
import { bytes, clockTime, duration, latencyMs, PALETTE, preciseDuration, ratio, usageLevel, wholeSeconds } from "../lib/format";
import { DEFAULT_TARGET_URL } from "../lib/fields";

const LOAD_FILL = "#3b82f6";
const COOLDOWN_FILL = "#eab308";
const num = (v: number | null | undefined) => (v == null ? "—" : String(v));
const pct = (v: number | null | undefined) => (v == null ? "—" : `${v}%`);

type Phase = Schemas["ExperimentPhase"];
const PHASE_TONE: Record<Phase, "green" | "yellow" | "red" | "blue" | "slate"> = {
  Pending: "slate",
  Baseline: "slate",
  Loading: "blue",
  CoolingDown: "yellow",
  Completed: "green",
  Failed: "red",
};
const SAMPLE_TONE: Record<SamplePhase, "slate" | "blue" | "yellow"> = { Baseline: "slate", Load: "blue", Cooldown: "yellow" };

function LiveBadge() {
  return (
    <span className="inline-flex items-center gap-1 rounded bg-emerald-900/60 px-2 py-0.5 text-xs font-semibold text-emerald-200 ring-1 ring-emerald-700">
      <span aria-hidden className="h-2 w-2 rounded-full bg-emerald-400 motion-safe:animate-pulse" />
      LIVE
    </span>
  );
}

// ---------------------------------------------------------------------------------------------
// Selector


// ---------------------------------------------------------------------------------------------
// One experiment

function ExperimentHeader({ e }: { e: ExperimentView }) {
  const presets = usePresets();
  const presetCooldown = presets.data?.find((p) => p.kind === "experiment" && p.name === e.preset)?.cooldownSeconds;
  const cooldown =
    e.spec.cooldownSeconds != null
      ? `${e.spec.cooldownSeconds} s`
      : e.preset
        ? presetCooldown != null
          ? `${presetCooldown} s (the preset's)`
          : "the preset's"
        : `${DEFAULT_COOLDOWN_SECONDS} s (default)`;
  return (
    <Card>
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="text-lg font-semibold">{e.name}</h2>
        <span className="text-sm text-slate-400">{e.namespace}</span>
        <Badge tone={e.phase ? PHASE_TONE[e.phase] : "slate"}>{e.phase ?? "Pending"}</Badge>
        {e.reason && <Badge tone="red">{e.reason}</Badge>}
        {e.deleting && <Badge tone="yellow">Deleting</Badge>}
      </div>
      <dl className="mt-2 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2 xl:grid-cols-4">
        <Field label="Cluster">{e.cluster}</Field>
        <Field label="Load">{describeLoad(e.spec)}</Field>
        <Field label="Cooldown">
          {cooldown}
          {e.spec.endCooldownWhenBaselineRestored ? ", ends at baseline" : ""}
        </Field>
        <Field label="Started">{clockTime(e.startedAt)}</Field>
      </dl>
      {e.message && <p className={`mt-2 text-sm ${e.phase === "Failed" ? "text-red-300" : "text-slate-300"}`}>{e.message}</p>}
    </Card>
  );
}

function KpiGrid({ e, rpsMissing, now }: { e: ExperimentView; rpsMissing: string | null; now: number }) {
  const cards = formatKpis(e.kpis, { live: e.live, rpsMissing });
  const total = totalDuration(e, now);
  const all = [
    ...cards,
    {
      id: "totalDuration",
      label: "Total duration",
      value: total == null ? "—" : duration(total),
      detail: e.live ? "Sampling so far (still running)." : "From the start of sampling to the end.",
      missing: total == null ? "Sampling has not started." : null,
    },
  ];
  return (
    <section aria-labelledby="kpis-heading">
      <h2 id="kpis-heading" className="sr-only">
        Key results
      </h2>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3 2xl:grid-cols-6">
        {all.map((c) => (
          <Card key={c.id}>
            <h3 className="text-sm text-slate-300">{c.label}</h3>
            <p className="mt-1 text-2xl font-bold text-slate-100">{c.value}</p>
            <p className="mt-1 text-xs text-slate-400">{c.missing ?? c.detail}</p>
          </Card>
        ))}
      </div>
    </section>
  );
}

function PhaseAreas({ windows }: { windows: PhaseWindows }) {
  return (
    <>
      {windows.load && (
        <ReferenceArea
          x1={windows.load.from}
          x2={windows.load.to}
          fill={LOAD_FILL}
          fillOpacity={0.15}
          ifOverflow="extendDomain"
          label={refLabel(windows.load.open ? "load (running)" : "load", "insideTopLeft")}
        />
      )}
      {windows.cooldown && (
        <ReferenceArea
          x1={windows.cooldown.from}
          x2={windows.cooldown.to}
          fill={COOLDOWN_FILL}
          fillOpacity={0.08}
          ifOverflow="extendDomain"
          label={refLabel("cooldown", "insideTopLeft")}
        />
      )}
    </>
  );
}

const deploymentName = (e: ExperimentView, i: number) => {
  const d = e.deployments[i];
  return d ? `${d.namespace}/${d.name}` : `target ${i + 1}`;
};

function TimelineChart({ e, rows, windows }: { e: ExperimentView; rows: TimelineRow[]; windows: PhaseWindows }) {
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

function Throughput({
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
        <Stat label="Requests" value={num(results?.requests)} />
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

type DeploymentResult = ExperimentView["deployments"][number];
type ReplicaEvent = ExperimentView["events"][number];
type Edge = TrafficView["edges"][number];

/** Whether a target ended at or below its baseline replicas; null when either is unknown. */
const backAtBaseline = (d: DeploymentResult) => (d.finalReplicas != null && d.baselineReplicas != null ? d.finalReplicas <= d.baselineReplicas : null);

function DeploymentTable({ e }: { e: ExperimentView }) {
  const columns: Column<DeploymentResult>[] = [
    {
      header: "Deployment",
      cell: (d, i) => (
        <>
          <Swatch colour={PALETTE[i % PALETTE.length]} />
          {d.namespace}/{d.name}
        </>
      ),
    },
    { header: "HPA", cell: (d) => d.hpa ?? "—" },
    {
      header: "Replicas (baseline → peak → final)",
      cell: (d) => (
        <>
          {num(d.baselineReplicas)} → <span className="font-semibold">{num(d.peakReplicas)}</span> → {num(d.finalReplicas)}
        </>
      ),
    },
    {
      header: "CPU (baseline → peak → final)",
      cell: (d) => (
        <>
          {pct(d.baselineCpuPercent)} → <span className="font-semibold">{pct(d.peakCpuPercent)}</span> → {pct(d.finalCpuPercent)}
        </>
      ),
    },
    {
      header: "Back at baseline",
      cell: (d) => {
        const back = backAtBaseline(d);
        return back == null ? "unknown" : back ? "yes" : e.live ? "not yet" : "no";
      },
      className: (d) => {
        const back = backAtBaseline(d);
        return back == null ? "text-slate-400" : back ? "text-emerald-300" : "text-yellow-300";
      },
    },
  ];
  return (
    <Card>
      <h2 id="deployments-heading" className="mb-2 font-semibold">
        Per deployment
      </h2>
      {e.deployments.length === 0 ? (
        <Empty>{e.live ? "The targets are resolved when sampling starts." : "No target deployments were resolved."}</Empty>
      ) : (
        <Table labelledBy="deployments-heading" columns={columns} rows={e.deployments} rowKey={(d) => `${d.namespace}/${d.name}`} />
      )}
    </Card>
  );
}

function EventLog({ e, origin }: { e: ExperimentView; origin: number | null }) {
  const since = (t: string) => (origin == null ? null : (Date.parse(t) - origin) / 1000);
  const columns: Column<ReplicaEvent>[] = [
    {
      header: "Time",
      cell: (ev) => {
        const s = since(ev.time);
        return (
          <>
            {clockTime(ev.time)}
            {s != null && Number.isFinite(s) && <span className="text-slate-400"> (+{preciseDuration(s)})</span>}
          </>
        );
      },
    },
    { header: "Phase", cell: (ev) => <Badge tone={SAMPLE_TONE[ev.phase]}>{ev.phase}</Badge> },
    { header: "Deployment", cell: (ev) => `${ev.namespace}/${ev.deployment}` },
    {
      header: "Replicas",
      cell: (ev) => (
        <>
          {ev.fromReplicas} → <span className={ev.toReplicas > ev.fromReplicas ? "text-emerald-300" : "text-yellow-300"}>{ev.toReplicas}</span>
        </>
      ),
    },
    { header: "CPU", cell: (ev) => pct(ev.cpuPercent), numeric: true },
  ];
  return (
    <Card>
      <h2 id="events-heading" className="mb-2 font-semibold">
        HPA event log
      </h2>
      {e.events.length === 0 ? (
        <Empty>{e.live ? "No replica changes yet." : "No target changed its replicas during the experiment."}</Empty>
      ) : (
        <Table
          labelledBy="events-heading"
          scroll="both"
          columns={columns}
          rows={e.events}
          rowKey={(ev, i) => `${ev.time}-${ev.namespace}/${ev.deployment}-${i}`}
        />
      )}
    </Card>
  );
}

const EDGE_COLUMNS: Column<Edge>[] = [
  { header: "From", cell: (edge) => edge.source, className: "break-all" },
  { header: "To", cell: (edge) => edge.destination, className: "break-all" },
  { header: "Flows", cell: (edge) => edge.flowCount, numeric: true },
  { header: "Dropped", cell: (edge) => edge.droppedCount, numeric: true, className: (edge) => (edge.droppedCount > 0 ? "text-red-300" : "") },
  { header: "Protocols", cell: (edge) => edge.protocols.join(", ") },
];

function TrafficNow({ cluster }: { cluster: string }) {
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

function NodesNow({ cluster }: { cluster: string }) {
  const view = useCluster(cluster);
  const c = view.data;
  return (
    <Card>
      <h2 className="font-semibold">Infrastructure impact: {cluster} nodes now</h2>
      <p className="mb-2 text-xs text-slate-400">CPU and memory in use against allocatable, from the metrics API.</p>
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
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}

function StaleNotes({ e, receivedAt, refreshError }: { e: ExperimentView; receivedAt: number; refreshError: unknown }) {
  const snapshot = useSnapshot();
  const lag = sampleLag(e, receivedAt);
  const sourceErrors = (snapshot.data?.errors ?? []).filter((s) => s.cluster === e.cluster);
  return (
    <>
      <CouldNotRefresh error={refreshError} receivedAt={receivedAt} what="the experiment" />
      {(lag.stale || sourceErrors.length > 0) && (
        <div role="status" className="rounded border border-yellow-800 bg-yellow-950/50 p-3 text-sm text-yellow-100">
          {lag.stale && (
            <p>
              The newest sample is {duration(lag.seconds)} old although the experiment samples every {e.spec.sampleIntervalSeconds} s: the operator is
              not sampling {e.cluster}'s HPAs right now, so this is old.
            </p>
          )}
          {sourceErrors.map((s) => (
            <p key={`${s.source}-${s.since}`}>
              {e.cluster} {s.source} failing since {clockTime(s.since)}: {s.message}
            </p>
          ))}
        </div>
      )}
    </>
  );
}

function ExperimentDetail({ id, listed, listReceivedAt }: { id: { namespace: string; name: string }; listed: ExperimentView | undefined; listReceivedAt: number }) {
  const detail = useExperiment(id.namespace, id.name);
  const tests = useTests();
  const e = detail.data ?? listed;
  const rows = useMemo(() => (e ? timelineRows(e.samples, e.startedAt) : []), [e]);
  if (!e) {
    if (detail.isError) return <ErrorBox error={detail.error} />;
    return <Loading what={`experiment ${id.namespace}/${id.name}`} />;
  }
  const receivedAt = detail.data ? detail.dataUpdatedAt : listReceivedAt;
  const windows = phaseWindows(e);
  const test = childLoadTest(e, tests.data);
  const rpsMissing = rpsMissingReason(e, test, tests.isError && !tests.data ? [] : tests.data);
  return (
    <div className="space-y-4">
      <StaleNotes e={e} receivedAt={receivedAt} refreshError={detail.error} />
      <ExperimentHeader e={e} />
      <KpiGrid e={e} rpsMissing={rpsMissing} now={receivedAt} />
      <TimelineChart e={e} rows={rows} windows={windows} />
      {tests.isError && !tests.data && <ErrorBox error={tests.error} />}
      <Throughput e={e} rows={rows} windows={windows} test={test} rpsMissing={rpsMissing} />
      <div className="grid gap-4 2xl:grid-cols-2">
        <DeploymentTable e={e} />
        <EventLog e={e} origin={windows.origin} />
      </div>
      <div className="grid gap-4 xl:grid-cols-2">
        <TrafficNow cluster={e.cluster} />
        <NodesNow cluster={e.cluster} />
      </div>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// The start form

function StartExperiment({
  initialPreset,
  initialCluster,
  onCreated,
}: {
  initialPreset: string | null;
  initialCluster: string | null;
  onCreated: (e: ExperimentView) => void;
}) {
  const uid = useId();
  const ids = (f: FormField) => `${uid}-${f}`;
  const snapshot = useSnapshot();
  const presets = usePresets();
  const [form, setForm] = useState<ExperimentForm>({
    cluster: initialCluster ?? "",
    mode: "preset",
    preset: isScalingPreset(initialPreset) ? initialPreset : "scale-light",
    vus: "50",
    duration: "60s",
    targetUrl: DEFAULT_TARGET_URL,
    targets: "",
    cooldownSeconds: "",
    endCooldownWhenBaselineRestored: false,
  });
  const [errors, setErrors] = useState<Partial<Record<FormField, string>>>({});
  const create = useCreateExperiment();

  const clusters = (snapshot.data?.clusters ?? []).filter((c) => c.tier !== "platform").map((c) => c.name);
  const cluster = form.cluster || clusters[0] || "";
  const clusterOptions = cluster && !clusters.includes(cluster) ? [cluster, ...clusters] : clusters;
  const experimentPresets = (presets.data ?? []).filter((p) => p.kind === "experiment");
  const presetOptions = experimentPresets.length
    ? experimentPresets.map((p) => ({ name: p.name, label: `${p.name} (${p.tag})`, description: p.description, cooldown: p.cooldownSeconds ?? null }))
    : SCALING_PRESETS.map((name) => ({ name, label: name, description: null, cooldown: null }));
  const chosenPreset = presetOptions.find((p) => p.name === form.preset);
  const cooldownDefault = form.mode === "preset" ? (chosenPreset?.cooldown ?? null) : DEFAULT_COOLDOWN_SECONDS;

  const set = <K extends keyof ExperimentForm>(key: K, value: ExperimentForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    const result = experimentSpec({ ...form, cluster });
    if (!result.ok) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    create.mutate(result.spec, {
      onSuccess: onCreated,
      onError: (err) => {
        const field = err instanceof ApiError ? formFieldOf(err.field) : null;
        if (field) setErrors({ [field]: err.message });
      },
    });
  };

  return (
    <form onSubmit={submit} noValidate className="space-y-3" aria-label="Start experiment">
      <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
        <FormControl id={ids("cluster")} label="Cluster" error={errors.cluster} hint={snapshot.isError && !snapshot.data ? "Could not list clusters." : undefined}>
          {(props) => (
            <select {...props} value={cluster} onChange={(e) => set("cluster", e.target.value)} className={INPUT}>
              {clusterOptions.length === 0 && <option value="">{snapshot.isPending ? "Loading clusters…" : "No managed clusters"}</option>}
              {clusterOptions.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          )}
        </FormControl>
        <fieldset className="sm:col-span-1 xl:col-span-3">
          <legend className="text-sm text-slate-300">Load</legend>
          <div className="mt-1 flex gap-4 text-sm">
            <label className="flex items-center gap-1">
              <input type="radio" name={`${uid}-mode`} checked={form.mode === "preset"} onChange={() => set("mode", "preset")} /> Preset
            </label>
            <label className="flex items-center gap-1">
              <input type="radio" name={`${uid}-mode`} checked={form.mode === "custom"} onChange={() => set("mode", "custom")} /> Custom HTTP load
            </label>
          </div>
        </fieldset>
      </div>

      {form.mode === "preset" ? (
        <FormControl id={ids("preset")} label="Scaling preset" error={errors.preset} hint={chosenPreset?.description ?? undefined}>
          {(props) => (
            <select {...props} value={form.preset} onChange={(e) => set("preset", e.target.value)} className={INPUT}>
              {presetOptions.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.label}
                </option>
              ))}
            </select>
          )}
        </FormControl>
      ) : (
        <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
          <FormControl id={ids("vus")} label="Virtual users" error={errors.vus} hint="1 to 1000; empty: 50.">
            {(props) => <input {...props} inputMode="numeric" value={form.vus} onChange={(e) => set("vus", e.target.value)} className={INPUT} />}
          </FormControl>
          <FormControl id={ids("duration")} label="Duration" error={errors.duration} hint="e.g. 30s, 5m, 1h30m; empty: 30s.">
            {(props) => <input {...props} value={form.duration} onChange={(e) => set("duration", e.target.value)} className={INPUT} />}
          </FormControl>
          <div className="sm:col-span-2">
            <FormControl id={ids("targetUrl")} label="Target URL" error={errors.targetUrl} hint="Empty: nginx-web in demo.">
              {(props) => <input {...props} type="url" value={form.targetUrl} onChange={(e) => set("targetUrl", e.target.value)} className={INPUT} />}
            </FormControl>
          </div>
        </div>
      )}

      <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
        <div className="sm:col-span-2">
          <FormControl
            id={ids("targets")}
            label="Target deployments (namespace/deployment)"
            error={errors.targets}
            hint={form.mode === "preset" ? "Empty: the preset's targets." : "Empty: every HPA in namespace demo."}
          >
            {(props) => (
              <input {...props} value={form.targets} placeholder="demo/nginx-web, demo/httpbin" onChange={(e) => set("targets", e.target.value)} className={INPUT} />
            )}
          </FormControl>
        </div>
        <FormControl
          id={ids("cooldownSeconds")}
          label="Cooldown (seconds)"
          error={errors.cooldownSeconds}
          hint={cooldownDefault != null ? `0 to 3600; empty: ${cooldownDefault} s.` : "0 to 3600; empty: the preset's cooldown."}
        >
          {(props) => <input {...props} inputMode="numeric" value={form.cooldownSeconds} onChange={(e) => set("cooldownSeconds", e.target.value)} className={INPUT} />}
        </FormControl>
        <div className="flex flex-col justify-end">
          <label className="flex items-center gap-2 text-sm text-slate-300">
            <input
              type="checkbox"
              checked={form.endCooldownWhenBaselineRestored}
              onChange={(e) => set("endCooldownWhenBaselineRestored", e.target.checked)}
              {...controlProps(ids("endCooldown"), errors.endCooldown)}
            />
            End the cooldown once every target is back at baseline
          </label>
          <FieldError id={ids("endCooldown")} error={errors.endCooldown} />
        </div>
      </div>

      {create.isError && <ErrorBox error={create.error} />}
      <div className="flex items-center gap-3">
        <button
          type="submit"
          disabled={create.isPending || !cluster}
          className="rounded bg-blue-600 px-4 py-2 font-medium text-white hover:bg-blue-500 disabled:cursor-not-allowed disabled:opacity-60"
        >
          {create.isPending ? "Starting…" : "Start experiment"}
        </button>
        <span className="text-xs text-slate-400">Created in namespace {NAMESPACE}; the load runs in {cluster || "the chosen cluster"}.</span>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// The page

export function Analysis() {
  const [params, setParams] = useSearchParams();
  const experiments = useExperiments();
  const sorted = useMemo(() => sortExperiments(experiments.data ?? []), [experiments.data]);
  const chosen = params.get("experiment") ?? "";
  const fallback = defaultExperiment(sorted);
  const fallbackId = fallback ? experimentId(fallback) : "";
  const prefill = params.has("preset") || params.has("cluster");
  const [formOpen, setFormOpen] = useState(prefill);

  useEffect(() => {
    if (chosen || !fallbackId) return;
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        next.set("experiment", fallbackId);
        return next;
      },
      { replace: true },
    );
  }, [chosen, fallbackId, setParams]);

  const select = (id: string) =>
    setParams((prev) => {
      const next = new URLSearchParams(prev);
      next.set("experiment", id);
      return next;
    });
  const created = (e: ExperimentView) => {
    setFormOpen(false);
    setParams({ experiment: experimentId(e) });
  };

  const id = parseExperimentId(chosen);
  const empty = experiments.data !== undefined && sorted.length === 0;
  const showForm = formOpen || empty;

  let body: ReactNode;
  if (chosen && !id) body = <ErrorBox error={`"${chosen}" is not namespace/name.`} />;
  else if (id) body = <ExperimentDetail key={chosen} id={id} listed={sorted.find((e) => experimentId(e) === chosen)} listReceivedAt={experiments.dataUpdatedAt} />;
  else if (experiments.isPending) body = <Loading what="experiments" />;
  else if (experiments.isError && !experiments.data) body = <ErrorBox error={experiments.error} />;
  else if (empty) body = <Empty>No experiments yet: start one below, or apply a ScalingExperiment (manifests/examples/scalingexperiment-*.yaml).</Empty>;
  else body = null;

  const selected = sorted.find((e) => experimentId(e) === chosen);
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-4">
        <h1 className="text-xl font-semibold">Load analysis</h1>
        {sorted.length > 0 && (
          <Picker
            id="analysis-experiment"
            label="Experiment"
            placeholder="Choose an experiment"
            value={chosen}
            choices={sorted.map((e) => ({ value: experimentId(e), label: `${experimentLabel(e, experiments.dataUpdatedAt)}${e.live ? " (live)" : ""}` }))}
            onChange={select}
          />
        )}
        {selected?.live && !selected.deleting && <LiveBadge />}
        {!empty && (
          <button
            type="button"
            aria-expanded={showForm}
            aria-controls="start-experiment"
            onClick={() => setFormOpen(!formOpen)}
            className="ml-auto rounded border border-blue-700 px-3 py-1 text-sm text-blue-200 hover:bg-blue-950"
          >
            {showForm ? "Hide the start form" : "Start experiment"}
          </button>
        )}
      </div>
      {experiments.data && <CouldNotRefresh error={experiments.error} receivedAt={experiments.dataUpdatedAt} what="the list" />}
      {showForm && (
        <Card>
          <div id="start-experiment">
            <h2 className="mb-2 font-semibold">Start experiment</h2>
            <StartExperiment initialPreset={params.get("preset")} initialCluster={params.get("cluster")} onCreated={created} />
          </div>
        </Card>
      )}
      {body}
    </div>
  );
}
