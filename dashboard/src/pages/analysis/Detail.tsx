// One ScalingExperiment: its header, KPIs, charts, per-deployment results, replica events, and
// its cluster now.
import { useMemo } from "react";
import type { ExperimentView } from "../../api/client";
import { useExperiment, usePresets, useScaling, useSnapshot, useTestSeries, useTests } from "../../api/queries";
import { ComparisonPanel } from "../../components/ComparisonPanel";
import { LoadTimeline } from "../../components/LoadTimeline";
import { Table, type Column } from "../../components/Table";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading, Swatch } from "../../components/ui";
import { Field } from "../../components/values";
import {
  childLoadTest,
  DEFAULT_COOLDOWN_SECONDS,
  deploymentScaleUp,
  describeLoad,
  formatKpis,
  phaseWindows,
  PHASE_TONE,
  rpsMissingReason,
  sampleLag,
  timelineRows,
  totalDuration,
  type SamplePhase,
} from "../../lib/analysis";
import { clockTime, count, duration, PALETTE, preciseDuration } from "../../lib/format";
import { experimentTimeline } from "../../lib/timeline";
import { DeploymentBars, Throughput } from "./Charts";
import { NodesNow, TrafficNow } from "./ClusterNow";
import { NodeUsage } from "../../components/NodeUsage";

const pct = (v: number | null | undefined) => (v == null ? "—" : `${v}%`);

const SAMPLE_TONE: Record<SamplePhase, "slate" | "blue" | "yellow"> = { Baseline: "slate", Load: "blue", Cooldown: "yellow" };

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
      <ComparisonPanel run={e} regression={e.regression} comparison={e.comparison} compare kind="experiment" />
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

type DeploymentResult = ExperimentView["deployments"][number];
type ReplicaEvent = ExperimentView["events"][number];

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
          {count(d.baselineReplicas)} → <span className="font-semibold">{count(d.peakReplicas)}</span> → {count(d.finalReplicas)}
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
      header: "Scale-up latency",
      cell: (d) => {
        const up = deploymentScaleUp(d, e);
        return up.value ?? <span className="text-slate-400">none: {up.missing}</span>;
      },
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
        <div className="space-y-3">
          <DeploymentBars e={e} />
          <Table labelledBy="deployments-heading" columns={columns} rows={e.deployments} rowKey={(d) => `${d.namespace}/${d.name}`} />
        </div>
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

/** Why the measured series is missing while it is: no load test yet, its error, or loading. */
function seriesMissing(loadTest: string | null | undefined, error: unknown): string {
  if (!loadTest) return "the load test is created once two baseline samples exist.";
  if (error) return `the measured series could not be read: ${error instanceof Error ? error.message : String(error)}`;
  return "the measured series is loading.";
}

export function ExperimentDetail({ id, listed, listReceivedAt }: { id: { namespace: string; name: string }; listed: ExperimentView | undefined; listReceivedAt: number }) {
  const detail = useExperiment(id.namespace, id.name);
  const tests = useTests();
  const e = detail.data ?? listed;
  const series = useTestSeries(e?.namespace, e?.loadTest ?? undefined, Boolean(e?.live));
  const scaling = useScaling(e?.cluster);
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
      <LoadTimeline
        tl={experimentTimeline(e, series.data, scaling.data, seriesMissing(e.loadTest, series.error), receivedAt)}
        title={`${e.namespace}/${e.name} on ${e.cluster}`}
        fileName={`timeline-${e.name}`}
        empty={e.live ? "No samples yet: sampling starts in the Baseline phase." : "No samples were taken."}
      />
      {tests.isError && !tests.data && <ErrorBox error={tests.error} />}
      <Throughput e={e} rows={rows} windows={windows} test={test} rpsMissing={rpsMissing} />
      <div className="grid gap-4 2xl:grid-cols-2">
        <DeploymentTable e={e} />
        <EventLog e={e} origin={windows.origin} />
      </div>
      <Card>
        <h2 className="font-semibold">Infrastructure impact of the load</h2>
        <p className="text-xs text-slate-400">
          Node CPU and memory from the metrics API, recorded on the experiment's load test{e.loadTest ? ` ${e.loadTest}` : ""}.
        </p>
        {test ? (
          <NodeUsage record={test.nodeUsage} cluster={e.cluster} started={Boolean(test.startedAt)} />
        ) : (
          <Empty>No load test yet: the figures are recorded once the load starts.</Empty>
        )}
      </Card>
      <div className="grid gap-4 xl:grid-cols-2">
        <TrafficNow cluster={e.cluster} />
        <NodesNow cluster={e.cluster} />
      </div>
    </div>
  );
}
