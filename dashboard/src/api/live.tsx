// Keeps the query caches fresh: server-sent events invalidate what changed, and clusters'
// deltas are applied to the cached snapshot and cluster answers; while the stream is down,
// queries poll instead.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { applyDelta, applyDeltaToSnapshot } from "../lib/deltas";
import { withPoint } from "../lib/timeline";
import type { ClusterView, Snapshot, TestSeries } from "./client";
import { follow, type StreamState } from "./events";

const LiveContext = createContext<StreamState>("connecting");

export function LiveProvider({ children, enabled }: { children: ReactNode; enabled: boolean }) {
  const client = useQueryClient();
  const [state, setState] = useState<StreamState>("connecting");
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    void follow(
      (e) => {
        switch (e.type) {
          case "test":
            void client.invalidateQueries({ queryKey: ["tests"] });
            // A schedule's history is its runs.
            void client.invalidateQueries({ queryKey: ["schedules"] });
            break;
          case "experiment":
            void client.invalidateQueries({ queryKey: ["experiments"] });
            void client.invalidateQueries({ queryKey: ["schedules"] });
            break;
          case "cluster":
          case "snapshot":
            // A cluster's own fields, or metrics-only data (VMs, node disk and network).
            void client.invalidateQueries({ queryKey: ["snapshot"] });
            void client.invalidateQueries({ queryKey: ["cluster"] });
            break;
          case "delta":
            client.setQueryData<Snapshot>(["snapshot"], (old) => (old ? applyDeltaToSnapshot(old, e) : old));
            client.setQueryData<ClusterView>(["cluster", e.cluster], (old) => (old ? applyDelta(old, e) : old));
            break;
          case "revisions":
            break;
          case "testSeries":
            // A running test's new point joins its cached series at once.
            client.setQueryData<TestSeries>(["tests", e.namespace, e.name, "series"], (old) => (old ? withPoint(old, e.point) : old));
            break;
          case "resync":
            void client.invalidateQueries();
            break;
        }
      },
      setState,
      abort.signal,
    );
    return () => abort.abort();
  }, [client, enabled]);
  return <LiveContext.Provider value={state}>{children}</LiveContext.Provider>;
}

/** The event stream's state. */
export function useLive(): StreamState {
  return useContext(LiveContext);
}

/** How often a query polls: rarely while events flow, often while they do not. */
export function usePollInterval(whenDown: number): number {
  return useLive() === "open" ? Math.max(whenDown * 6, 30_000) : whenDown;
}
