// Sparklines of a node's network history: the SVG path of a series (gaps where nothing was
// measured, never drawn as zero) and the words a screen reader hears instead.
import { bytes } from "./format";

/** The SVG path of `values` in a `width` × `height` box, scaled from 0 to the largest value;
 * a missing value breaks the line, and a point alone is a zero-length segment (a dot with
 * round caps). Empty when nothing was measured. */
export function sparklinePath(values: (number | null | undefined)[], width: number, height: number): string {
  const known = values.filter((v): v is number => v != null && Number.isFinite(v));
  if (known.length === 0) return "";
  const top = Math.max(...known);
  const x = (i: number) => (values.length === 1 ? width / 2 : (i / (values.length - 1)) * width);
  const y = (v: number) => (top > 0 ? height - (v / top) * height : height);
  let path = "";
  let run = 0;
  const lift = () => {
    if (run === 1) path += "l0,0";
    run = 0;
  };
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) return lift();
    path += `${run > 0 ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    run += 1;
  });
  lift();
  return path;
}

/** What a series of byte rates shows, in words: its latest, lowest and highest value. */
export function rateSummary(values: (number | null | undefined)[]): string {
  const known = values.filter((v): v is number => v != null && Number.isFinite(v));
  if (known.length === 0) return "not measured";
  const rate = (v: number) => `${bytes(v)}/s`;
  return `now ${rate(known.at(-1) ?? 0)}, lowest ${rate(Math.min(...known))}, highest ${rate(Math.max(...known))}`;
}
