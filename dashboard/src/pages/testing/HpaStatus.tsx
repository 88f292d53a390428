// The chosen cluster's HPAs as the operator last sampled them: the Testing page's view of what
// a test is scaling (the Scaling page has their history).
import { useScaling } from "../../api/queries";
import { Table, type Column } from "../../components/Table";
import { Badge, Card, CouldNotRefresh, Empty, ErrorBox, Loading } from "../../components/ui";
import { clockTime } from "../../lib/format";
import { hpaBadge, hpaId, latest, type HpaSample } from "../../lib/scaling";

const cpuOver = (h: HpaSample) => h.currentCpuPercent != null && h.targetCpuPercent != null && h.currentCpuPercent > h.targetCpuPercent;

const COLUMNS: Column<HpaSample>[] = [
  { header: "Deployment", cell: (h) => `${h.namespace}/${h.deployment}` },
  {
    header: "State",
    cell: (h) => {
      const b = hpaBadge(h);
      return <Badge tone={b.tone}>{b.label}</Badge>;
    },
  },
  {
    header: "Replicas (current → desired / max)",
    cell: (h) => (
      <>
        {h.currentReplicas}
        {h.desiredReplicas !== h.currentReplicas && <span className="text-yellow-300"> → {h.desiredReplicas}</span>} / {h.maxReplicas}
      </>
    ),
  },
  {
    header: "CPU (current / target)",
    cell: (h) =>
      `${h.currentCpuPercent == null ? "unknown" : `${h.currentCpuPercent}%`} / ${h.targetCpuPercent == null ? "no CPU target" : `${h.targetCpuPercent}%`}`,
    className: (h) => (cpuOver(h) ? "text-red-300" : ""),
  },
];

export function HpaStatus({ cluster }: { cluster: string }) {
  const scaling = useScaling(cluster || undefined);
  const history = scaling.data;
  const point = latest(history);
  return (
    <Card>
      <div className="flex flex-wrap items-baseline gap-2">
        <h2 id="hpa-status-heading" className="font-semibold">
          HPA status{cluster ? ` in ${cluster}` : ""}
        </h2>
        {point && <span className="text-xs text-slate-400">sampled {clockTime(point.timestamp)}</span>}
      </div>
      <div className="mt-2">
        {!cluster ? (
          <Empty>Choose a cluster to see its HPAs.</Empty>
        ) : scaling.isPending ? (
          <Loading what={`HPAs of ${cluster}`} />
        ) : !history ? (
          <ErrorBox error={scaling.error} />
        ) : (
          <>
            <CouldNotRefresh error={scaling.error} receivedAt={scaling.dataUpdatedAt} what="the HPAs" />
            {!point ? (
              <Empty>No samples of {cluster} yet: the operator samples its HPAs every {history.intervalSeconds} s once their watch is ready.</Empty>
            ) : point.hpas.length === 0 ? (
              <Empty>No HorizontalPodAutoscalers in {cluster}: a test there scales nothing.</Empty>
            ) : (
              <Table labelledBy="hpa-status-heading" columns={COLUMNS} rows={point.hpas} rowKey={hpaId} />
            )}
          </>
        )}
      </div>
    </Card>
  );
}
