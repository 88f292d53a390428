import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ClusterView, ExperimentView, PresetView, ScalingHistory, Snapshot, TestView } from "../api/client";
import { at, experiment, sample } from "../lib/analysis.fixtures";
import { Testing } from "./Testing";

const cluster = (name: string, tier: string, phase: string) =>
  ({ name, tier, phase, reachable: true, metricsAvailable: true, nodes: [], pods: [], namespaces: [] }) as ClusterView;

const snapshot = (clusters: ClusterView[]): Snapshot =>
  ({ collectedAt: "2026-11-28T18:00:00Z", stale: false, podsOmitted: true, errors: [], vms: [], clusters }) as Snapshot;

const PRESETS = [
  { name: "light-load", kind: "loadtest", tag: "HTTP", description: "10 VUs for 15s against nginx-web", spec: { http: { vus: 10, duration: "15s" } } },
  { name: "cpu-stress-light", kind: "loadtest", tag: "CPU", description: "1 CPU worker for 30s", spec: { stress: { kind: "cpu", workers: 1, timeout: "30s" } } },
  { name: "scale-light", kind: "experiment", tag: "SCALE", description: "30 VUs for 60s against nginx-web, 180s cooldown", spec: {}, cooldownSeconds: 180 },
  { name: "cascade-light", kind: "experiment", tag: "CASCADE", description: "through nginx-web and httpbin", spec: {}, cooldownSeconds: 180 },
] as PresetView[];

const base = { namespace: "default", deleting: false, queued: false } as const;

