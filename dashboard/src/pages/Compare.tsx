// Two LoadTests side by side: their key results and verdicts, and their RPS, p95 latency and error
// rate overlaid on one time axis, each shifted so that its load starts at 0. Or two
// ScalingExperiments (`kind=experiment`): scale-up latency and peak replicas side by side, the
// verdicts, and each deployment's replicas overlaid the same way.
import { Link, useSearchParams } from "react-router";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ExperimentView, TestView } from "../api/client";
import { useExperiment, useExperiments, useTestSeries, useTests } from "../api/queries";
import { AXIS, GRID, LINE, MARGIN, TOOLTIP } from "../components/chartTheme";
import { ComparisonPanel } from "../components/ComparisonPanel";
import { Card, Empty, ErrorBox, Loading, Picker } from "../components/ui";
import { latencyMs, ratio } from "../lib/format";
import { hasMeasuredPoints, overlay, parseRun, replicaOverlay, type OverlayRow } from "../lib/comparison";
import { isFinished, newestFirst, testLabel } from "../lib/testView";
import { testTimeline } from "../lib/timeline";

const A = "#3b82f6";
const B = "#f97316";

function Side({ label, test }: { label: string; test: TestView | undefined }) {
  if (!test) return <Empty>{label}: choose a test.</Empty>;
  const r = test.results;
  return (
    <Card>
      <h2 className="font-medium">
        {label}: {test.namespace}/{test.name}
      </h2>
      <p className="text-sm text-slate-300">
        {testLabel(test)} on {test.cluster} · {test.phase ?? "Pending"}
        {test.reason && ` (${test.reason})`}
      </p>
      {r?.bogoOps != null || r?.bogoOpsPerSecond != null ? (
        <dl className="mt-2 grid grid-cols-2 gap-x-4 text-sm">
          <dt className="text-slate-400">Bogo-ops/s</dt>
          <dd>{r.bogoOpsPerSecond != null ? r.bogoOpsPerSecond.toFixed(1) : "—"}</dd>
          <dt className="text-slate-400">Bogo-ops</dt>
          <dd>{r.bogoOps ?? "—"}</dd>
        </dl>
      ) : (
        <dl className="mt-2 grid grid-cols-2 gap-x-4 text-sm">
          <dt className="text-slate-400">p95</dt>
          <dd>{latencyMs(r?.latencyMs?.p95)}</dd>
          <dt className="text-slate-400">p99</dt>
          <dd>{latencyMs(r?.latencyMs?.p99)}</dd>
          <dt className="text-slate-400">Requests/s</dt>
          <dd>{r?.rps != null ? r.rps.toFixed(1) : "—"}</dd>
          <dt className="text-slate-400">Errors</dt>
          <dd>{ratio(r?.errorRate)}</dd>
        </dl>
      )}
      {!r && test.message && <p className="mt-2 text-sm text-slate-300">{test.message}</p>}
      <ComparisonPanel run={test} regression={test.regression} comparison={test.comparison} />
    </Card>
  );
}

function Chart({ title, rows, a, b, format }: { title: string; rows: OverlayRow[]; a: keyof OverlayRow; b: keyof OverlayRow; format: (v: number) => string }) {
  return (
    <section aria-label={title} data-compare-panel={title}>
      <h3 className="text-sm font-medium text-slate-200">{title}</h3>
      <ResponsiveContainer width="100%" height={160}>
        <LineChart data={rows} margin={MARGIN}>
          <CartesianGrid stroke={GRID} />
          <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} stroke={AXIS} tickFormatter={(t: number) => `${t}s`} />
          <YAxis stroke={AXIS} tickFormatter={format} width={70} />
          <Tooltip {...TOOLTIP} labelFormatter={(t) => `${String(t)}s since the load started`} formatter={(v) => format(Number(v))} />
          <Legend />
          <Line dataKey={a} name="A" stroke={A} connectNulls={false} {...LINE} />
          <Line dataKey={b} name="B" stroke={B} connectNulls={false} {...LINE} />
        </LineChart>
      </ResponsiveContainer>
    </section>
  );
}

