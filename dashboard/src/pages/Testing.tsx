// Load and stress tests: run a preset or a custom test on a cluster, follow the queue and the
// runs, read the results, export them as CSV; the cluster's HPAs and the experiments' outcomes
// beside them (pages/testing/).
import { lazy, Suspense, useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { ApiError, authHeaders, errorFrom, type ClusterView, type LoadTestSpec, type PresetView, type TestView } from "../api/client";
import { NAMESPACE, useCreateTest, useDeleteTest } from "../api/mutations";
import { usePresets, useSnapshot, useTests } from "../api/queries";
import { ComparisonPanel } from "../components/ComparisonPanel";
import { NodeUsage } from "../components/NodeUsage";
import { FormControl, INPUT } from "../components/FormControl";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading, Picker, Tag } from "../components/ui";
import { Stat } from "../components/values";
import { saveBlob } from "../lib/download";
import { LIMITS } from "../lib/fields";
import { count, dateTime, duration, latencyMs, ratio } from "../lib/format";
import {
  DEFAULT_FORM,
  FIELD_PATHS,
  inputForField,
  KIND_FIELDS,
  KIND_LABELS,
  validate,
  type FieldErrors,
  type FormField,
  type InputField,
  type TestForm,
  type TestKind,
} from "../lib/testForm";
import {
  analysisLink,
  attachmentName,
  defaultCluster,
  effectiveSpec,
  isExperimentPreset,
  isFinished,
  newestFirst,
  notMeasured,
  percentilesPerRunner,
  phaseInfo,
  runnerRows,
  secondsBetween,
  specSummary,
  targetClusters,
  testLabel,
  verdict,
} from "../lib/testView";
import { Experiments } from "./testing/Experiments";
import { HpaStatus } from "./testing/HpaStatus";
import { Schedules } from "./testing/Schedules";
import { testAnchor } from "../lib/schedules";

// The timeline draws charts: loaded when a test's timeline is first opened.
const TestTimeline = lazy(() => import("./TestTimeline").then((m) => ({ default: m.TestTimeline })));

const BUTTON = "rounded px-3 py-1.5 text-sm font-medium disabled:cursor-not-allowed disabled:opacity-50";
const PRIMARY = `${BUTTON} bg-blue-700 text-white hover:bg-blue-600`;
const SECONDARY = `${BUTTON} border border-slate-600 text-slate-100 hover:bg-slate-800`;

// ---------------------------------------------------------------- cluster

/** Says when the chosen cluster cannot run a test right now. */
function ClusterNote({ clusters, cluster, stale }: { clusters: ClusterView[]; cluster: string; stale: boolean }) {
  if (clusters.length === 0) return <Empty>No managed clusters yet: tests need a ManagedCluster to run in.</Empty>;
  const ready = clusters.some((c) => c.phase === "Ready");
  const chosen = clusters.find((c) => c.name === cluster);
  const note = !ready
    ? "No cluster is Ready: a test waits for its cluster, and fails if the cluster stays unavailable."
    : !cluster
      ? "Choose a cluster to run tests in."
      : !chosen
        ? `There is no cluster named ${cluster}.`
        : chosen.phase !== "Ready"
          ? `${cluster} is ${chosen.phase ?? "in an unknown phase"}, not Ready: a test waits for it, and fails if it stays unavailable.`
          : null;
  if (!note && !stale) return null;
  return (
    <p role="status" className="rounded border border-yellow-800 bg-yellow-950/50 p-3 text-sm text-yellow-100">
      {note}
      {stale && `${note ? " " : ""}Cluster states may be out of date: some sources are failing.`}
    </p>
  );
}

// ---------------------------------------------------------------- presets

function PresetCard({ preset, cluster, busy, onRun }: { preset: PresetView; cluster: string; busy: boolean; onRun: () => void }) {
  return (
    <li className="flex flex-col rounded-lg border border-slate-800 bg-slate-900 p-3">
      <div className="flex items-center gap-2">
        <h3 className="font-medium">{preset.name}</h3>
        <span className="ml-auto">
          <Tag tag={preset.tag} />
        </span>
      </div>
      <p className="mt-1 flex-1 text-sm text-slate-300">{preset.description}</p>
      <div className="mt-3">
        {isExperimentPreset(preset) ? (
          <Link to={analysisLink(preset.name, cluster)} className="text-sm text-blue-300 hover:underline">
            Start from Load analysis<span className="sr-only"> ({preset.name})</span>
          </Link>
        ) : (
          <button type="button" className={PRIMARY} disabled={!cluster || busy} onClick={onRun} aria-label={`Run ${preset.name}`}>
            Run
          </button>
        )}
      </div>
    </li>
  );
}

