// Small shared pieces: badges, bars, states.
import type { ReactNode } from "react";
import { ApiError } from "../api/client";
import { clockTime, type Level } from "../lib/format";

const LEVEL_TEXT: Record<Level, string> = { ok: "text-emerald-300", warn: "text-yellow-300", bad: "text-red-300" };
const LEVEL_BG: Record<Level, string> = { ok: "bg-emerald-500", warn: "bg-yellow-500", bad: "bg-red-500" };

export function Badge({ children, tone = "slate" }: { children: ReactNode; tone?: "green" | "yellow" | "red" | "blue" | "purple" | "slate" }) {
  const tones = {
    green: "bg-emerald-900/60 text-emerald-200 ring-emerald-700",
    yellow: "bg-yellow-900/60 text-yellow-100 ring-yellow-700",
    red: "bg-red-900/60 text-red-100 ring-red-700",
    blue: "bg-blue-900/60 text-blue-100 ring-blue-700",
    purple: "bg-purple-900/60 text-purple-100 ring-purple-700",
    slate: "bg-slate-800 text-slate-200 ring-slate-600",
  };
  return <span className={`inline-flex items-center rounded px-2 py-0.5 text-xs font-medium ring-1 ${tones[tone]}`}>{children}</span>;
}

const TAG_CLASSES: Record<string, string> = {
  HTTP: "bg-blue-900/60 text-blue-100 ring-blue-700",
  CPU: "bg-orange-900/60 text-orange-100 ring-orange-700",
  MEM: "bg-rose-900/60 text-rose-100 ring-rose-700",
  SCALE: "bg-purple-900/60 text-purple-100 ring-purple-700",
  CASCADE: "bg-teal-900/60 text-teal-100 ring-teal-700",
};

/** The original's kind tag of a test or experiment: HTTP, CPU, MEM, SCALE, CASCADE. */
export function Tag({ tag }: { tag: string }) {
  const cls = TAG_CLASSES[tag] ?? "bg-slate-800 text-slate-200 ring-slate-600";
  return <span className={`inline-flex rounded px-2 py-0.5 text-xs font-semibold ring-1 ${cls}`}>{tag}</span>;
}

export function Dot({ level }: { level: Level | null }) {
  const colour = level ? LEVEL_BG[level] : "bg-slate-500";
  const label = level === "ok" ? "healthy" : level === "warn" ? "degraded" : level === "bad" ? "down" : "unknown";
  return <span role="img" aria-label={label} className={`inline-block h-2.5 w-2.5 rounded-full ${colour}`} />;
}

/** The colour of a series or namespace, next to its name (the name says it; the dot is decoration). */
export function Swatch({ colour }: { colour: string | undefined }) {
  return <span aria-hidden className="mr-2 inline-block h-2.5 w-2.5 rounded-full" style={{ backgroundColor: colour }} />;
}

/** A usage bar; unknown usage is said, never drawn as zero. */
export function UsageBar({ label, value, level, detail }: { label: string; value: number | null; level: Level | null; detail?: string }) {
  return (
    <div>
      <div className="flex justify-between text-xs text-slate-300">
        <span>{label}</span>
        <span className={level ? LEVEL_TEXT[level] : "text-slate-400"}>
          {value == null ? "unknown" : `${value.toFixed(0)}%`}
          {detail ? ` (${detail})` : ""}
        </span>
      </div>
      <div
        className="mt-1 h-2 rounded bg-slate-800"
        {...(value == null
          ? { "aria-hidden": true }
          : { role: "meter", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(value) })}
      >
        {value != null && level && <div className={`h-2 rounded ${LEVEL_BG[level]}`} style={{ width: `${Math.min(100, value)}%` }} />}
      </div>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" className="p-6 text-slate-400">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="rounded border border-dashed border-slate-700 p-6 text-center text-slate-400">{children}</p>;
}

/** An API error with the field at fault. */
export function ErrorBox({ error }: { error: unknown }) {
  const e = error instanceof ApiError ? error : null;
  return (
    <div role="alert" className="rounded border border-red-800 bg-red-950/60 p-4 text-red-100">
      <p className="font-medium">{e ? `${e.code}: ${e.message}` : String(error)}</p>
      {e?.field && <p className="mt-1 text-sm">Field: <code>{e.field}</code></p>}
    </div>
  );
}

/** Above data that a refresh failed to replace: the error, and when the data shown was received
 * (`receivedAt`, ms). Nothing while refreshes succeed (`error` null, as a query's is then).
 * `what` names the data where a page shows several. */
export function CouldNotRefresh({ error, receivedAt, what }: { error: unknown; receivedAt: number; what?: string }) {
  if (error == null) return null;
  return (
    <div className="space-y-1">
      <ErrorBox error={error} />
      <p role="status" className="text-sm text-yellow-200">
        Could not refresh{what ? ` ${what}` : ""}: showing what was received at {clockTime(receivedAt)}.
      </p>
    </div>
  );
}

export function Card({ children, className = "", style }: { children: ReactNode; className?: string; style?: React.CSSProperties }) {
  return (
    <section className={`rounded-lg border border-slate-800 bg-slate-900 p-4 ${className}`} style={style}>
      {children}
    </section>
  );
}

export interface Choice {
  value: string;
  label: string;
}

/** A labelled select for the page's subject (cluster, experiment). A value that is not among
 * the choices (a deep link to something gone) stays selectable, marked unknown; with no value,
 * the placeholder asks for one. */
export function Picker({
  id,
  label,
  value,
  choices,
  placeholder,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  choices: Choice[];
  placeholder?: string;
  onChange: (value: string) => void;
}) {
  const known = choices.some((c) => c.value === value);
  return (
    <div className="flex min-w-0 items-center gap-2 text-sm">
      <label htmlFor={id} className="text-slate-300">
        {label}
      </label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        className="min-w-0 max-w-full rounded border border-slate-700 bg-slate-900 px-2 py-1 text-slate-100"
      >
        {!value && !known && placeholder && <option value="">{placeholder}</option>}
        {value && !known && <option value={value}>{value} (unknown)</option>}
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </div>
  );
}
