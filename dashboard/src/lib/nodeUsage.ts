// A run's node usage record (status.nodeUsage) as table rows and notes (pure, unit-tested):
// CPU and memory per node before, at the peak of and after the run. A figure the operator did
// not read is "—", never 0.
import type { NodeUsageFigures, NodeUsageRecord } from "../api/client";
import { bytes } from "./format";

export interface NodeUsageRow {
  node: string;
  simulated: boolean;
  cpu: [string, string, string];
  memory: [string, string, string];
}

function cpu(f: NodeUsageFigures | null | undefined): string {
  if (!f) return "—";
  return `${f.cpuMillis}m${f.cpuPercent == null ? "" : ` (${f.cpuPercent.toFixed(0)}%)`}`;
}

function memory(f: NodeUsageFigures | null | undefined): string {
  if (!f) return "—";
  return `${bytes(f.memoryBytes)}${f.memoryPercent == null ? "" : ` (${f.memoryPercent.toFixed(0)}%)`}`;
}

/** One row per node: before, peak, after. */
export function nodeUsageRows(r: NodeUsageRecord | null | undefined): NodeUsageRow[] {
  return (r?.nodes ?? []).map((n) => ({
    node: n.node,
    simulated: Boolean(n.simulated),
    cpu: [cpu(n.before), cpu(n.peak), cpu(n.after)],
    memory: [memory(n.before), memory(n.peak), memory(n.after)],
  }));
}

const time = (t: string | null | undefined) => (t ? new Date(t).toISOString().slice(11, 19) : null);

/** What the record holds and what it lacks, in words. */
export function nodeUsageNotes(r: NodeUsageRecord | null | undefined, started: boolean): string[] {
  if (!r) return [started ? "Not recorded yet: the operator folds in its cluster's node readings at its next look." : "Recorded once the run starts."];
  if (r.notMeasured) return [`Not measured: ${r.notMeasured}`];
  const notes: string[] = [];
  const before = time(r.beforeAt);
  notes.push(before ? `Before: read at ${before} UTC, the last reading before the start.` : "Before: no reading in the two minutes before the start.");
  notes.push(
    r.samplesDuring > 0
      ? `Peak: the highest CPU and memory of ${r.samplesDuring} reading${r.samplesDuring === 1 ? "" : "s"} during the run.`
      : "Peak: no reading during the run yet (shorter than the operator's poll).",
  );
  const after = time(r.afterAt);
  notes.push(after ? `After: read at ${after} UTC, a settle time after the end.` : r.afterMissing ? `After: not read: ${r.afterMissing}` : "After: read a settle time after the run ends.");
  if ((r.nodes ?? []).some((n) => n.simulated)) notes.push("kwok simulates these nodes: their figures are kwok's simulated usage, not a machine's.");
  return notes;
}
