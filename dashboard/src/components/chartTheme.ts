// One look for every Recharts chart on the dark pages: axes, grid, tooltips, labels, step areas.

/** Axis lines, ticks and chart labels (slate-400: readable on slate-900). */
export const AXIS = "#94a3b8";
/** Grid lines (slate-800): visible, but quieter than the data. */
export const GRID = "#1e293b";
/** Room on the right for the last tick label and reference labels. */
export const MARGIN = { top: 10, right: 20, bottom: 0, left: 0 };
export const TOOLTIP = { contentStyle: { backgroundColor: "#0f172a", borderColor: "#334155" }, labelStyle: { color: "#e2e8f0" } };

/** The label of a reference line or area, in the axis colour. */
export const refLabel = (value: string, position: "insideTopLeft" | "insideTopRight") => ({ value, fill: AXIS, fontSize: 11, position });

/** Replica series: replicas change in steps between samples, and without animation a live
 * update does not replay the whole series. */
export const STEP_AREA = { type: "stepAfter", fillOpacity: 0.15, isAnimationActive: false } as const;
/** Series lines: samples are dense, so dots would only blur the line. */
export const LINE = { dot: false, isAnimationActive: false } as const;
