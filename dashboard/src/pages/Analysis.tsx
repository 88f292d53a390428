// Load analysis: pick a ScalingExperiment (the live one by default) and read its results, or start
// another. The parts live in pages/analysis/.
import { useEffect, useMemo, useState, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import type { ExperimentView } from "../api/client";
import { useExperiments } from "../api/queries";
import { Card, CouldNotRefresh, Empty, ErrorBox, Loading, Picker } from "../components/ui";
import { defaultExperiment, experimentId, experimentLabel, parseExperimentId, sortExperiments } from "../lib/analysis";
import { ExperimentDetail } from "./analysis/Detail";
import { StartForm } from "./analysis/StartForm";

function LiveBadge() {
  return (
    <span className="inline-flex items-center gap-1 rounded bg-emerald-900/60 px-2 py-0.5 text-xs font-semibold text-emerald-200 ring-1 ring-emerald-700">
      <span aria-hidden className="h-2 w-2 rounded-full bg-emerald-400 motion-safe:animate-pulse" />
      LIVE
    </span>
  );
}

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
            <StartForm initialPreset={params.get("preset")} initialCluster={params.get("cluster")} onCreated={created} />
          </div>
        </Card>
      )}
      {body}
    </div>
  );
}
