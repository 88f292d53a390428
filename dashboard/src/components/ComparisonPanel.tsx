// A run's comparison with its baseline: the verdict (RegressionDetected), the deltas per metric,
// and a link to the Compare page with both runs side by side.
import { Link } from "react-router";
import type { Comparison, RegressionView } from "../api/client";
import { compareLink, deltaRows, regressionInfo } from "../lib/comparison";
import { Badge } from "./ui";

export function ComparisonPanel({
  run,
  regression,
  comparison,
  compare,
  kind,
}: {
  run: { namespace: string; name: string };
  regression: RegressionView | null | undefined;
  comparison: Comparison | null | undefined;
  /** Link to the Compare page. */
  compare?: boolean;
  /** What the runs are, for that link: LoadTests unless `experiment`. */
  kind?: "experiment";
}) {
  const info = regressionInfo(regression);
  if (!info) return null;
  const rows = deltaRows(comparison);
  const baseline = comparison?.baseline.name;
  return (
    <section aria-label={`${run.name}: comparison with its baseline`} className="mt-2 rounded border border-slate-800 p-3 text-sm">
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={info.tone}>{info.label}</Badge>
        {baseline && <span className="text-slate-300">against baseline {baseline}</span>}
        {compare && baseline && (
          <Link to={compareLink(run, { namespace: run.namespace, name: baseline }, kind)} className="ml-auto text-blue-300 hover:underline">
            Compare side by side
          </Link>
        )}
      </div>
      <p className="mt-1 text-slate-300">{info.message}</p>
      {rows.length > 0 && (
        <table className="mt-2 w-full text-left text-xs">
          <thead className="text-slate-400">
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Baseline</th>
              <th scope="col">This run</th>
              <th scope="col">Change</th>
              <th scope="col">%</th>
              <th scope="col">Tolerance</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.metric} className={r.regressed ? "text-red-200" : "text-slate-200"}>
                <th scope="row" className="font-normal">
                  {r.label}
                  {r.regressed && <span className="sr-only"> (regressed)</span>}
                </th>
                <td>{r.baseline}</td>
                <td>{r.current}</td>
                <td>{r.delta}</td>
                <td>{r.percent}</td>
                <td>{r.tolerance}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {comparison && comparison.notCompared && comparison.notCompared.length > 0 && (
        <p className="mt-1 text-xs text-slate-400">Not compared: {comparison.notCompared.join("; ")}</p>
      )}
    </section>
  );
}