const TESTS = [
  {
    ...base,
    name: "strict-sla-x7k2p",
    cluster: "staging",
    preset: "strict-sla",
    testType: "http",
    phase: "Failed",
    reason: "ThresholdsBreached",
    message: "thresholds breached: http_req_duration p(95)<500",
    createdAt: "2026-11-28T10:00:00Z",
    startedAt: "2026-11-28T10:00:05Z",
    finishedAt: "2026-11-28T10:00:36Z",
    spec: { cluster: "staging", preset: "strict-sla" },
    results: {
      requests: 1500,
      rps: 49.6,
      errorRate: 0.004,
      latencyMs: { p95: 1204.77, p99: 2850.1, avg: 612.5 },
      thresholds: [
        { metric: "http_req_duration", expression: "p(95)<500", passed: false },
        { metric: "http_req_failed", expression: "rate<0.01", passed: true },
      ],
    },
  },
  {
    ...base,
    name: "memory-stress-abcde",
    cluster: "staging",
    testType: "memory",
    phase: "Succeeded",
    createdAt: "2026-11-28T11:00:00Z",
    spec: { cluster: "staging", stress: { kind: "memory", workers: 2, timeout: "45s", vmBytes: "96M" } },
    results: { bogoOps: 123456, bogoOpsPerSecond: 2743.5, thresholds: [] },
  },
  {
    ...base,
    name: "heavy-load-q1w2e",
    cluster: "staging",
    preset: "heavy-load",
    testType: "http",
    phase: "Pending",
    queued: true,
    message: "queued: 1 test(s) running on cluster staging (at most 1 at once); position 2 in line",
    createdAt: "2026-11-28T12:00:00Z",
    spec: { cluster: "staging", preset: "heavy-load" },
  },
  {
    ...base,
    name: "light-load-r4t5y",
    cluster: "staging",
    preset: "light-load",
    phase: "Running",
    progressPercent: 40,
    createdAt: "2026-11-28T11:30:00Z",
    spec: { cluster: "staging", preset: "light-load" },
  },
] as TestView[];

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderWith({
  clusters,
  tests = TESTS,
  url = "/testing",
  scaling,
  experiments,
}: {
  clusters: ClusterView[];
  tests?: TestView[];
  url?: string;
  scaling?: ScalingHistory;
  experiments?: ExperimentView[];
}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  client.setQueryData(["snapshot"], snapshot(clusters));
  client.setQueryData(["presets"], PRESETS);
  client.setQueryData(["tests"], tests);
  if (scaling) client.setQueryData(["scaling", scaling.cluster], scaling);
  if (experiments) client.setQueryData(["experiments"], experiments);
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Testing />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const CLUSTERS = [cluster("platform", "platform", "Ready"), cluster("dev", "dev", "Provisioning"), cluster("staging", "staging", "Ready")];

const hpa = (deployment: string, current: number, desired: number, max: number, cpu: number | null, target: number | null = 50) => ({
  namespace: "demo",
  name: `${deployment}-hpa`,
  target: `Deployment/${deployment}`,
  deployment,
  currentReplicas: current,
  desiredReplicas: desired,
  minReplicas: 1,
  maxReplicas: max,
  currentCpuPercent: cpu,
  targetCpuPercent: target,
});

const history = (cluster: string, hpas: ReturnType<typeof hpa>[][]): ScalingHistory => ({
  cluster,
  intervalSeconds: 5,
  points: hpas.map((h, i) => ({ timestamp: at(i * 5), hpas: h })),
});

const rowTexts = (table: HTMLElement) =>
  within(table)
    .getAllByRole("row")
    .map((r) => within(r).queryAllByRole("columnheader").concat(within(r).queryAllByRole("cell")).map((c) => c.textContent));

describe("Testing", () => {
  it("defaults to the first Ready managed cluster and lists presets with tags", () => {
    renderWith({ clusters: CLUSTERS });
    const select = screen.getByLabelText("Cluster") as HTMLSelectElement;
    expect(select.value).toBe("staging");
    expect(within(select).queryByText("platform")).toBeNull();
    expect(within(select).getByText("dev (Provisioning)")).toBeTruthy();

    const light = screen.getByRole("heading", { name: "light-load" }).closest("li") as HTMLElement;
    expect(within(light).getByText("HTTP")).toBeTruthy();
    expect((within(light).getByRole("button", { name: "Run light-load" }) as HTMLButtonElement).disabled).toBe(false);
    const cpu = screen.getByRole("heading", { name: "cpu-stress-light" }).closest("li") as HTMLElement;
    expect(within(cpu).getByText("CPU")).toBeTruthy();

    // Scaling presets are ScalingExperiments: a link to Load analysis, no run button.
    const scale = screen.getByRole("heading", { name: "scale-light" }).closest("li") as HTMLElement;
    expect(within(scale).queryByRole("button")).toBeNull();
    expect(within(scale).getByRole("link").getAttribute("href")).toBe("/analysis?preset=scale-light&cluster=staging");
    const cascade = screen.getByRole("heading", { name: "cascade-light" }).closest("li") as HTMLElement;
    expect(within(cascade).getByText("CASCADE")).toBeTruthy();
  });

  it("keeps the cluster of the URL and warns when it is not Ready", () => {
    renderWith({ clusters: CLUSTERS, url: "/testing?cluster=dev" });
    expect((screen.getByLabelText("Cluster") as HTMLSelectElement).value).toBe("dev");
    expect(screen.getByText(/dev is Provisioning, not Ready/)).toBeTruthy();
    const scale = screen.getByRole("heading", { name: "scale-light" }).closest("li") as HTMLElement;
    expect(within(scale).getByRole("link").getAttribute("href")).toBe("/analysis?preset=scale-light&cluster=dev");
  });

  it("shows a finished test's results and threshold verdicts", () => {
    renderWith({ clusters: CLUSTERS });
    const card = screen.getByRole("heading", { name: "default/strict-sla-x7k2p" }).closest("li") as HTMLElement;
    expect(within(card).getByText("Failed")).toBeTruthy();
    expect(within(card).getByText("ThresholdsBreached")).toBeTruthy();
    expect(within(card).getByText(/ran 31 s/)).toBeTruthy();
    expect(within(card).getByText("1.2 s").className).toContain("text-red"); // p95 breached its threshold
    expect(within(card).getByText("2.9 s")).toBeTruthy(); // p99
    expect(within(card).getByText("613 ms")).toBeTruthy(); // avg
    expect(within(card).getByText("49.6")).toBeTruthy(); // RPS
    expect(within(card).getByText("0.40%").className).toContain("text-emerald"); // error rate within its threshold
    const thresholds = within(card).getByRole("list", { name: "Thresholds" });
    expect(within(thresholds).getByText("failed")).toBeTruthy();
    expect(within(thresholds).getByText("passed")).toBeTruthy();
    expect(within(card).getByText(/thresholds breached: http_req_duration/)).toBeTruthy();

    const stress = screen.getByRole("heading", { name: "default/memory-stress-abcde" }).closest("li") as HTMLElement;
    expect(within(stress).getByText("Custom Memory stress", { exact: false })).toBeTruthy();
    expect(within(stress).getByText((123456).toLocaleString())).toBeTruthy();
    expect(within(stress).getByText("2743.5")).toBeTruthy();
  });

  it("shows a run that measured nothing neutrally, with its reason, no verdict, and its timeline on demand", async () => {
    const message = "the runner ran on simulated node dev-worker1 in cluster staging (kwok): simulated pods do no work, so nothing was measured";
    const simulated = {
      ...base,
      name: "strict-sla-sim12",
      cluster: "staging",
      preset: "strict-sla",
      testType: "http",
      phase: "Completed",
      reason: "RunnerSimulated",
      message,
      createdAt: "2026-11-28T10:00:00Z",
      startedAt: "2026-11-28T10:00:05Z",
      finishedAt: "2026-11-28T10:00:36Z",
      spec: { cluster: "staging", preset: "strict-sla" },
    } as TestView;
    // The timeline's reads stay pending.
    vi.stubGlobal("fetch", vi.fn(() => new Promise(() => {})));
    renderWith({ clusters: CLUSTERS, tests: [simulated] });
    const card = screen.getByRole("heading", { name: "default/strict-sla-sim12" }).closest("li") as HTMLElement;
    const badge = within(card).getByText("Simulated, not measured");
    const reason = within(card).getByText("RunnerSimulated");
    for (const b of [badge, reason]) {
      expect(b.className).toContain("slate");
      expect(b.className).not.toMatch(/red|emerald|green/);
    }
    expect(within(card).getByText(message)).toBeTruthy();
    expect(within(card).getByText(/Nothing was measured/)).toBeTruthy();
    expect(within(card).queryByText("passed")).toBeNull();
    expect(within(card).queryByText("Failed")).toBeNull();
    const toggle = within(card).getByRole("button", { name: "Show timeline" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(toggle);
    expect(within(card).getByRole("button", { name: "Hide timeline" }).getAttribute("aria-expanded")).toBe("true");
    await within(card).findByRole("heading", { name: "Timeline" }, { timeout: 10_000 });
    // The series is not there yet: the panels say so instead of drawing numbers.
    expect(within(card).getAllByText("the measured series is loading.")).toHaveLength(3);
  });

  it("shows a comparison with its baseline: the verdict, the deltas and a link to compare both", () => {
    const regressed = {
      ...TESTS[0],
      name: "nightly-2",
      regression: { status: "True", reason: "Regressed", message: "worse than baseline LoadTest nightly-1 past tolerance: p95Ms 100 → 130" },
      comparison: {
        baseline: { name: "nightly-1", uid: "u1" },
        metrics: [{ metric: "p95Ms", baseline: 100, current: 130, delta: 30, deltaPercent: 30, tolerance: "+10%", regressed: true }],
        notCompared: ["p99Ms: not measured"],
      },
    } as TestView;
    const unknown = {
      ...TESTS[0],
      name: "nightly-3",
      regression: { status: "Unknown", reason: "NotMeasured", message: "not compared: this run measured nothing (RunnerSimulated)" },
    } as TestView;
    renderWith({ clusters: CLUSTERS, tests: [regressed, unknown] });
    const panel = screen.getByRole("region", { name: "nightly-2: comparison with its baseline" });
    expect(within(panel).getByText("Regression").className).toContain("red");
    expect(within(panel).getByText("against baseline nightly-1")).toBeTruthy();
    const row = within(panel).getByRole("row", { name: /p95 latency/ });
    expect(within(row).getByText("+30.0%")).toBeTruthy();
    expect(within(panel).getByText("Not compared: p99Ms: not measured")).toBeTruthy();
    expect(within(panel).getByRole("link", { name: "Compare side by side" }).getAttribute("href")).toBe("/compare?a=default%2Fnightly-2&b=default%2Fnightly-1");
    const other = screen.getByRole("region", { name: "nightly-3: comparison with its baseline" });
    expect(within(other).getByText("Not compared (NotMeasured)").className).toContain("yellow");
    expect(within(other).getByText(/this run measured nothing/)).toBeTruthy();
    expect(within(other).queryByRole("table")).toBeNull();
    // A test without a baseline has no panel.
    cleanup();
    renderWith({ clusters: CLUSTERS });
    expect(screen.queryByRole("region", { name: /comparison with its baseline/ })).toBeNull();
  });

  it("shows each runner of a parallel test and never an averaged percentile", () => {
    const parallel = {
      ...base,
      name: "spread-k2j4h",
      cluster: "staging",
      testType: "http",
      phase: "Succeeded",
      createdAt: "2026-11-28T13:00:00Z",
      spec: { cluster: "staging", http: { vus: 30, duration: "40s", parallelism: 2 } },
      results: {
        requests: 3000,
        rps: 75.5,
        errorRate: 0.01,
        latencyMs: { avg: 40.5, min: 1.2, max: 900 },
        percentiles: "PerRunner",
        runners: [
          { index: 1, requests: 2000, rps: 50.5, errorRate: 0.015, latencyMs: { p95: 321.4, p99: 612.9 }, thresholdsPassed: false },
          { index: 0, requests: 1000, rps: 25, errorRate: 0, latencyMs: { p95: 88.25, p99: 140 }, thresholdsPassed: true },
        ],
        thresholds: [],
      },
    } as TestView;
    renderWith({ clusters: CLUSTERS, tests: [parallel] });
    const card = screen.getByRole("heading", { name: "default/spread-k2j4h" }).closest("li") as HTMLElement;
    const stats = within(card).getByLabelText("HTTP results");
    expect(within(stats).getAllByText("per runner")).toHaveLength(2); // p95 and p99
    expect(within(stats).getByText("75.5")).toBeTruthy(); // summed RPS
    const table = within(card).getByRole("table", { name: "Runners" });
    expect(within(table).getByText(/never averaged/)).toBeTruthy();
    const [first, second, ...rest] = within(table).getAllByRole("row").slice(1);
    if (!first || !second) throw new Error("two runner rows expected");
    expect(rest).toHaveLength(0);
    expect([first, second].map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["#0", "#1"]);
    expect(within(first).getByText("88 ms")).toBeTruthy();
    expect(within(second).getByText("321 ms")).toBeTruthy();
    expect(within(second).getByText("613 ms")).toBeTruthy();
    expect(within(second).getByText("breached")).toBeTruthy();
    expect(within(first).getByText("held")).toBeTruthy();
  });

  it("lists tests newest first with the queue position and progress", () => {
    renderWith({ clusters: CLUSTERS });
    const names = screen.getAllByRole("heading", { level: 3, name: /^default\// }).map((h) => h.textContent);
    expect(names).toEqual(["default/heavy-load-q1w2e", "default/light-load-r4t5y", "default/memory-stress-abcde", "default/strict-sla-x7k2p"]);
    const queued = screen.getByRole("heading", { name: "default/heavy-load-q1w2e" }).closest("li") as HTMLElement;
    expect(within(queued).getByText("Queued (#2 in line)")).toBeTruthy();
    const running = screen.getByRole("heading", { name: "default/light-load-r4t5y" }).closest("li") as HTMLElement;
    expect(within(running).getByText("10 VUs · 15s")).toBeTruthy(); // the preset's spec
    expect(within(running).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("40");
    // Delete asks first.
    fireEvent.click(within(running).getByRole("button", { name: "Delete light-load-r4t5y" }));
    expect(within(running).getByRole("group", { name: "Delete light-load-r4t5y?" })).toBeTruthy();
  });

  it("shows a test being deleted as such, without a Delete button", () => {
    renderWith({ clusters: CLUSTERS, tests: [{ ...TESTS[1]!, deleting: true }] });
    const card = screen.getByRole("heading", { name: "default/memory-stress-abcde" }).closest("li") as HTMLElement;
    expect(within(card).getByText("Deleting")).toBeTruthy();
    expect(within(card).queryByRole("button", { name: /Delete/ })).toBeNull();
  });

  it("shows form errors next to their inputs", () => {
    renderWith({ clusters: CLUSTERS });
    const vus = screen.getByLabelText("Virtual users");
    fireEvent.change(vus, { target: { value: "0" } });
    fireEvent.change(screen.getByLabelText("Duration"), { target: { value: "30" } });
    fireEvent.click(screen.getByRole("button", { name: "Start test" }));
    expect(vus.getAttribute("aria-invalid")).toBe("true");
    const described = (vus.getAttribute("aria-describedby") ?? "").split(" ").map((id) => document.getElementById(id)?.textContent);
    expect(described).toContain("must be a whole number from 1 to 1000");
    expect(screen.getByText("must be a duration such as 30s, 5m or 1h30m, between 1s and 24h")).toBeTruthy();

    fireEvent.change(screen.getByLabelText("Test type"), { target: { value: "memory" } });
    expect(screen.queryByLabelText("Virtual users")).toBeNull();
    expect(screen.getByLabelText("Memory per worker")).toBeTruthy();
  });

  it("shows the chosen cluster's HPAs from the newest sample: SCALING, AT MAX or STABLE", () => {
    const old = [hpa("nginx-web", 1, 1, 10, 10)];
    const now = [hpa("nginx-web", 2, 4, 10, 85), hpa("httpbin", 5, 5, 5, 70), hpa("redis", 1, 1, 3, null, null)];
    renderWith({ clusters: CLUSTERS, scaling: history("staging", [old, now]) });
    const table = screen.getByRole("table", { name: "HPA status in staging" });
    expect(rowTexts(table)).toEqual([
      ["Deployment", "State", "Replicas (current → desired / max)", "CPU (current / target)"],
      ["demo/nginx-web", "SCALING", "2 → 4 / 10", "85% / 50%"],
      ["demo/httpbin", "AT MAX", "5 / 5", "70% / 50%"],
      ["demo/redis", "STABLE", "1 / 3", "unknown / no CPU target"],
    ]);
    const rows = within(table).getAllByRole("row");
    expect(within(rows[1]!).getByText("→ 4").className).toContain("text-yellow");
    expect(within(rows[1]!).getByText("85% / 50%").className).toContain("text-red");
    expect(within(rows[3]!).getByText("unknown / no CPU target").className).not.toContain("text-red");
    expect(within(rows[2]!).getByText("AT MAX").className).toContain("text-red");
    expect(within(rows[3]!).getByText("STABLE").className).toContain("text-emerald");
  });

  it("says when the cluster has no HPA sample yet, and when it has no HPA", () => {
    renderWith({ clusters: CLUSTERS, scaling: history("staging", []) });
    expect(screen.getByText(/No samples of staging yet: the operator samples its HPAs every 5 s/)).toBeTruthy();
    cleanup();
    renderWith({ clusters: CLUSTERS, scaling: history("staging", [[]]) });
    expect(screen.getByText("No HorizontalPodAutoscalers in staging: a test there scales nothing.")).toBeTruthy();
    expect(screen.queryByRole("table", { name: "HPA status in staging" })).toBeNull();
  });

  it("lists scaling and cascade experiments with their outcome per deployment", () => {
    const cascade = experiment({
      name: "cascade-light-q2w3e",
      preset: "cascade-light",
      startedAt: at(400),
      deployments: [
        { namespace: "demo", name: "nginx-web", baselineReplicas: 1, peakReplicas: 4, scaleUpLatencySeconds: 15 },
        { namespace: "demo", name: "httpbin", baselineReplicas: 1, peakReplicas: 1 },
      ],
      kpis: { scaleUpLatencySeconds: 15, peakReplicas: 5 },
      samples: [sample(400, "Baseline", [1, 1])],
    });
    const running = experiment({ name: "scale-light-live", live: true, phase: "Loading", startedAt: at(900), kpis: null, deployments: [{ namespace: "demo", name: "nginx-web", baselineReplicas: 2 }] });
    renderWith({ clusters: CLUSTERS, tests: [], experiments: [cascade, running] });
    const headings = screen
      .getAllByRole("heading", { level: 3 })
      .map((h) => h.textContent)
      .filter((t) => t?.startsWith("default/"));
    expect(headings).toEqual(["default/scale-light-live", "default/cascade-light-q2w3e"]); // newest first

    const card = screen.getByRole("heading", { name: "default/cascade-light-q2w3e" }).closest("li") as HTMLElement;
    expect(within(card).getByText("CASCADE")).toBeTruthy();
    expect(within(card).getByText("Completed").className).toContain("text-emerald");
    const results = within(card).getByLabelText("Results of cascade-light-q2w3e");
    expect(within(results).getByText("15.0 s")).toBeTruthy();
    expect(within(results).getByText("5 pods")).toBeTruthy();
    expect(rowTexts(within(card).getByRole("table", { name: "Per deployment: cascade-light-q2w3e" }))).toEqual([
      ["Deployment", "Replicas (baseline → peak)", "Scale-up latency"],
      ["demo/nginx-web", "1 → 4", "15.0 s"],
      ["demo/httpbin", "1 → 1", "none: never above its baseline of 1"],
    ]);
    expect(within(card).getByRole("link", { name: /^Open in Load analysis ?\(cascade-light-q2w3e\)$/ }).getAttribute("href")).toBe(
      "/analysis?experiment=default%2Fcascade-light-q2w3e",
    );

    const live = screen.getByRole("heading", { name: "default/scale-light-live" }).closest("li") as HTMLElement;
    expect(within(live).getByText("SCALE")).toBeTruthy();
    expect(within(live).getByText("Loading")).toBeTruthy();
    expect(within(within(live).getByLabelText("Results of scale-light-live")).getAllByText("—")).toHaveLength(2); // no invented KPI while it runs
    expect(within(live).getByText(/Scale-up latency: Not yet: the experiment is still running\./)).toBeTruthy();
    expect(within(live).getByText("none: not above its baseline of 2 yet")).toBeTruthy();
  });

  it("says when there are no experiments", () => {
    renderWith({ clusters: CLUSTERS, experiments: [] });
    expect(screen.getByText("No experiments yet: start one from a SCALE or CASCADE preset above.")).toBeTruthy();
  });

  it("says when no cluster is Ready and when there are no tests", () => {
    renderWith({ clusters: [cluster("platform", "platform", "Ready"), cluster("dev", "dev", "Provisioning")], tests: [] });
    expect(screen.getByText(/No cluster is Ready/)).toBeTruthy();
    expect(screen.getByText(/No tests yet/)).toBeTruthy();
    expect((screen.getByRole("button", { name: "Run light-load" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