function Presets({ cluster }: { cluster: string }) {
  const presets = usePresets();
  const create = useCreateTest();
  const [started, setStarted] = useState<string | null>(null);
  const run = (name: string) => {
    setStarted(null);
    create.mutate({ cluster, preset: name as LoadTestSpec["preset"] }, { onSuccess: (t) => setStarted(`${t.name} started on ${t.cluster}.`) });
  };
  return (
    <Card>
      <h2 className="font-semibold">Presets</h2>
      {create.isError && (
        <div className="mt-2">
          <ErrorBox error={create.error} />
        </div>
      )}
      {started && (
        <p role="status" className="mt-2 text-sm text-emerald-300">
          {started}
        </p>
      )}
      {presets.isPending ? (
        <Loading what="presets" />
      ) : presets.isError ? (
        <ErrorBox error={presets.error} />
      ) : presets.data.length === 0 ? (
        <Empty>The operator offers no presets.</Empty>
      ) : (
        <ul className="mt-3 grid gap-3 sm:grid-cols-2 xl:grid-cols-4">
          {presets.data.map((p) => (
            <PresetCard key={p.name} preset={p} cluster={cluster} busy={create.isPending} onRun={() => run(p.name)} />
          ))}
        </ul>
      )}
    </Card>
  );
}

// ---------------------------------------------------------------- custom form

const INPUTS: Record<InputField, { label: string; hint: string; inputMode?: "numeric" | "decimal" | "url" }> = {
  vus: { label: "Virtual users", hint: `${LIMITS.vus.min} to ${LIMITS.vus.max}; empty means 50.`, inputMode: "numeric" },
  parallelism: {
    label: "Runners",
    hint: `Runner pods sharing the VUs, ${LIMITS.parallelism.min} to ${LIMITS.parallelism.max}, started together; the cluster's loadTestPolicy.maxParallelism caps it (default 4).`,
    inputMode: "numeric",
  },
  duration: { label: "Duration", hint: "Time at full load, e.g. 30s, 5m or 1h30m (1s to 24h); empty means 30s." },
  targetUrl: { label: "Target URL", hint: "An http:// or https:// URL; empty means http://nginx-web.demo.svc.cluster.local.", inputMode: "url" },
  rampUp: { label: "Ramp-up (optional)", hint: "Ramp from 0 to the VUs over this long before the duration, and back after it." },
  p95Ms: { label: "p95 threshold (ms)", hint: "The test fails when the 95th percentile reaches this; empty means 2000.", inputMode: "numeric" },
  errorRate: { label: "Error-rate threshold", hint: `A ratio from ${LIMITS.errorRate.min} to ${LIMITS.errorRate.max} (0.01 means 1%); empty means 0.5.`, inputMode: "decimal" },
  workers: { label: "Workers", hint: `stress-ng workers, ${LIMITS.workers.min} to ${LIMITS.workers.max}; empty means 1.`, inputMode: "numeric" },
  timeout: { label: "Duration", hint: "How long stress-ng runs, e.g. 30s or 5m (1s to 24h); empty means 30s." },
  vmBytes: { label: "Memory per worker", hint: "A number of 1 to 5 digits with K, M or G, e.g. 64M; empty means 64M.", inputMode: "numeric" },
};

function TextInput({ field, value, error, onChange }: { field: InputField; value: string; error?: string; onChange: (v: string) => void }) {
  const input = INPUTS[field];
  return (
    <FormControl id={`test-${field}`} label={input.label} hint={input.hint} error={error}>
      {(props) => <input {...props} name={field} type="text" inputMode={input.inputMode} value={value} onChange={(e) => onChange(e.target.value)} className={INPUT} />}
    </FormControl>
  );
}

