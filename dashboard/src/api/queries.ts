// One hook per API read, so every page shares the caches.
import { useQuery } from "@tanstack/react-query";
import { get, type ClusterView, type ExperimentView, type PresetView, type ScalingHistory, type Schemas, type ServiceView, type Snapshot, type TestSeries, type TestView, type TrafficView } from "./client";
import { usePollInterval } from "./live";

export function useSnapshot() {
  const refetchInterval = usePollInterval(5_000);
  // No page lists pods from the snapshot: the Cluster page reads its cluster's own answer.
  return useQuery({ queryKey: ["snapshot"], queryFn: () => get<Snapshot>("/snapshot?pods=false"), refetchInterval });
}

export function useCluster(name: string) {
  const refetchInterval = usePollInterval(5_000);
  return useQuery({
    queryKey: ["cluster", name],
    queryFn: () => get<ClusterView>(`/clusters/${encodeURIComponent(name)}`),
    refetchInterval,
  });
}

export function useServices(name: string) {
  return useQuery({
    queryKey: ["cluster", name, "services"],
    queryFn: () => get<ServiceView[]>(`/clusters/${encodeURIComponent(name)}/services`),
    refetchInterval: 30_000,
  });
}

export function useScaling(name: string | undefined) {
  return useQuery({
    queryKey: ["scaling", name],
    queryFn: () => get<ScalingHistory>(`/clusters/${encodeURIComponent(name ?? "")}/scaling`),
    enabled: Boolean(name),
    refetchInterval: 5_000,
  });
}

export function useTraffic(name: string | undefined) {
  return useQuery({
    queryKey: ["traffic", name],
    queryFn: () => get<TrafficView>(`/clusters/${encodeURIComponent(name ?? "")}/traffic`),
    enabled: Boolean(name),
    refetchInterval: 5_000,
  });
}

export function useAllTraffic() {
  return useQuery({ queryKey: ["traffic"], queryFn: () => get<TrafficView[]>("/traffic"), refetchInterval: 5_000 });
}

export function usePresets() {
  return useQuery({ queryKey: ["presets"], queryFn: () => get<PresetView[]>("/presets"), staleTime: Infinity });
}

export function useTests() {
  const refetchInterval = usePollInterval(5_000);
  return useQuery({ queryKey: ["tests"], queryFn: () => get<TestView[]>("/tests"), refetchInterval });
}

export function useExperiments() {
  const refetchInterval = usePollInterval(5_000);
  return useQuery({ queryKey: ["experiments"], queryFn: () => get<ExperimentView[]>("/experiments"), refetchInterval });
}

export function useExperiment(namespace: string | undefined, name: string | undefined) {
  return useQuery({
    queryKey: ["experiments", namespace, name],
    queryFn: () => get<ExperimentView>(`/experiments/${encodeURIComponent(namespace ?? "")}/${encodeURIComponent(name ?? "")}`),
    enabled: Boolean(namespace && name),
    refetchInterval: (q) => (q.state.data?.live ? 3_000 : false),
  });
}

/** A LoadTest's measured series (RPS, p95, errors, planned load); refreshed while it runs. */
export function useTestSeries(namespace: string | undefined, name: string | undefined, running: boolean) {
  return useQuery({
    queryKey: ["tests", namespace, name, "series"],
    queryFn: () => get<TestSeries>(`/tests/${encodeURIComponent(namespace ?? "")}/${encodeURIComponent(name ?? "")}/series`),
    enabled: Boolean(namespace && name),
    refetchInterval: running ? 5_000 : false,
  });
}

/** TestSchedules with their runs' history. */
export function useSchedules() {
  const refetchInterval = usePollInterval(5_000);
  return useQuery({ queryKey: ["schedules"], queryFn: () => get<Schemas["ScheduleView"][]>("/schedules"), refetchInterval });
}
