import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ExperimentView, TestSeries, TestView } from "../api/client";
import { Compare } from "./Compare";
import { experiment } from "../lib/analysis.fixtures";

const test = (name: string, p95: number, extra: Partial<TestView> = {}) =>
  ({
    namespace: "team",
    name,
    cluster: "dev",
    testType: "http",
    phase: "Succeeded",
    deleting: false,
    queued: false,
    createdAt: "2026-11-28T10:00:00Z",
    startedAt: "2026-11-28T10:00:05Z",
    finishedAt: "2026-11-28T10:01:05Z",
    spec: { cluster: "dev", preset: "light-load" },
    results: { rps: 50, errorRate: 0, latencyMs: { p95, p99: p95 * 2 }, thresholds: [] },
    ...extra,
  }) as TestView;

const unavailable = { source: "unavailable", reason: "the lab has no Prometheus", points: [], load: [] } as unknown as TestSeries;

function renderAt(url: string, tests: TestView[], experiments: ExperimentView[] = []) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  client.setQueryData(["tests"], tests);
  // As the API serves them: the list without samples, each experiment's detail with them.
  client.setQueryData(["experiments"], experiments.map((e) => ({ ...e, samples: [] })));
  for (const e of experiments) client.setQueryData(["experiments", e.namespace, e.name], e);
  for (const t of tests) client.setQueryData(["tests", t.namespace, t.name, "series"], unavailable);
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Compare />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Compare", () => {
  it("shows the two runs of the address side by side with their results and verdicts", () => {
    const v2 = test("v2", 130, {
      regression: { status: "True", reason: "Regressed", message: "worse than baseline LoadTest v1 past tolerance: p95Ms 100 → 130" },
      comparison: { baseline: { name: "v1" }, metrics: [{ metric: "p95Ms", baseline: 100, current: 130, delta: 30, deltaPercent: 30, tolerance: "+10%", regressed: true }] },
    });
    renderAt("/compare?a=team%2Fv2&b=team%2Fv1", [v2, test("v1", 100)]);
    const a = screen.getByRole("heading", { name: "A: team/v2" }).closest("section") as HTMLElement;
    const b = screen.getByRole("heading", { name: "B: team/v1" }).closest("section") as HTMLElement;
    expect(within(a).getByText("p95").nextElementSibling?.textContent).toBe("130 ms");
    expect(within(b).getByText("p95").nextElementSibling?.textContent).toBe("100 ms");
    expect(within(a).getByText("Regression")).toBeTruthy();
    expect(within(b).queryByText("Regression")).toBeNull();
    expect((screen.getByLabelText("Run A") as HTMLSelectElement).value).toBe("team/v2");
    // Neither has a measured series (no Prometheus): said, never drawn as zeros.
    expect(screen.getByText(/Neither run has measured series to overlay/)).toBeTruthy();
    expect(screen.getByText(/the lab has no Prometheus/)).toBeTruthy();
  });

  it("shows a stress test's bogo-ops instead of HTTP figures", () => {
    const stress = test("s2", 0, { testType: "cpu", results: { bogoOps: 48000, bogoOpsPerSecond: 800, thresholds: [] } });
    renderAt("/compare?a=team%2Fs2&b=team%2Fv1", [stress, test("v1", 100)]);
    const a = screen.getByRole("heading", { name: "A: team/s2" }).closest("section") as HTMLElement;
    expect(within(a).getByText("Bogo-ops/s").nextElementSibling?.textContent).toBe("800.0");
    expect(within(a).queryByText("p95")).toBeNull();
  });

  it("compares two scaling experiments: scale-up latency, peak replicas, the verdict and replicas overlaid", () => {
    const deployments = [{ namespace: "demo", name: "nginx-web" }] as never;
    const v1 = experiment({ name: "scale-1", deployments, kpis: { scaleUpLatencySeconds: 20, peakReplicas: 6 } });
    const v2 = experiment({
      name: "scale-2",
      deployments,
      kpis: { scaleUpLatencySeconds: 30, peakReplicas: 6 },
      regression: { status: "True", reason: "Regressed", message: "worse than baseline ScalingExperiment scale-1 past tolerance: scaleUpLatencySeconds 20 → 30" },
      comparison: { baseline: { name: "scale-1" }, metrics: [{ metric: "scaleUpLatencySeconds", baseline: 20, current: 30, delta: 10, deltaPercent: 50, tolerance: "+20%", regressed: true }] },
    });
    renderAt("/compare?kind=experiment&a=default%2Fscale-2&b=default%2Fscale-1", [], [v1, v2]);
    const a = screen.getByRole("heading", { name: "A: default/scale-2" }).closest("section") as HTMLElement;
    const b = screen.getByRole("heading", { name: "B: default/scale-1" }).closest("section") as HTMLElement;
    expect(within(a).getByText("Scale-up latency", { selector: "dt" }).nextElementSibling?.textContent).toBe("30.0 s");
    expect(within(b).getByText("Scale-up latency", { selector: "dt" }).nextElementSibling?.textContent).toBe("20.0 s");
    expect(within(a).getByText("Peak replicas", { selector: "dt" }).nextElementSibling?.textContent).toBe("6");
    expect(within(a).getByText("Regression")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Replicas of demo/nginx-web" })).toBeTruthy();
    expect(screen.getByText("Scaling experiments").getAttribute("aria-current")).toBe("page");
    expect((screen.getByLabelText("Run A") as HTMLSelectElement).value).toBe("default/scale-2");
  });

  it("asks for the runs it does not have", () => {
    renderAt("/compare?a=team%2Fgone", [test("v1", 100)]);
    expect(screen.getByText("A: choose a test.")).toBeTruthy();
    expect(screen.getByText("B: choose a test.")).toBeTruthy();
    expect((screen.getByLabelText("Run A") as HTMLSelectElement).value).toBe("team/gone");
  });
});
