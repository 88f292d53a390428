// Scaling and cascade experiments in the Testing page's list, as the original listed them with
// its tests: outcome, scale-up latency and peak replicas, per deployment. Load analysis has the
// rest.
import { Link } from "react-router";
import type { ExperimentView } from "../../api/client";
import { useExperiments } from "../../api/queries";
import { Table, type Column } from "../../components/Table";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading, Tag } from "../../components/ui";
import { Stat } from "../../components/values";
import { deploymentScaleUp, PHASE_TONE, experimentId, experimentLink, experimentTag, formatKpis, sortExperiments, type DeploymentResult } from "../../lib/analysis";
import { count, dateTime } from "../../lib/format";

function columns(e: ExperimentView): Column<DeploymentResult>[] {
  return [
    { header: "Deployment", cell: (d) => `${d.namespace}/${d.name}` },
    {
      header: "Replicas (baseline → peak)",
      cell: (d) => (
        <>
          {count(d.baselineReplicas)} → <span className="font-semibold">{count(d.peakReplicas)}</span>
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
  ];
}

function ExperimentCard({ e }: { e: ExperimentView }) {
  const kpis = formatKpis(e.kpis, { live: e.live });
  const shown = kpis.filter((k) => k.id === "scaleUpLatencySeconds" || k.id === "peakReplicas");
  return (
    <li className="rounded-lg border border-slate-800 bg-slate-900 p-4">
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-medium">
          {experimentId(e)}
        </h3>
        <Tag tag={experimentTag(e)} />
        <Badge tone={e.phase ? PHASE_TONE[e.phase] : "slate"}>{e.deleting ? "Deleting" : (e.phase ?? "Pending")}</Badge>
        {e.reason && <Badge tone="red">{e.reason}</Badge>}
        <Link to={experimentLink(e)} className="ml-auto text-sm text-blue-300 hover:underline">
          Open in Load analysis<span className="sr-only"> ({e.name})</span>
        </Link>
      </div>
      <p className="text-sm text-slate-300">
        {e.preset ? `preset ${e.preset}` : "custom load"} on {e.cluster}
        {e.startedAt && <> · started {dateTime(e.startedAt)}</>}
      </p>
      {e.message && <p className="mt-1 text-sm text-slate-300">{e.message}</p>}
      <dl className="mt-2 grid grid-cols-2 gap-2 sm:max-w-md" aria-label={`Results of ${e.name}`}>
        {shown.map((k) => (
          <Stat key={k.id} label={k.label} value={k.value} />
        ))}
      </dl>
      {shown.some((k) => k.missing) && (
        <p className="mt-1 text-xs text-slate-400">
          {shown
            .filter((k) => k.missing)
            .map((k) => `${k.label}: ${k.missing}`)
            .join(" ")}
        </p>
      )}
      <div className="mt-2">
        {e.deployments.length === 0 ? (
          <Empty>{e.live ? "The targets are resolved when sampling starts." : "No target deployments were resolved."}</Empty>
        ) : (
          <Table caption={`Per deployment: ${e.name}`} columns={columns(e)} rows={e.deployments} rowKey={(d) => `${d.namespace}/${d.name}`} />
        )}
      </div>
    </li>
  );
}

export function Experiments() {
  const experiments = useExperiments();
  return (
    <Card>
      <h2 className="font-semibold">Scaling and cascade experiments</h2>
      {experiments.isPending ? (
        <Loading what="experiments" />
      ) : experiments.isError && !experiments.data ? (
        <ErrorBox error={experiments.error} />
      ) : (
        <>
          <div className="mt-2">
            <CouldNotRefresh error={experiments.error} receivedAt={experiments.dataUpdatedAt} what="the experiments" />
          </div>
          {experiments.data.length === 0 ? (
            <div className="mt-3">
              <Empty>No experiments yet: start one from a SCALE or CASCADE preset above.</Empty>
            </div>
          ) : (
            <ul className="mt-3 space-y-3">
              {sortExperiments(experiments.data).map((e) => (
                <ExperimentCard key={experimentId(e)} e={e} />
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}
