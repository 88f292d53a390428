import { cloneElement, type ReactElement } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation } from "react-router";
import type { ClusterView, ExperimentView, PresetView, ScalingHistory, Snapshot, TestSeries, TestView, TrafficView } from "../api/client";
import { experiment } from "../lib/analysis.fixtures";
import { hpa } from "../lib/scaling.fixtures";
import { nodeFigures } from "../components/nodeFixture";
import { runningVm } from "../components/vmFixture";
import { Analysis } from "./Analysis";

// jsdom has no layout: give the charts a size so they draw.
vi.mock("recharts", async (original) => {
  const recharts = await original<typeof import("recharts")>();
  return {
    ...recharts,
    ResponsiveContainer: ({ children }: { children: ReactElement<{ width?: number; height?: number }> }) => cloneElement(children, { width: 800, height: 300 }),
  };
});

vi.mock("../lib/download", () => ({ saveBlob: (blob: Blob, name: string) => saved.push({ blob, name }) }));

beforeEach(() => {
  // Anything not seeded stays loading.
  vi.stubGlobal("fetch", vi.fn(() => new Promise(() => {})));
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const T0 = Date.now() - 600_000;
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

const completed = experiment(
  {
    kpis: { scaleUpLatencySeconds: 18.4, peakReplicas: 7, scaleDownStartSeconds: null, timeToBaselineSeconds: 175, avgRpsPerPod: null },
    deployments: [
      { namespace: "demo", name: "nginx-web", hpa: "nginx-web-hpa", baselineReplicas: 2, peakReplicas: 5, finalReplicas: 2, baselineCpuPercent: 10, peakCpuPercent: 140, finalCpuPercent: 12 },
      { namespace: "demo", name: "httpbin", hpa: "httpbin-hpa", baselineReplicas: 1, peakReplicas: 2, finalReplicas: 2 },
    ],
    events: [
      { time: at(25), phase: "Load", namespace: "demo", deployment: "nginx-web", fromReplicas: 2, toReplicas: 5, cpuPercent: 140 },
      { time: at(200), phase: "Cooldown", namespace: "demo", deployment: "nginx-web", fromReplicas: 5, toReplicas: 2, cpuPercent: 11 },
    ],
    samples: [
      { time: at(0), phase: "Baseline", replicas: [2, 1], cpuPercent: [10, 5] },
      { time: at(25), phase: "Load", replicas: [5, 2], cpuPercent: [140, 60] },
      { time: at(200), phase: "Cooldown", replicas: [2, 2], cpuPercent: [11, 5] },
    ],
  },
  T0,
);

const live: ExperimentView = {
  ...completed,
  name: "scale-heavy-xyz",
  cluster: "staging",
  live: true,
  phase: "Loading",
  preset: "scale-heavy",
  loadTest: "scale-heavy-xyz-load",
  startedAt: new Date(Date.now() - 30_000).toISOString(),
  loadStartedAt: new Date(Date.now() - 20_000).toISOString(),
  loadEndedAt: null,
  finishedAt: null,
  kpis: null,
  events: [],
  samples: [{ time: new Date(Date.now() - 2_000).toISOString(), phase: "Load", replicas: [3], cpuPercent: [90] }],
  spec: { ...completed.spec, cluster: "staging", load: { preset: "scale-heavy" } },
};

const loadTest = {
  namespace: "default",
  name: "scale-light-abcde-load",
  cluster: "dev",
  queued: false,
  deleting: false,
  phase: "Completed",
  reason: "RunnerSimulated",
  message: "the runner ran on simulated node dev-worker1 in cluster dev (kwok): simulated pods do no work, so nothing was measured",
  spec: { cluster: "dev" },
} as TestView;

const LAB_REASON = "the lab's runners are simulated: nothing was measured";
/** The series API in the lab: the planned load, no measured point, the reason. */
const labSeries: TestSeries = {
  source: "unavailable",
  reason: LAB_REASON,
  stepSeconds: 5,
  startedAt: at(10),
  finishedAt: at(70),
  load: [
    { offsetSeconds: 0, vus: 30 },
    { offsetSeconds: 60, vus: 30 },
  ],
  points: [],
  percentiles: null,
};
const devHistory: ScalingHistory = {
  cluster: "dev",
  intervalSeconds: 5,
  points: [{ timestamp: at(200), hpas: [hpa({ namespace: "demo", name: "nginx-web-hpa", deployment: "nginx-web", maxReplicas: 8, targetCpuPercent: 50 })] }],
};
const saved: { blob: Blob; name: string }[] = [];

const cluster = (name: string, tier: string): ClusterView =>
  ({
    name,
    tier,
    reachable: true,
    metricsAvailable: true,
    nodes: [{ name: `${name}-worker1`, roles: ["worker"], status: "Ready", podCount: 4, cpuAllocatableMillis: 2000, memoryAllocatableBytes: 4 * 1024 ** 3, usage: { cpuMillis: 1500, memoryBytes: 1024 ** 3 }, figuresMissing: `no node-exporter series for cluster ${name} in Prometheus at http://127.0.0.1:9090 (looked for cluster="${name}")` }],
    pods: [],
    namespaces: [],
  }) as ClusterView;

const traffic = (name: string, source: string): TrafficView => ({
  cluster: name,
  available: true,
  flows: [],
  forwarded: 10,
  dropped: 2,
  edges: [{ source, destination: "demo/nginx-web", sourceNamespace: "demo", destinationNamespace: "demo", flowCount: 12, forwardedCount: 10, droppedCount: 2, protocols: ["TCP/HTTP"] }],
});

const snapshot = { collectedAt: new Date().toISOString(), stale: false, podsOmitted: true, errors: [], vms: [], clusters: [cluster("platform", "platform"), cluster("dev", "dev"), cluster("staging", "staging")] } as Snapshot;

const presets: PresetView[] = [
  { name: "light-load", kind: "loadtest", tag: "HTTP", description: "30 VUs", spec: {} },
  { name: "scale-light", kind: "experiment", tag: "SCALE", description: "30 VUs for 60s on nginx-web", spec: {}, cooldownSeconds: 180 },
  { name: "scale-heavy", kind: "experiment", tag: "SCALE", description: "200 VUs for 120s on nginx-web", spec: {}, cooldownSeconds: 240 },
];

function Where() {
  return <p data-testid="location">{useLocation().search}</p>;
}

function renderAt(url: string, experiments: ExperimentView[] | undefined, extra: [unknown[], unknown][] = []) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  if (experiments) {
    client.setQueryData(["experiments"], experiments);
    for (const e of experiments) client.setQueryData(["experiments", e.namespace, e.name], e);
  }
  client.setQueryData(["snapshot"], snapshot);
  client.setQueryData(["presets"], presets);
  client.setQueryData(["tests"], [loadTest]);
  client.setQueryData(["traffic", "dev"], traffic("dev", "demo/dev-client"));
  client.setQueryData(["traffic", "staging"], traffic("staging", "demo/staging-client"));
  client.setQueryData(["cluster", "dev"], cluster("dev", "dev"));
  client.setQueryData(["cluster", "staging"], cluster("staging", "staging"));
  for (const [key, data] of extra) client.setQueryData(key, data);
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Analysis />
        <Where />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return client;
}

const location = () => new URLSearchParams(screen.getByTestId("location").textContent ?? "");
const card = (title: string) => screen.getByRole("heading", { name: title }).closest("section") as HTMLElement;

describe("Analysis", () => {
  it("shows the selected experiment's KPIs, deployments, events and its own cluster's traffic and nodes", () => {
    renderAt("/analysis?experiment=default/scale-light-abcde", [live, completed], [
      [["tests", "default", "scale-light-abcde-load", "series"], labSeries],
      [["scaling", "dev"], devHistory],
    ]);
    expect((screen.getByLabelText("Experiment") as HTMLSelectElement).value).toBe("default/scale-light-abcde");
    expect(screen.getByRole("option", { name: /scale-light-abcde — dev — Completed — 10m ago/ })).toBeTruthy();
    expect(screen.getByRole("option", { name: /scale-heavy-xyz — staging — Loading — .* \(live\)/ })).toBeTruthy();
    // Completed: no LIVE badge.
    expect(screen.queryByText("LIVE")).toBeNull();

    expect(within(card("Scale-up latency")).getByText("18.4 s")).toBeTruthy();
    expect(within(card("Peak replicas")).getByText("7 pods")).toBeTruthy();
    expect(within(card("Time to baseline")).getByText("2 m 55 s")).toBeTruthy();
    expect(within(card("Scale-down start")).getByText(/scale-down window/)).toBeTruthy();
    // No RPS: the child LoadTest says why.
    expect(within(card("Avg RPS per pod")).getByText(/No RPS: the runner ran on simulated node dev-worker1/)).toBeTruthy();
    expect(within(card("Total duration")).getByText("4 m 10 s")).toBeTruthy();
    expect(within(card("Throughput vs pods")).getByText(/No requests per second: the runner ran on simulated/)).toBeTruthy();

    const deployments = within(card("Per deployment")).getAllByRole("row");
    expect(deployments[1]?.textContent).toContain("demo/nginx-web");
    expect(deployments[1]?.textContent).toContain("2 → 5 → 2");
    expect(deployments[1]?.textContent).toContain("10% → 140% → 12%");
    const backColumn = within(deployments[0] as HTMLElement)
      .getAllByRole("columnheader")
      .findIndex((h) => h.textContent === "Back at baseline");
    const backAtBaseline = (row: number) => within(deployments[row] as HTMLElement).getAllByRole("cell")[backColumn]?.textContent;
    // nginx-web ended at its baseline (2); httpbin ended above it (2 > 1) and the experiment is over.
    expect(backAtBaseline(1)).toBe("yes");
    expect(backAtBaseline(2)).toBe("no");

    const events = within(card("HPA event log")).getAllByRole("row");
    expect(events).toHaveLength(3);
    expect(within(events[1] as HTMLElement).getByText("Load")).toBeTruthy();
    expect(events[1]?.textContent).toContain("2 → 5");
    expect(within(events[2] as HTMLElement).getByText("Cooldown")).toBeTruthy();

    // The experiment's own cluster (dev), not another one.
    const trafficCard = card("Traffic in dev now");
    expect(within(trafficCard).getByText("demo/dev-client")).toBeTruthy();
    expect(screen.queryByText("demo/staging-client")).toBeNull();
    // One timeline: planned load, replicas and CPU drawn on one axis with the load and the
    // cooldown shaded in each; RPS, p95 and errors give the lab's reason instead of a number.
    const timeline = card("Timeline");
    const figures = within(timeline).getAllByRole("figure");
    expect(figures.map((f) => f.getAttribute("aria-label")?.split(" over ")[0])).toEqual([
      "Planned virtual users",
      "Replicas of demo/nginx-web, demo/httpbin with their maximum,",
      "CPU of demo/nginx-web, demo/httpbin against the HPA target,",
    ]);
    for (const f of figures) expect(f.querySelectorAll(".recharts-reference-area")).toHaveLength(2);
    expect(figures[1]?.querySelectorAll(".recharts-line")).toHaveLength(2);
    // nginx-web's max (8) and CPU target (50%) from the cluster's HPA; httpbin's are unknown.
    expect(figures[1]?.querySelectorAll(".recharts-reference-line")).toHaveLength(1);
    expect(figures[2]?.querySelectorAll(".recharts-reference-line")).toHaveLength(1);
    expect(within(timeline).getAllByText(LAB_REASON)).toHaveLength(3);
    for (const panel of ["Requests per second", "p95 latency (ms)", "Error rate"]) {
      expect(within(within(timeline).getByRole("heading", { name: panel }).closest("section") as HTMLElement).getByText(LAB_REASON)).toBeTruthy();
    }
    saved.length = 0;
    fireEvent.click(within(timeline).getByRole("button", { name: "Export timeline CSV" }));
    expect(saved.map((x) => x.name)).toEqual(["timeline-scale-light-abcde.csv"]);
    expect(within(card("Infrastructure impact: dev nodes now")).getByRole("meter", { name: "dev-worker1 CPU" }).getAttribute("aria-valuenow")).toBe("75");
  });

  it("draws each deployment's replicas and scale-up latency as bars, and gives the load's p99, average and total requests", () => {
    const cascade = {
      ...completed,
      deployments: [
        { ...completed.deployments[0]!, scaleUpLatencySeconds: 15 },
        { ...completed.deployments[1]!, peakReplicas: 1, finalReplicas: 1 },
      ],
    };
    const nodeUsage = {
      beforeAt: "2026-11-28T10:00:08Z",
      afterAt: "2026-11-28T10:01:45Z",
      samplesDuring: 4,
      nodes: [
        {
          node: "dev-worker1",
          simulated: true,
          before: { cpuMillis: 100, cpuPercent: 2.5, memoryBytes: 1073741824, memoryPercent: 12.5 },
          peak: { cpuMillis: 1600, cpuPercent: 40, memoryBytes: 2147483648, memoryPercent: 25 },
          after: { cpuMillis: 150, cpuPercent: 3.8, memoryBytes: 1073741824, memoryPercent: 12.5 },
        },
      ],
    };
    const measured = {
      ...loadTest,
      reason: null,
      message: null,
      startedAt: "2026-11-28T10:00:10Z",
      nodeUsage,
      results: { requests: 12000, rps: 199.5, errorRate: 0, latencyMs: { p95: 120, p99: 250.5, avg: 40.2 } },
    };
    renderAt("/analysis?experiment=default/scale-light-abcde", [cascade], [[["tests"], [measured]]]);
    const stat = (label: string) => within(screen.getByLabelText("Load results")).getByText(label).nextElementSibling?.textContent;
    expect([stat("Total requests"), stat("p95 latency"), stat("p99 latency"), stat("Avg latency")]).toEqual(["12,000", "120 ms", "251 ms", "40 ms"]);

    const deployments = card("Per deployment");
    const replicas = within(deployments).getByRole("figure", { name: "Replicas per deployment: baseline, peak and final of demo/nginx-web, demo/httpbin" });
    expect(replicas.querySelectorAll(".recharts-bar-rectangle")).toHaveLength(6); // 3 bars × 2 deployments
    expect([...replicas.querySelectorAll(".recharts-legend-item-text")].map((t) => t.textContent)).toEqual(["Baseline", "Peak", "Final"]);
    // Only nginx-web scaled up: one latency bar, never a 0 for httpbin.
    const latency = within(deployments).getByRole("figure", { name: /^Scale-up latency per deployment of demo\/nginx-web, in seconds/ });
    expect(latency.querySelectorAll(".recharts-bar-rectangle")).toHaveLength(1);
    const rows = within(deployments).getAllByRole("row");
    const column = within(rows[0]!).getAllByRole("columnheader").findIndex((h) => h.textContent === "Scale-up latency");
    expect(rows.slice(1).map((r) => within(r).getAllByRole("cell")[column]?.textContent)).toEqual(["15.0 s", "none: never above its baseline of 1"]);

    // Before, peak and after per node, recorded on the load test.
    const impact = card("Infrastructure impact of the load");
    const worker = within(impact).getByRole("row", { name: /dev-worker1/ });
    expect(within(worker).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "100m (3%)",
      "1600m (40%)",
      "150m (4%)",
      "1.0 GiB (13%)",
      "2.0 GiB (25%)",
      "1.0 GiB (13%)",
    ]);
    expect(within(impact).getByText(/^Peak: the highest CPU and memory of 4 readings during the run\./)).toBeTruthy();
    expect(within(impact).getByText(/^kwok simulates these nodes/)).toBeTruthy();
    // What the card of the cluster now cannot show, and why.
    const nodes = card("Infrastructure impact: dev nodes now");
    expect(within(nodes).getByText(/^This is dev now; before, during and after the load are in/)).toBeTruthy();
    expect(within(nodes).getByText(/^Disk: no node-exporter series for cluster dev/)).toBeTruthy();
  });

  it("shows the VMs of the experiment's cluster with the host agent's figures, as the original's per-VM cards", () => {
    renderAt("/analysis?experiment=default/scale-light-abcde", [completed], [[["snapshot"], { ...snapshot, vms: [runningVm("dev-master", "dev"), runningVm("staging-master", "staging")] }]]);
    const nodes = card("Infrastructure impact: dev nodes now");
    const vms = within(nodes).getByLabelText("VMs of dev");
    expect(within(vms).getByRole("region", { name: "VM dev-master" })).toBeTruthy();
    expect(within(vms).getByRole("meter", { name: "Disk /" }).getAttribute("aria-valuenow")).toBe("95");
    expect(within(nodes).queryByRole("region", { name: "VM staging-master" })).toBeNull();
  });

  it("shows the nodes' disk from node-exporter in the infrastructure impact", () => {
    const measured = cluster("dev", "dev");
    measured.nodes = measured.nodes.map((n) => ({ ...n, figures: nodeFigures(), figuresMissing: null }));
    renderAt("/analysis?experiment=default/scale-light-abcde", [completed], [[["cluster", "dev"], measured]]);
    const nodes = card("Infrastructure impact: dev nodes now");
    const disk = within(nodes).getByRole("meter", { name: "dev-worker1 disk /" });
    expect(disk.getAttribute("aria-valuenow")).toBe("75");
    expect(within(nodes).queryByText(/^Disk: no node-exporter series/)).toBeNull();
  });

  it("has no latency bars when no target scaled up", () => {
    renderAt("/analysis?experiment=default/scale-light-abcde", [completed]);
    const deployments = card("Per deployment");
    expect(within(deployments).queryByRole("figure", { name: /^Scale-up latency per deployment/ })).toBeNull();
    expect(within(deployments).getByText(/^No scale-up latency bars: no target scaled above its baseline/)).toBeTruthy();
  });

  it("selects the live experiment by default, in the URL, with a LIVE badge", async () => {
    renderAt("/analysis", [completed, live]);
    await waitFor(() => expect(location().get("experiment")).toBe("default/scale-heavy-xyz"));
    expect(screen.getByText("LIVE")).toBeTruthy();
    expect(within(card("Scale-up latency")).getByText(/Not yet/)).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Traffic in staging now" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Experiment"), { target: { value: "default/scale-light-abcde" } });
    expect(location().get("experiment")).toBe("default/scale-light-abcde");
    expect(screen.getByRole("heading", { name: "Traffic in dev now" })).toBeTruthy();
  });

  it("says when there are no experiments and pre-fills the start form from the URL", () => {
    renderAt("/analysis?preset=scale-heavy&cluster=staging", []);
    expect(screen.getByText(/No experiments yet/)).toBeTruthy();
    expect((screen.getByLabelText("Cluster") as HTMLSelectElement).value).toBe("staging");
    const presetSelect = screen.getByLabelText("Scaling preset") as HTMLSelectElement;
    expect(presetSelect.value).toBe("scale-heavy");
    // Only experiment presets, and the platform cluster is not offered.
    expect(within(presetSelect).queryByText(/light-load/)).toBeNull();
    expect(within(screen.getByLabelText("Cluster")).queryByText("platform")).toBeNull();
    expect(screen.getByText(/empty: 240 s/)).toBeTruthy();
  });

  it("starts an experiment and selects it", async () => {
    const created: ExperimentView = { ...live, name: "scale-heavy-new", startedAt: null, phase: null, samples: [], deployments: [], loadTest: null };
    const fetchMock = vi.fn((_url: string, init?: RequestInit) =>
      init?.method === "POST"
        ? Promise.resolve(new Response(JSON.stringify(created), { status: 201, headers: { "Content-Type": "application/json" } }))
        : new Promise<Response>(() => {}),
    );
    vi.stubGlobal("fetch", fetchMock);
    renderAt("/analysis?preset=scale-heavy&cluster=staging", [completed]);
    fireEvent.change(screen.getByLabelText("Cooldown (seconds)"), { target: { value: "300" } });
    fireEvent.click(screen.getByLabelText(/End the cooldown/));
    fireEvent.click(screen.getByRole("button", { name: "Start experiment" }));
    await waitFor(() => expect(location().get("experiment")).toBe("default/scale-heavy-new"), { timeout: 5_000 });
    const postCall = fetchMock.mock.calls.find((c) => c[1]?.method === "POST");
    expect(postCall?.[0]).toBe("/api/v1/experiments");
    expect(JSON.parse(String(postCall?.[1]?.body))).toEqual({
      namespace: "default",
      spec: { cluster: "staging", load: { preset: "scale-heavy" }, cooldownSeconds: 300, endCooldownWhenBaselineRestored: true },
    });
    expect(location().get("preset")).toBeNull();
    expect(await screen.findByRole("heading", { name: "scale-heavy-new" })).toBeTruthy();
  });

  it("checks the form before sending and shows the API's field error next to its input", async () => {
    const fetchMock = vi.fn((_url: string, init?: RequestInit) =>
      init?.method === "POST"
        ? Promise.resolve(
            new Response(JSON.stringify({ error: { code: "Invalid", message: "spec.load.http.vus: must be at most 500 here", field: "spec.load.http.vus" } }), {
              status: 422,
              headers: { "Content-Type": "application/json" },
            }),
          )
        : new Promise<Response>(() => {}),
    );
    vi.stubGlobal("fetch", fetchMock);
    renderAt("/analysis", []);
    fireEvent.click(screen.getByLabelText("Custom HTTP load"));
    const vus = screen.getByLabelText("Virtual users");
    fireEvent.change(vus, { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Start experiment" }));
    expect(screen.getByText("A whole number from 1 to 1000.")).toBeTruthy();
    expect(vus.getAttribute("aria-invalid")).toBe("true");
    expect(fetchMock.mock.calls.some((c) => c[1]?.method === "POST")).toBe(false);

    fireEvent.change(vus, { target: { value: "800" } });
    fireEvent.click(screen.getByRole("button", { name: "Start experiment" }));
    const fieldError = await screen.findByText("spec.load.http.vus: must be at most 500 here");
    expect(vus.getAttribute("aria-describedby")).toBe(fieldError.id);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Invalid");
    const body = JSON.parse(String(fetchMock.mock.calls.find((c) => c[1]?.method === "POST")?.[1]?.body));
    expect(body.spec).toEqual({ cluster: "dev", load: { http: { vus: 800, duration: "60s", targetUrl: "http://nginx-web.demo.svc.cluster.local" } } });
  });

  it("says it is loading, and shows a list error", async () => {
    renderAt("/analysis", undefined);
    expect(screen.getByText("Loading experiments…")).toBeTruthy();
    cleanup();
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify({ error: { code: "Forbidden", message: "may not list scalingexperiments" } }), { status: 403 })),
    );
    renderAt("/analysis", undefined);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Forbidden: may not list scalingexperiments");
  });

  it("warns when a live experiment's samples stop coming", () => {
    const stuck = { ...live, samples: [{ time: new Date(Date.now() - 120_000).toISOString(), phase: "Load" as const, replicas: [3], cpuPercent: [90] }] };
    renderAt("/analysis?experiment=default/scale-heavy-xyz", [stuck]);
    expect(screen.getByRole("status").textContent).toMatch(/not sampling staging's HPAs/);
  });
});
