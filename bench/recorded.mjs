// The figures the benchmarks recorded (bench/recorded.json), and how a new one compares: each
// script prints a new figure next to the recorded one, flagging a change of more than 20 %.
import { readFileSync } from "node:fs";

const file = new URL("./recorded.json", import.meta.url);
const figures = JSON.parse(readFileSync(file, "utf8"));

/** Whether a bigger figure is better: rates (a `rps` or `ratio` part of the key). Every other
 * figure (times, sizes, memory, requests per test) is better when lower. */
export const higherIsBetter = (key) => key.split(".").some((part) => part === "rps" || part === "ratio");

/** "(recorded X at <commit> on <date>, +n %)" for `key`, with "REGRESSION" past 20 % worse,
 * or "(nothing recorded for <key>)". */
export function recorded(key, value) {
  const r = figures[key];
  if (!r) return `(nothing recorded for ${key})`;
  const change = r.value ? ((value - r.value) / r.value) * 100 : 0;
  const sign = change >= 0 ? "+" : "";
  const worse = higherIsBetter(key) ? -change : change;
  const flag = worse > 20 ? " REGRESSION: more than 20 % worse than recorded" : "";
  return `(recorded ${r.value} at ${r.commit} on ${r.date}, ${sign}${change.toFixed(0)} %)${flag}`;
}

// `node bench/recorded.mjs <key> <value>` prints the comparison, for benchmarks not in JS.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [key, value] = process.argv.slice(2);
  console.log(recorded(key, Number(value)));
}