function Overlay({ a, b }: { a: TestView; b: TestView }) {
  const sa = useTestSeries(a.namespace, a.name, !isFinished(a));
  const sb = useTestSeries(b.namespace, b.name, !isFinished(b));
  if (sa.isLoading || sb.isLoading) return <Loading what="the two timelines" />;
  const now = Math.max(sa.dataUpdatedAt, sb.dataUpdatedAt);
  const ta = testTimeline(a, sa.data, undefined, "the measured series could not be read", now);
  const tb = testTimeline(b, sb.data, undefined, "the measured series could not be read", now);
  const rows = overlay(ta, tb);
  if (!hasMeasuredPoints(rows)) {
    const why = [ta?.unmeasured && `A: ${ta.unmeasured}`, tb?.unmeasured && `B: ${tb.unmeasured}`].filter(Boolean)
      .map((s) => `${String(s)}.`)
      .join(" ");
    return <Empty>Neither run has measured series to overlay. {why}</Empty>;
  }
  return (
    <Card className="space-y-3">
      <h2 className="font-medium">Timelines overlaid (seconds since each load started)</h2>
      <Chart title="Requests/s" rows={rows} a="aRps" b="bRps" format={(v) => v.toFixed(0)} />
      <Chart title="p95 latency" rows={rows} a="aP95" b="bP95" format={(v) => latencyMs(v)} />
      <Chart title="Error rate" rows={rows} a="aErrors" b="bErrors" format={(v) => ratio(v)} />
    </Card>
  );
}

function ExperimentSide({ label, e }: { label: string; e: ExperimentView | undefined }) {
  if (!e) return <Empty>{label}: choose an experiment.</Empty>;
  const k = e.kpis;
  return (
    <Card>
      <h2 className="font-medium">
        {label}: {e.namespace}/{e.name}
      </h2>
      <p className="text-sm text-slate-300">
        {e.preset ?? "custom"} on {e.cluster} · {e.phase ?? "Pending"}
        {e.reason && ` (${e.reason})`}
      </p>
      <dl className="mt-2 grid grid-cols-2 gap-x-4 text-sm">
        <dt className="text-slate-400">Scale-up latency</dt>
        <dd>{k?.scaleUpLatencySeconds != null ? `${k.scaleUpLatencySeconds.toFixed(1)} s` : k?.peakReplicas != null ? "none: never scaled up" : "—"}</dd>
        <dt className="text-slate-400">Peak replicas</dt>
        <dd>{k?.peakReplicas ?? "—"}</dd>
      </dl>
      {!k && e.message && <p className="mt-2 text-sm text-slate-300">{e.message}</p>}
      <ComparisonPanel run={e} regression={e.regression} comparison={e.comparison} />
    </Card>
  );
}

function ReplicaCharts({ a, b }: { a: ExperimentView; b: ExperimentView }) {
  const charts = replicaOverlay(a, b).filter((c) => c.rows.some((r) => r.a != null || r.b != null));
  const same = a.namespace === b.namespace && a.name === b.name;
  if (charts.length === 0) return <Empty>Neither experiment has replica samples to overlay.</Empty>;
  return (
    <Card className="space-y-3">
      <h2 className="font-medium">Replicas per deployment overlaid (seconds since each load started)</h2>
      {same && <p className="text-xs text-slate-400">A and B are the same experiment: the lines coincide.</p>}
      {charts.map((c) => (
        <section key={c.deployment} aria-label={`Replicas of ${c.deployment}`} data-compare-panel={`replicas ${c.deployment}`}>
          <h3 className="text-sm font-medium text-slate-200">Replicas of {c.deployment}</h3>
          <ResponsiveContainer width="100%" height={160}>
            <LineChart data={c.rows} margin={MARGIN}>
              <CartesianGrid stroke={GRID} />
              <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} stroke={AXIS} tickFormatter={(t: number) => `${t}s`} />
              <YAxis stroke={AXIS} allowDecimals={false} width={40} />
              <Tooltip {...TOOLTIP} labelFormatter={(t) => `${String(t)}s since the load started`} />
              <Legend />
              <Line dataKey="a" name="A" stroke={A} connectNulls={false} {...LINE} />
              <Line dataKey="b" name="B" stroke={B} connectNulls={false} {...LINE} />
            </LineChart>
          </ResponsiveContainer>
        </section>
      ))}
    </Card>
  );
}