function CustomTest({ cluster }: { cluster: string }) {
  const [form, setForm] = useState<Omit<TestForm, "cluster">>(DEFAULT_FORM);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [started, setStarted] = useState<string | null>(null);
  const create = useCreateTest();
  const serverError = create.error instanceof ApiError ? create.error : null;
  const serverInput = inputForField(serverError?.field, form.kind);
  const errorOf = (field: FormField) =>
    errors[FIELD_PATHS[field]] ?? (serverInput === field ? serverError?.message : undefined);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setStarted(null);
    create.reset();
    const result = validate({ ...form, cluster });
    if (result.errors) {
      setErrors(result.errors);
      return;
    }
    setErrors({});
    create.mutate(result.spec, { onSuccess: (t) => setStarted(`${t.name} started on ${t.cluster}.`) });
  };
  const clusterError = errorOf("cluster");

  return (
    <Card>
      <h2 className="font-semibold">Custom test</h2>
      <form onSubmit={submit} noValidate className="mt-3 space-y-3" aria-label="Custom test">
        {create.isError && !serverInput && <ErrorBox error={create.error} />}
        <p className="text-sm text-slate-300" id="test-cluster-hint">
          Runs on cluster <strong className="text-slate-100">{cluster || "none chosen"}</strong> (choose it above), in namespace{" "}
          {NAMESPACE}.
        </p>
        {clusterError && (
          <p className="text-sm text-red-300" role="alert">
            Cluster: {clusterError}
          </p>
        )}
        <div className="max-w-xs">
          <FormControl id="test-kind" label="Test type">
            {(props) => (
              <select {...props} value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value as TestKind })} className={INPUT}>
                {Object.entries(KIND_LABELS).map(([k, label]) => (
                  <option key={k} value={k}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </FormControl>
        </div>
        <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
          {KIND_FIELDS[form.kind].map((f) => (
            <TextInput key={f} field={f} value={form[f]} error={errorOf(f)} onChange={(v) => setForm({ ...form, [f]: v })} />
          ))}
        </div>
        <div className="flex items-center gap-3">
          <button type="submit" className={PRIMARY} disabled={create.isPending}>
            {create.isPending ? "Starting…" : "Start test"}
          </button>
          {started && (
            <p role="status" className="text-sm text-emerald-300">
              {started}
            </p>
          )}
        </div>
      </form>
    </Card>
  );
}

// ---------------------------------------------------------------- tests

function Results({ test }: { test: TestView }) {
  const r = test.results;
  if (!r && notMeasured(test)) {
    return <p className="mt-2 text-sm text-slate-400">Nothing was measured: no latency, RPS or threshold verdict (see the reason above).</p>;
  }
  if (!r) return isFinished(test) ? <p className="mt-2 text-sm text-slate-400">No results were recorded.</p> : null;
  const http = r.requests != null || r.rps != null || r.latencyMs != null || r.errorRate != null;
  const stress = r.bogoOps != null || r.bogoOpsPerSecond != null;
  const latency = verdict(r, "http_req_duration");
  const errors = verdict(r, "http_req_failed");
  const perRunner = percentilesPerRunner(r);
  const runners = runnerRows(r);
  return (
    <div className="mt-3 space-y-2">
      {http && (
        <dl className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-6" aria-label="HTTP results">
          <Stat label="p95 latency" value={perRunner ? "per runner" : latencyMs(r.latencyMs?.p95)} passed={latency} />
          <Stat label="p99 latency" value={perRunner ? "per runner" : latencyMs(r.latencyMs?.p99)} />
          <Stat label="Avg latency" value={latencyMs(r.latencyMs?.avg)} />
          <Stat label="Requests/s" value={r.rps == null ? "—" : r.rps.toFixed(1)} />
          <Stat label="Error rate" value={ratio(r.errorRate)} passed={errors} />
          <Stat label="Requests" value={count(r.requests)} />
        </dl>
      )}
      {runners.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" aria-label="Runners">
            <caption className="pb-1 text-left text-xs text-slate-300">
              {runners.length} runners; counts and rates above are their sums.
              {perRunner && " Percentiles cannot be merged from k6's summaries, so each runner's are shown and never averaged."}
            </caption>
            <thead className="text-xs text-slate-300">
              <tr>
                <th scope="col">Runner</th>
                <th scope="col">Requests</th>
                <th scope="col">Requests/s</th>
                <th scope="col">Error rate</th>
                <th scope="col">p95</th>
                <th scope="col">p99</th>
                <th scope="col">Thresholds</th>
              </tr>
            </thead>
            <tbody>
              {runners.map((x) => (
                <tr key={x.index} className="border-t border-slate-800">
                  <th scope="row">#{x.index}</th>
                  <td>{count(x.requests)}</td>
                  <td>{x.rps == null ? "—" : x.rps.toFixed(1)}</td>
                  <td>{ratio(x.errorRate)}</td>
                  <td>{latencyMs(x.p95)}</td>
                  <td>{latencyMs(x.p99)}</td>
                  <td>{x.passed == null ? "—" : <Badge tone={x.passed ? "green" : "red"}>{x.passed ? "held" : "breached"}</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {stress && (
        <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4" aria-label="Stress results">
          <Stat label="Bogo-ops" value={count(r.bogoOps)} />
          <Stat label="Bogo-ops/s" value={r.bogoOpsPerSecond == null ? "—" : r.bogoOpsPerSecond.toFixed(1)} />
        </dl>
      )}
      {r.thresholds && r.thresholds.length > 0 && (
        <ul className="flex flex-wrap gap-2 text-sm" aria-label="Thresholds">
          {r.thresholds.map((t) => (
            <li key={`${t.metric} ${t.expression}`} className="flex items-center gap-1">
              <code className="text-slate-200">
                {t.metric} {t.expression}
              </code>
              <Badge tone={t.passed ? "green" : "red"}>{t.passed ? "passed" : "failed"}</Badge>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Progress({ percent }: { percent: number }) {
  const value = Math.max(0, Math.min(100, percent));
  return (
    <div className="mt-2 flex items-center gap-2 text-xs text-slate-300">
      <div className="h-2 flex-1 rounded bg-slate-800" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={value}>
        <div className="h-2 rounded bg-blue-500" style={{ width: `${value}%` }} />
      </div>
      <span>{value}%</span>
    </div>
  );
}

function DeleteTest({ test }: { test: TestView }) {
  const [confirming, setConfirming] = useState(false);
  const remove = useDeleteTest(test);
  if (test.deleting) return null;
  return (
    <div className="flex flex-col items-end gap-1">
      {confirming ? (
        <div className="flex items-center gap-2 text-sm" role="group" aria-label={`Delete ${test.name}?`}>
          <span className="text-slate-200">Delete {test.name}?</span>
          <button type="button" className={`${BUTTON} bg-red-700 text-white hover:bg-red-600`} disabled={remove.isPending} onClick={() => remove.mutate(undefined, { onSuccess: () => setConfirming(false) })}>
            {remove.isPending ? "Deleting…" : "Delete"}
          </button>
          <button type="button" className={SECONDARY} onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" className={SECONDARY} onClick={() => setConfirming(true)} aria-label={`Delete ${test.name}`}>
          Delete
        </button>
      )}
      {remove.isError && <ErrorBox error={remove.error} />}
    </div>
  );
}

function TestCard({ test, presets, receivedAt }: { test: TestView; presets: PresetView[] | undefined; receivedAt: number }) {
  const phase = phaseInfo(test);
  const [timeline, setTimeline] = useState(false);
  const timelineId = `timeline-${test.namespace}-${test.name}`;
  const ran = secondsBetween(test.startedAt, test.finishedAt);
  const summary = specSummary(effectiveSpec(test, presets));
  return (
    <li id={testAnchor(test.namespace, test.name)} className={`rounded-lg border bg-slate-900 p-4 ${test.deleting ? "border-dashed border-slate-600" : "border-slate-800"}`}>
      <div className="flex flex-wrap items-start gap-2">
        <div className="min-w-0">
          <h3 className="font-medium">
            {test.namespace}/{test.name}
          </h3>
          <p className="text-sm text-slate-300">
            {testLabel(test)} on {test.cluster}
            {test.createdAt && <> · created {dateTime(test.createdAt)}</>}
            {ran != null && <> · ran {duration(ran)}</>}
          </p>
        </div>
        <span className="flex items-center gap-1">
          <Badge tone={phase.tone}>{phase.label}</Badge>
          {phase.reason && <Badge tone={phase.tone}>{phase.reason}</Badge>}
        </span>
        <span className="ml-auto">
          <DeleteTest test={test} />
        </span>
      </div>
      {summary.length > 0 && <p className="mt-1 text-xs text-slate-400">{summary.join(" · ")}</p>}
      {test.phase === "Running" && !test.deleting && test.progressPercent != null && <Progress percent={test.progressPercent} />}
      {test.message && <p className="mt-2 text-sm text-slate-300">{test.message}</p>}
      <Results test={test} />
      <ComparisonPanel run={test} regression={test.regression} comparison={test.comparison} compare />
      {test.startedAt && <NodeUsage record={test.nodeUsage} cluster={test.cluster} started />}
      {test.startedAt && (
        <div className="mt-2">
          <button type="button" className={SECONDARY} aria-expanded={timeline} aria-controls={timelineId} onClick={() => setTimeline(!timeline)}>
            {timeline ? "Hide timeline" : "Show timeline"}
          </button>
          {timeline && (
            <div id={timelineId} className="mt-2">
              <Suspense fallback={<Loading what="the timeline" />}>
                <TestTimeline test={test} now={receivedAt} />
              </Suspense>
            </div>
          )}
        </div>
      )}
    </li>
  );
}

/** Downloads the CSV export: it needs the bearer token, so it is fetched, not linked. */
async function downloadCsv(): Promise<void> {
  const response = await fetch("/api/v1/tests/export.csv", { headers: { Accept: "text/csv", ...authHeaders() } });
  if (!response.ok) throw await errorFrom(response);
  saveBlob(await response.blob(), attachmentName(response.headers.get("Content-Disposition"), "tart-infra-tests.csv"));
}

function ExportCsv() {
  const exporter = useMutation({ mutationFn: downloadCsv });
  return (
    <div className="flex flex-col items-end gap-1">
      <button type="button" className={SECONDARY} disabled={exporter.isPending} onClick={() => exporter.mutate()}>
        {exporter.isPending ? "Exporting…" : "Export CSV"}
      </button>
      {exporter.isError && <ErrorBox error={exporter.error} />}
    </div>
  );
}

function Tests() {
  const tests = useTests();
  const presets = usePresets();
  return (
    <Card>
      <div className="flex items-start gap-2">
        <h2 className="font-semibold">Tests</h2>
        <span className="ml-auto">
          <ExportCsv />
        </span>
      </div>
      {tests.isPending ? (
        <Loading what="tests" />
      ) : tests.isError && !tests.data ? (
        <ErrorBox error={tests.error} />
      ) : (
        <>
          <div className="mt-2">
            <CouldNotRefresh error={tests.error} receivedAt={tests.dataUpdatedAt} what="the tests" />
          </div>
          {tests.data.length === 0 ? (
            <div className="mt-3">
              <Empty>No tests yet: run a preset or a custom test above.</Empty>
            </div>
          ) : (
            <ul className="mt-3 space-y-3">
              {newestFirst(tests.data).map((t) => (
                <TestCard key={`${t.namespace}/${t.name}`} test={t} presets={presets.data} receivedAt={tests.dataUpdatedAt} />
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}

// ---------------------------------------------------------------- page

export function Testing() {
  const snapshot = useSnapshot();
  const [params, setParams] = useSearchParams();
  const clusters = snapshot.data ? targetClusters(snapshot.data.clusters) : [];
  const cluster = params.get("cluster") ?? defaultCluster(clusters) ?? "";
  const choose = (name: string) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        next.set("cluster", name);
        return next;
      },
      { replace: true },
    );

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-4">
        <h1 className="text-xl font-semibold">Testing</h1>
        {snapshot.data && (
          <Picker
            id="testing-cluster"
            label="Cluster"
            placeholder="Choose a cluster"
            value={cluster}
            choices={clusters.map((c) => ({ value: c.name, label: c.phase === "Ready" ? c.name : `${c.name} (${c.phase ?? "phase unknown"})` }))}
            onChange={choose}
          />
        )}
      </div>
      {snapshot.isPending ? (
        <Loading what="clusters" />
      ) : snapshot.isError && !snapshot.data ? (
        <ErrorBox error={snapshot.error} />
      ) : (
        <>
          <CouldNotRefresh error={snapshot.error} receivedAt={snapshot.dataUpdatedAt} what="the clusters" />
          <ClusterNote clusters={clusters} cluster={cluster} stale={snapshot.data.stale} />
        </>
      )}
      <HpaStatus cluster={cluster} />
      <Presets cluster={cluster} />
      <CustomTest cluster={cluster} />
      <Tests />
      <Experiments />
      <Schedules />
    </div>
  );
}
