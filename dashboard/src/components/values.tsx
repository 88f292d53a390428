// Label-and-value blocks of a <dl>: a Stat is a figure to compare at a glance, a Field a fact
// read in a line.
import type { ReactNode } from "react";

/** A figure under its label; `passed` colours it by its threshold's verdict (null: none set). */
export function Stat({ label, value, passed }: { label: string; value: string; passed?: boolean | null }) {
  const colour = passed === true ? "text-emerald-300" : passed === false ? "text-red-300" : "text-slate-100";
  return (
    <div className="rounded border border-slate-800 bg-slate-950 px-3 py-2">
      <dt className="text-xs text-slate-400">{label}</dt>
      <dd className={`text-lg font-semibold ${colour}`}>{value}</dd>
    </div>
  );
}

/** A fact in a line, "Cluster dev"; long values (URLs) wrap instead of widening the page. */
export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="inline text-slate-400">{label} </dt>
      <dd className="inline break-words">{children}</dd>
    </div>
  );
}
