// The one timeline of a load: stacked panels (planned load, RPS, p95 latency, error rate, replicas
// with their max, CPU against the HPA target) sharing one time axis and a synced cursor, with the
// load and cooldown shaded; exported as CSV or PNG.
import { useId, useRef, useState, type ReactNode } from "react";
import { CartesianGrid, ComposedChart, Line, ReferenceArea, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { saveBlob } from "../lib/download";
import { PALETTE, wholeSeconds } from "../lib/format";
import { limitLines, panelRows, timelineCsv, type Timeline, type TimelineRow } from "../lib/timeline";
import { readPanels, timelinePng } from "../lib/timelineImage";
import { AXIS, GRID, LINE, MARGIN, refLabel, TOOLTIP } from "./chartTheme";
import { Card, Empty, ErrorBox, Swatch } from "./ui";

const HEIGHT = 150;
const LOAD_COLOUR = "#a855f7";
const BUTTON = "rounded border border-slate-600 px-3 py-1 text-sm text-slate-100 hover:bg-slate-800 disabled:opacity-50";

type Legend = { name: string; colour: string }[];
type Series = { name: string; colour: string; value: (r: TimelineRow) => number | null; step?: boolean };

function Windows({ tl }: { tl: Timeline }) {
  return (
    <>
      {tl.load && (
        <ReferenceArea x1={tl.load.from} x2={tl.load.to} fill="#3b82f6" fillOpacity={0.15} ifOverflow="hidden" label={refLabel(tl.load.open ? "load (running)" : "load", "insideTopLeft")} />
      )}
      {tl.cooldown && <ReferenceArea x1={tl.cooldown.from} x2={tl.cooldown.to} fill="#eab308" fillOpacity={0.08} ifOverflow="hidden" label={refLabel("cooldown", "insideTopLeft")} />}
    </>
  );
}

/** One panel: its heading, its legend, and its chart or why it has none. */
function Panel({ title, legend, note, children }: { title: string; legend: Legend; note: string | null; children: ReactNode }) {
  const id = useId();
  return (
    <section aria-labelledby={id} data-timeline-panel={title} data-legend={JSON.stringify(legend)} className="border-t border-slate-800 pt-2 first:border-t-0">
      <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
        <h3 id={id} className="text-sm font-medium text-slate-200">
          {title}
        </h3>
        {legend.length > 0 && (
          <ul className="flex flex-wrap gap-x-3 text-xs text-slate-300" aria-label={`${title}: series`}>
            {legend.map((l) => (
              <li key={l.name}>
                <Swatch colour={l.colour} />
                {l.name}
              </li>
            ))}
          </ul>
        )}
      </div>
      {note != null ? (
        <p data-reason className="mt-1 rounded border border-dashed border-slate-700 p-3 text-sm text-slate-300">
          {note}
        </p>
      ) : (
        children
      )}
    </section>
  );
}

/** A chart of `series` over the shared axis; `lines` are reference lines (limits). */
function PanelChart({
  tl,
  sync,
  label,
  series,
  lines = [],
  unit,
}: {
  tl: Timeline;
  sync: string;
  label: string;
  series: Series[];
  lines?: { y: number; colour: string; label: string }[];
  unit: (v: number) => string;
}) {
  const rows = panelRows(tl.rows, (r) => series.some((s) => s.value(r) != null));
  return (
    <figure aria-label={label}>
      <ResponsiveContainer width="100%" height={HEIGHT}>
        <ComposedChart data={rows} syncId={sync} syncMethod="value" margin={MARGIN}>
          <CartesianGrid stroke={GRID} />
          <XAxis dataKey="t" type="number" domain={tl.domain} allowDataOverflow tickFormatter={wholeSeconds} stroke={AXIS} />
          <YAxis stroke={AXIS} width={56} tickFormatter={unit} domain={[0, "auto"]} allowDecimals={false} />
          <Tooltip labelFormatter={(t) => `${wholeSeconds(Number(t))} since the start`} formatter={(v) => unit(Number(v))} {...TOOLTIP} />
          <Windows tl={tl} />
          {series.map((s) => (
            <Line key={s.name} name={s.name} dataKey={s.value} stroke={s.colour} type={s.step ? "stepAfter" : "linear"} connectNulls={false} {...LINE} />
          ))}
          {lines.map((l) => (
            <ReferenceLine key={l.label} y={l.y} stroke={l.colour} strokeDasharray="6 4" ifOverflow="extendDomain" label={refLabel(l.label, "insideTopRight")} />
          ))}
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}

/** `first`, ended as a sentence, then `then` (if any). */
const sentences = (first: string, then: string | null): string => (then ? `${/[.!?]$/.test(first) ? first : `${first}.`} ${then}` : first);

const num = (digits: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : "");

/** The timeline card. `title` heads the PNG; `fileName` is without extension; `empty` says why
 * there is no timeline yet. */
export function LoadTimeline({ tl, title, fileName, empty }: { tl: Timeline | null; title: string; fileName: string; empty: string }) {
  const sync = useId();
  const ref = useRef<HTMLDivElement>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);
  if (!tl) {
    return (
      <Card>
        <h2 className="mb-2 font-semibold">Timeline</h2>
        <Empty>{empty}</Empty>
      </Card>
    );
  }
  const colour = (k: number) => PALETTE[k % PALETTE.length] ?? "#3b82f6";
  const targets = tl.targets.map((t, k) => ({ ...t, colour: colour(k) }));
  const hasPlan = tl.rows.some((r) => r.vus != null);
  const png = async () => {
    setExporting(true);
    setExportError(null);
    try {
      const root = ref.current;
      if (!root) return;
      saveBlob(await timelinePng(title, readPanels(root)), `${fileName}.png`);
    } catch (e) {
      setExportError(e);
    } finally {
      setExporting(false);
    }
  };
  const csv = () => saveBlob(new Blob([timelineCsv(tl)], { type: "text/csv;charset=utf-8" }), `${fileName}.csv`);
  const span = `${Math.round(tl.domain[1] - tl.domain[0])} seconds`;
  const measured = (what: string, s: Series, also: string | null = null): ReactNode => (
    <Panel title={what} legend={tl.unmeasured ? [] : [{ name: s.name, colour: s.colour }]} note={tl.unmeasured && sentences(tl.unmeasured, also)}>
      <PanelChart tl={tl} sync={sync} label={`${what} over ${span}`} series={[s]} unit={what.startsWith("Error") ? (v) => `${(v * 100).toFixed(1)}%` : num(0)} />
    </Panel>
  );
  return (
    <Card>
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <h2 className="font-semibold">Timeline</h2>
        <span className="ml-auto flex gap-2">
          <button type="button" className={BUTTON} onClick={csv}>
            Export timeline CSV
          </button>
          <button type="button" className={BUTTON} onClick={() => void png()} disabled={exporting}>
            {exporting ? "Drawing…" : "Export timeline PNG"}
          </button>
        </span>
      </div>
      {exportError != null && <ErrorBox error={exportError} />}
      <div ref={ref} className="space-y-2">
        <Panel title="Load (planned VUs)" legend={hasPlan ? [{ name: "planned VUs", colour: LOAD_COLOUR }] : []} note={hasPlan ? null : "No planned load curve for this run (stress tests and runs not started have none)."}>
          <PanelChart tl={tl} sync={sync} label={`Planned virtual users over ${span}`} series={[{ name: "planned VUs", colour: LOAD_COLOUR, value: (r) => r.vus }]} unit={num(0)} />
        </Panel>
        {measured("Requests per second", { name: "req/s", colour: "#22c55e", value: (r) => r.rps })}
        {measured("p95 latency (ms)", { name: "p95 ms", colour: "#f97316", value: (r) => r.p95Ms }, tl.p95PerRunner)}
        {measured("Error rate", { name: "errors", colour: "#ef4444", value: (r) => r.errorRate })}
        <Panel
          title="Replicas"
          legend={targets.map((t) => ({ name: t.name, colour: t.colour }))}
          note={targets.length ? null : "No target deployments with an HPA in this time range."}
        >
          <PanelChart
            tl={tl}
            sync={sync}
            label={`Replicas of ${targets.map((t) => t.name).join(", ")} with their maximum, over ${span}`}
            series={targets.map((t, k) => ({ name: t.name, colour: t.colour, value: (r) => r.replicas[k] ?? null, step: true }))}
            lines={limitLines(targets, (t) => t.maxReplicas, (v) => `max ${v}`)}
            unit={num(0)}
          />
        </Panel>
        <Panel
          title="CPU (% of requests) against the HPA target"
          legend={targets.map((t) => ({ name: t.name, colour: t.colour }))}
          note={targets.length ? null : "No target deployments with an HPA in this time range."}
        >
          <PanelChart
            tl={tl}
            sync={sync}
            label={`CPU of ${targets.map((t) => t.name).join(", ")} against the HPA target, over ${span}`}
            series={targets.map((t, k) => ({ name: t.name, colour: t.colour, value: (r) => r.cpu[k] ?? null }))}
            lines={limitLines(targets, (t) => t.cpuTargetPercent, (v) => `target ${v}%`)}
            unit={(v) => `${Math.round(v)}%`}
          />
        </Panel>
      </div>
      <p className="mt-2 text-xs text-slate-400">
        Seconds since the start, on one axis for every panel. <span className="text-blue-300">Blue</span>: the load;{" "}
        <span className="text-yellow-300">yellow</span>: the cooldown. Dashed lines: each target's maxReplicas and its HPA's CPU target (their current values).
      </p>
    </Card>
  );
}