type Kind = "test" | "experiment";

function KindSwitch({ kind }: { kind: Kind }) {
  const link = (k: Kind, label: string) =>
    k === kind ? (
      <span aria-current="page" className="font-medium">
        {label}
      </span>
    ) : (
      <Link to={k === "experiment" ? "/compare?kind=experiment" : "/compare"} className="text-blue-300 hover:underline">
        {label}
      </Link>
    );
  return (
    <nav aria-label="What to compare" className="flex gap-3 text-sm">
      {link("test", "Load tests")}
      {link("experiment", "Scaling experiments")}
    </nav>
  );
}

function usePair<T extends { namespace: string; name: string }>(list: T[]) {
  const [params, setParams] = useSearchParams();
  const pick = (side: "a" | "b") => {
    const run = parseRun(params.get(side));
    return run ? list.find((t) => t.namespace === run.namespace && t.name === run.name) : undefined;
  };
  const set = (side: "a" | "b", v: string) => {
    const next = new URLSearchParams(params);
    next.set(side, v);
    setParams(next);
  };
  return { a: pick("a"), b: pick("b"), value: (side: "a" | "b") => params.get(side) ?? "", set };
}

function CompareExperiments() {
  const experiments = useExperiments();
  const list = [...(experiments.data ?? [])].sort((x, y) => (y.startedAt ?? "").localeCompare(x.startedAt ?? ""));
  const key = (e: ExperimentView) => `${e.namespace}/${e.name}`;
  const choices = list.map((e) => ({ value: key(e), label: `${key(e)} (${e.phase ?? "Pending"})` }));
  const pair = usePair(list);
  const { value, set } = pair;
  // The list carries no samples; the detail route has them.
  const da = useExperiment(pair.a?.namespace, pair.a?.name);
  const db = useExperiment(pair.b?.namespace, pair.b?.name);
  const a = pair.a && (da.data ?? pair.a);
  const b = pair.b && (db.data ?? pair.b);
  return (
    <>
      {experiments.error && <ErrorBox error={experiments.error} />}
      <div className="flex flex-wrap gap-4">
        <Picker id="compare-a" label="Run A" value={value("a")} choices={choices} placeholder="choose an experiment" onChange={(v) => set("a", v)} />
        <Picker id="compare-b" label="Run B" value={value("b")} choices={choices} placeholder="choose an experiment" onChange={(v) => set("b", v)} />
      </div>
      <div className="grid gap-4 md:grid-cols-2">
        <ExperimentSide label="A" e={a} />
        <ExperimentSide label="B" e={b} />
      </div>
      {a && b && (da.isPending || db.isPending ? <Loading what="the two experiments' samples" /> : <ReplicaCharts a={a} b={b} />)}
    </>
  );
}

function CompareTests() {
  const tests = useTests();
  const list = newestFirst(tests.data ?? []);
  const key = (t: TestView) => `${t.namespace}/${t.name}`;
  const choices = list.map((t) => ({ value: key(t), label: `${key(t)} (${t.phase ?? "Pending"})` }));
  const { a, b, value, set } = usePair(list);
  return (
    <>
      {tests.error && <ErrorBox error={tests.error} />}
      <div className="flex flex-wrap gap-4">
        <Picker id="compare-a" label="Run A" value={value("a")} choices={choices} placeholder="choose a test" onChange={(v) => set("a", v)} />
        <Picker id="compare-b" label="Run B" value={value("b")} choices={choices} placeholder="choose a test" onChange={(v) => set("b", v)} />
      </div>
      <div className="grid gap-4 md:grid-cols-2">
        <Side label="A" test={a} />
        <Side label="B" test={b} />
      </div>
      {a && b && <Overlay a={a} b={b} />}
    </>
  );
}

export function Compare() {
  const [params] = useSearchParams();
  const kind: Kind = params.get("kind") === "experiment" ? "experiment" : "test";
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Compare two runs</h1>
      <KindSwitch kind={kind} />
      {kind === "experiment" ? <CompareExperiments /> : <CompareTests />}
    </div>
  );
}
