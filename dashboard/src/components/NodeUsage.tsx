// A run's node CPU and memory before, at the peak of and after the run (status.nodeUsage).
import type { NodeUsageRecord } from "../api/client";
import { nodeUsageNotes, nodeUsageRows } from "../lib/nodeUsage";

export function NodeUsage({ record, cluster, started }: { record: NodeUsageRecord | null | undefined; cluster: string; started: boolean }) {
  const rows = nodeUsageRows(record);
  const id = `node-usage-${cluster}`;
  return (
    <section aria-labelledby={id} className="mt-2 rounded border border-slate-800 p-3 text-sm">
      <h3 id={id} className="font-medium">
        {cluster} nodes before, during and after the run
      </h3>
      <ul className="mt-1 text-xs text-slate-400">
        {nodeUsageNotes(record, started).map((n) => (
          <li key={n}>{n}</li>
        ))}
      </ul>
      {rows.length > 0 && (
        <table className="mt-2 w-full text-left text-xs" aria-labelledby={id}>
          <thead className="text-slate-400">
            <tr>
              <th scope="col">Node</th>
              <th scope="col">CPU before</th>
              <th scope="col">CPU peak</th>
              <th scope="col">CPU after</th>
              <th scope="col">Memory before</th>
              <th scope="col">Memory peak</th>
              <th scope="col">Memory after</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.node} data-node={r.node}>
                <th scope="row" className="font-normal">
                  {r.node}
                  {r.simulated && <span className="text-slate-400"> (simulated)</span>}
                </th>
                {[...r.cpu, ...r.memory].map((v, i) => (
                  <td key={i}>{v}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
