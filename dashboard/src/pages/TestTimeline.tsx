// A LoadTest's timeline in the test view: its measured series and planned load, and the HPAs of
// its cluster around its run (from the cluster's scaling history, the last 30 minutes).
import type { TestView } from "../api/client";
import { useScaling, useTestSeries } from "../api/queries";
import { LoadTimeline } from "../components/LoadTimeline";
import { isFinished } from "../lib/testView";
import { testTimeline } from "../lib/timeline";

export function TestTimeline({ test, now }: { test: TestView; now: number }) {
  const running = !isFinished(test);
  const series = useTestSeries(test.namespace, test.name, running);
  const scaling = useScaling(test.cluster);
  const missing = series.error
    ? `the measured series could not be read: ${series.error instanceof Error ? series.error.message : String(series.error)}`
    : "the measured series is loading.";
  return (
    <LoadTimeline
      tl={testTimeline(test, series.data, scaling.data, missing, now)}
      title={`${test.namespace}/${test.name} on ${test.cluster}`}
      fileName={`timeline-${test.name}`}
      empty="The timeline starts when the runner starts."
    />
  );
}
