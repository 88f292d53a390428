// HPA history transforms for the Scaling page (pure, unit-tested).
import type { ScalingHistory, Schemas } from "../api/client";
import { PALETTE } from "./format";

export type ScalingPoint = Schemas["ScalingPoint"];
export type HpaSample = Schemas["HpaSample"];

/** An HPA's identity: namespace/name. */
export function hpaId(h: HpaSample): string {
  return `${h.namespace}/${h.name}`;
}

/** A chart series' name, as the original: namespace/deployment (one HPA per target in practice:
 * Kubernetes refuses to act on two HPAs that select the same pods). */
export function seriesKey(h: HpaSample): string {
  return `${h.namespace}/${h.deployment}`;
}

/** The newest point, or null when there is none yet. */
export function latest(history: ScalingHistory | null | undefined): ScalingPoint | null {
  return history?.points[history.points.length - 1] ?? null;
}

export type HpaBadge = { label: "AT MAX" | "SCALING" | "STABLE"; tone: "red" | "yellow" | "green" };

/** AT MAX while pinned at (or above) maxReplicas and not scaling down; SCALING while current ≠
 * desired; STABLE otherwise. */
export function hpaBadge(h: HpaSample): HpaBadge {
  if (h.currentReplicas >= h.maxReplicas && h.desiredReplicas >= h.currentReplicas) return { label: "AT MAX", tone: "red" };
  if (h.currentReplicas !== h.desiredReplicas) return { label: "SCALING", tone: "yellow" };
  return { label: "STABLE", tone: "green" };
}

/** Where current replicas sit between min and max, in percent: at least 5 (so the bar shows), at most 100. */
export function progress(h: HpaSample): number {
  const span = h.maxReplicas - h.minReplicas;
  const fraction = span > 0 ? (h.currentReplicas - h.minReplicas) / span : h.currentReplicas >= h.maxReplicas ? 1 : 0;
  return Math.min(100, Math.max(5, fraction * 100));
}

/** One chart series: an HPA's namespace/deployment with its colour and latest known limits. */
export interface Series {
  key: string;
  colour: string;
  /** maxReplicas at the HPA's last sample. */
  max: number;
  /** targetCpuPercent at the HPA's last sample (null: it does not scale on CPU utilisation). */
  target: number | null;
  /** Whether the HPA is in the newest point (false: it was deleted during the history). */
  present: boolean;
}

/** A chart row: `t` (ms since the epoch) and one column per series key; null where the HPA did not
 * exist at that time or reported nothing (drawn as a gap, never as 0). Series keys contain "/", so
 * they never collide with "t". */
export type Row = { t: number; [series: string]: number | null };

function seriesOf(points: ScalingPoint[]): Series[] {
  const byKey = new Map<string, Series>();
  const last = points[points.length - 1];
  const inLast = new Set(last ? last.hpas.map(seriesKey) : []);
  for (const p of points) {
    for (const h of p.hpas) {
      const key = seriesKey(h);
      const known = byKey.get(key);
      if (known) {
        known.max = h.maxReplicas;
        known.target = h.targetCpuPercent ?? null;
      } else {
        byKey.set(key, {
          key,
          colour: PALETTE[byKey.size % PALETTE.length] ?? "#3b82f6",
          max: h.maxReplicas,
          target: h.targetCpuPercent ?? null,
          present: inLast.has(key),
        });
      }
    }
  }
  return [...byKey.values()];
}

function rowsOf(points: ScalingPoint[], series: Series[], value: (h: HpaSample) => number | null): Row[] {
  const rows: Row[] = [];
  for (const p of points) {
    const t = Date.parse(p.timestamp);
    if (!Number.isFinite(t)) continue;
    const row: Row = { t };
    for (const s of series) row[s.key] = null;
    for (const h of p.hpas) {
      const key = seriesKey(h);
      if (row[key] == null) row[key] = value(h);
    }
    rows.push(row);
  }
  return rows;
}

/** Replicas over time: one column per HPA (namespace/deployment), colours by first appearance. */
export function toReplicaSeries(points: ScalingPoint[]): { series: Series[]; rows: Row[] } {
  const series = seriesOf(points);
  return { series, rows: rowsOf(points, series, (h) => h.currentReplicas) };
}

/** CPU utilisation over time, with the series that never reported CPU and a y maximum that keeps
 * every value and target in view (at least 100). Colours match toReplicaSeries. */
export function toCpuSeries(points: ScalingPoint[]): { series: Series[]; rows: Row[]; unreported: string[]; yMax: number } {
  const series = seriesOf(points);
  const rows = rowsOf(points, series, (h) => h.currentCpuPercent ?? null);
  let yMax = 100;
  const reported = new Set<string>();
  for (const r of rows) {
    for (const s of series) {
      const v = r[s.key];
      if (v == null) continue;
      reported.add(s.key);
      yMax = Math.max(yMax, v);
    }
  }
  for (const s of series) if (s.target != null) yMax = Math.max(yMax, s.target);
  return { series, rows, unreported: series.filter((s) => !reported.has(s.key)).map((s) => s.key), yMax: Math.ceil(yMax / 10) * 10 };
}

/** The history is stale when its newest sample is older than three intervals at the time it was
 * received: the operator's sampler has stopped (the HPA watch never became ready, or hung). */
export function sampleLag(history: ScalingHistory, receivedAt: number): { stale: boolean; seconds: number | null } {
  const last = latest(history);
  const t = last ? Date.parse(last.timestamp) : NaN;
  if (!Number.isFinite(t) || !receivedAt) return { stale: false, seconds: null };
  const seconds = Math.max(0, (receivedAt - t) / 1000);
  return { stale: seconds > 3 * Math.max(1, history.intervalSeconds), seconds };
}

/** Clusters to try for the default selection: managed clusters in the snapshot's order, the
 * platform cluster last (the original defaulted to it, and it normally runs no HPAs). */
export function candidateClusters(clusters: { name: string; tier?: string | null }[]): string[] {
  const platform = (c: { tier?: string | null }) => c.tier === "platform";
  return [...clusters.filter((c) => !platform(c)), ...clusters.filter(platform)].map((c) => c.name);
}

/** The default cluster: the first candidate whose newest point has HPAs, asked one at a time so
 * the usual case (dev has HPAs) costs one request. Clusters that cannot be asked are skipped and
 * listed; when every candidate failed, the first error is thrown. */
export async function firstWithHpas(
  candidates: string[],
  load: (cluster: string) => Promise<ScalingHistory>,
): Promise<{ cluster: string | null; failed: { cluster: string; error: unknown }[] }> {
  const failed: { cluster: string; error: unknown }[] = [];
  for (const cluster of candidates) {
    try {
      const history = await load(cluster);
      if ((latest(history)?.hpas.length ?? 0) > 0) return { cluster, failed };
    } catch (error) {
      failed.push({ cluster, error });
    }
  }
  if (failed.length > 0 && failed.length === candidates.length) throw failed[0]?.error;
  return { cluster: null, failed };
}
