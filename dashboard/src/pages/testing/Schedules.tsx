// TestSchedules on the Testing page: each schedule (cron, time zone, next run, suspend, active
// runs) and its history: pass rate, a small chart of p95 (LoadTests) or scale-up latency
// (experiments) over the runs, and each run linked to its view and to the Compare page.
// Schedules are created with `kubectl apply` (manifests/examples/testschedule-*.yaml).
import { Link } from "react-router";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useSchedules } from "../../api/queries";
import { AXIS, GRID, LINE, MARGIN, TOOLTIP } from "../../components/chartTheme";
import { Table, type Column } from "../../components/Table";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading } from "../../components/ui";
import { Stat } from "../../components/values";
import { count, dateTime, latencyMs, ratio } from "../../lib/format";
import { chartMetric, missingChart, passRate, runCompareLink, runLink, runSeries, type ScheduleRun, type ScheduleView } from "../../lib/schedules";

const OUTCOME_TONE = { running: "blue", passed: "green", failed: "red", notMeasured: "slate" } as const;
const OUTCOME_LABEL = { running: "Running", passed: "Passed", failed: "Failed", notMeasured: "Not measured" } as const;

function HistoryChart({ s }: { s: ScheduleView }) {
  const metric = chartMetric(s);
  const missing = missingChart(s);
  if (missing) return <p className="text-sm text-slate-400">{missing}</p>;
  return (
    <figure aria-label={`${metric.label} over the runs of ${s.name}`} className="h-32 w-full">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={runSeries(s)} margin={MARGIN}>
          <CartesianGrid stroke={GRID} />
          <XAxis dataKey="run" tick={false} stroke={AXIS} />
          <YAxis stroke={AXIS} unit={` ${metric.unit}`} width={70} />
          <Tooltip {...TOOLTIP} />
          <Line dataKey="value" name={metric.label} stroke="#60a5fa" connectNulls={false} {...LINE} dot />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

function columns(s: ScheduleView): Column<ScheduleRun>[] {
  const index = (r: ScheduleRun) => s.runs.indexOf(r);
  const numbers: Column<ScheduleRun>[] =
    s.runKind === "ScalingExperiment"
      ? [
          { header: "Scale-up latency", cell: (r) => (r.scaleUpLatencySeconds == null ? "—" : `${r.scaleUpLatencySeconds.toFixed(1)} s`) },
          { header: "Peak replicas", cell: (r) => count(r.peakReplicas) },
        ]
      : [
          { header: "p95", cell: (r) => latencyMs(r.p95Ms) },
          { header: "RPS", cell: (r) => (r.rps == null ? "—" : r.rps.toFixed(1)) },
          { header: "Errors", cell: (r) => ratio(r.errorRate) },
        ];
  return [
    {
      header: "Run",
      cell: (r) =>
        s.runKind === "ScalingExperiment" ? (
          <Link to={runLink(s, r)} className="text-blue-300 hover:underline">
            {r.name}
          </Link>
        ) : (
          <a href={runLink(s, r)} className="text-blue-300 hover:underline">
            {r.name}
          </a>
        ),
    },
    { header: "Outcome", cell: (r) => <Badge tone={OUTCOME_TONE[r.outcome]}>{OUTCOME_LABEL[r.outcome]}</Badge> },
    { header: "Finished", cell: (r) => (r.finishedAt ? dateTime(r.finishedAt) : "—") },
    ...numbers,
    {
      header: "Comparison",
      cell: (r) => {
        const link = runCompareLink(s, index(r));
        const verdict = r.regression
          ? r.regression.status === "True"
            ? "Regressed"
            : r.regression.status === "False"
              ? "Within tolerance"
              : `Not compared (${r.regression.reason})`
          : r.outcome === "running"
            ? "After it finishes"
            : "—";
        return (
          <span className="flex flex-wrap gap-2">
            <span title={r.regression?.message}>{verdict}</span>
            {link && (
              <Link to={link} className="text-blue-300 hover:underline">
                Compare<span className="sr-only">{` ${r.name} with the run before`}</span>
              </Link>
            )}
          </span>
        );
      },
    },
  ];
}

function ScheduleCard({ s }: { s: ScheduleView }) {
  const rate = passRate(s.runs);
  return (
    <li className="rounded-lg border border-slate-800 bg-slate-900 p-4" aria-label={`Schedule ${s.namespace}/${s.name}`}>
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-medium">
          {s.namespace}/{s.name}
        </h3>
        <code className="rounded bg-slate-800 px-1.5 text-sm">{s.schedule}</code>
        <span className="text-sm text-slate-300">{s.timeZone}</span>
        {s.suspend ? <Badge tone="yellow">Suspended</Badge> : s.ready === false ? <Badge tone="red">Not scheduling</Badge> : null}
        {s.active.length > 0 && <Badge tone="blue">{s.active.length} active</Badge>}
      </div>
      <p className="text-sm text-slate-300">
        {s.runKind === "ScalingExperiment" ? "ScalingExperiment" : "LoadTest"} on {s.cluster ?? "—"} · {s.concurrencyPolicy}
        {s.nextScheduleTime && <> · next run {dateTime(s.nextScheduleTime)}</>}
        {s.lastScheduleTime && <> · last {dateTime(s.lastScheduleTime)}</>}
      </p>
      {s.ready === false && s.message && <p className="mt-1 text-sm text-red-300">{s.message}</p>}
      {s.skipped && <p className="mt-1 text-sm text-yellow-200">{s.skipped}</p>}
      <dl className="mt-2 grid grid-cols-2 gap-2 sm:max-w-md" aria-label={`History of ${s.name}`}>
        <Stat label="Pass rate" value={rate.rate == null ? "—" : `${Math.round(rate.rate * 100)}%`} />
        <Stat label="Runs" value={`${rate.passed} passed · ${rate.failed} failed${rate.notMeasured ? ` · ${rate.notMeasured} not measured` : ""}`} />
      </dl>
      {rate.rate == null && rate.notMeasured > 0 && <p className="mt-1 text-xs text-slate-400">No pass rate: the finished runs measured nothing.</p>}
      <div className="mt-2">
        <HistoryChart s={s} />
      </div>
      <div className="mt-2">
        {s.runs.length === 0 ? (
          <Empty>No runs yet{s.nextScheduleTime ? `: the first is due ${dateTime(s.nextScheduleTime)}` : ""}.</Empty>
        ) : (
          <Table caption={`Runs of ${s.name}`} columns={columns(s)} rows={s.runs} rowKey={(r) => r.name} />
        )}
      </div>
    </li>
  );
}

export function Schedules() {
  const schedules = useSchedules();
  return (
    <Card>
      <h2 className="font-semibold">Schedules</h2>
      {schedules.isPending ? (
        <Loading what="schedules" />
      ) : schedules.isError && !schedules.data ? (
        <ErrorBox error={schedules.error} />
      ) : (
        <>
          <div className="mt-2">
            <CouldNotRefresh error={schedules.error} receivedAt={schedules.dataUpdatedAt} what="the schedules" />
          </div>
          {schedules.data.length === 0 ? (
            <div className="mt-3">
              <Empty>No schedules: apply a TestSchedule, e.g. manifests/examples/testschedule-nightly-standard-load.yaml.</Empty>
            </div>
          ) : (
            <ul className="mt-3 space-y-3">
              {schedules.data.map((s) => (
                <ScheduleCard key={`${s.namespace}/${s.name}`} s={s} />
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}
