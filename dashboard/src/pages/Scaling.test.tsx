import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation } from "react-router";
import type { ClusterView, ScalingHistory, Snapshot } from "../api/client";
import type { HpaSample } from "../lib/scaling";
import { hpa } from "../lib/scaling.fixtures";
import { Scaling } from "./Scaling";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});


/** A history whose points end `endAgo` seconds before now, 5 s apart. */
const history = (cluster: string, samples: HpaSample[][], endAgo = 2): ScalingHistory => ({
  cluster,
  intervalSeconds: 5,
  points: samples.map((hpas, i) => ({
    timestamp: new Date(Date.now() - (endAgo + (samples.length - 1 - i) * 5) * 1000).toISOString(),
    hpas,
  })),
});

const cluster = (name: string, tier: string) => ({ name, tier, reachable: true, metricsAvailable: true, nodes: [], pods: [], namespaces: [] }) as unknown as ClusterView;

const snapshot = (clusters: ClusterView[], errors: Snapshot["errors"] = []): Snapshot =>
  ({ collectedAt: new Date().toISOString(), stale: errors.length > 0, podsOmitted: true, errors, vms: [], clusters }) as Snapshot;

function Where() {
  return <p data-testid="location">{useLocation().search}</p>;
}

function renderAt(url: string, seed: [unknown[], unknown][] = []) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  for (const [key, data] of seed) client.setQueryData(key, data);
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Scaling />
        <Where />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const CLUSTERS = [cluster("platform", "platform"), cluster("dev", "dev"), cluster("staging", "staging")];

describe("Scaling", () => {
  it("shows a card per HPA with badges, progress, desired and CPU, and the configuration table", () => {
    renderAt("/scaling?cluster=dev", [
      [["snapshot"], snapshot(CLUSTERS)],
      [
        ["scaling", "dev"],
        history("dev", [
          [hpa(), hpa({ namespace: "shop", name: "cart-hpa", deployment: "cart", target: "Deployment/cart" })],
          [
            hpa({ currentReplicas: 4, desiredReplicas: 7, currentCpuPercent: 95 }),
            hpa({ namespace: "shop", name: "cart-hpa", deployment: "cart", target: "Deployment/cart", currentReplicas: 10, desiredReplicas: 10, currentCpuPercent: null }),
          ],
        ]),
      ],
    ]);
    expect((screen.getByLabelText("Cluster") as HTMLSelectElement).value).toBe("dev");
    const web = screen.getByRole("heading", { name: "demo/web-hpa" }).closest("section") as HTMLElement;
    expect(within(web).getByText("SCALING")).toBeTruthy();
    expect(within(web).getByText("→ 7")).toBeTruthy();
    expect(within(web).getByText("CPU 95% / target 50%")).toBeTruthy();
    // (4 − 2) / (10 − 2) = 25%.
    const bar = within(web).getByRole("meter");
    expect((bar.firstElementChild as HTMLElement).style.width).toBe("25%");
    expect(bar.getAttribute("aria-valuenow")).toBe("4");
    const cart = screen.getByRole("heading", { name: "shop/cart-hpa" }).closest("section") as HTMLElement;
    expect(within(cart).getByText("AT MAX")).toBeTruthy();
    expect(within(cart).getByText("CPU unknown / target 50%")).toBeTruthy();
    expect(within(cart).queryByText(/→/)).toBeNull();
    expect(screen.getByRole("heading", { name: "Replicas over time" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "CPU vs target" })).toBeTruthy();
    const table = screen.getByRole("table", { name: "Configuration" });
    const rows = within(table).getAllByRole("row");
    expect(within(rows[0] as HTMLElement).getAllByRole("columnheader").map((h) => h.textContent)).toEqual([
      "HPA",
      "Target",
      "Min",
      "Max",
      "Target CPU",
      "Current",
      "Desired",
    ]);
    expect(within(rows[1] as HTMLElement).getAllByRole("cell").map((c) => c.textContent)).toEqual(["demo/web-hpa", "Deployment/web", "2", "10", "50%", "4", "7"]);
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("defaults to the first cluster that has HPAs and keeps it in the URL", async () => {
    renderAt("/scaling", [
      [["snapshot"], snapshot(CLUSTERS)],
      [["scaling", "dev"], history("dev", [[hpa()], []])],
      [["scaling", "staging"], history("staging", [[hpa({ name: "api-hpa", deployment: "api" })]])],
    ]);
    expect(await screen.findByRole("heading", { name: "demo/api-hpa" })).toBeTruthy();
    expect(screen.getByTestId("location").textContent).toBe("?cluster=staging");
    expect((screen.getByLabelText("Cluster") as HTMLSelectElement).value).toBe("staging");
  });

  it("says when no cluster has HPAs", async () => {
    const none = history("x", [[]]);
    renderAt("/scaling", [
      [["snapshot"], snapshot(CLUSTERS)],
      [["scaling", "dev"], none],
      [["scaling", "staging"], none],
      [["scaling", "platform"], none],
    ]);
    expect(await screen.findByText(/No cluster has HorizontalPodAutoscalers \(looked in dev, staging, platform\)/)).toBeTruthy();
    expect(screen.getByTestId("location").textContent).toBe("");
  });

  it("says when the chosen cluster has no HPAs, and still shows the history of deleted ones", () => {
    renderAt("/scaling?cluster=dev", [
      [["snapshot"], snapshot(CLUSTERS)],
      [["scaling", "dev"], history("dev", [[hpa()], []])],
    ]);
    expect(screen.getByText("No HorizontalPodAutoscalers in dev.")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Replicas over time" })).toBeTruthy();
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("says when samples stop and when the HPA watch fails", () => {
    renderAt("/scaling?cluster=dev", [
      [["snapshot"], snapshot(CLUSTERS, [{ cluster: "dev", source: "horizontalpodautoscalers", message: "connection refused", since: new Date().toISOString() }])],
      [["scaling", "dev"], history("dev", [[hpa()]], 120)],
    ]);
    const status = screen.getByRole("status");
    expect(within(status).getByText(/stopped sampling/)).toBeTruthy();
    expect(within(status).getByText(/HorizontalPodAutoscalers fails since .*connection refused/)).toBeTruthy();
  });

  it("shows an API error with the field at fault", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(
        async () =>
          new Response(JSON.stringify({ error: { code: "not_found", message: "no cluster nope", field: "name" } }), {
            status: 404,
            headers: { "Content-Type": "application/json" },
          }),
      ),
    );
    renderAt("/scaling?cluster=nope", [[["snapshot"], snapshot(CLUSTERS)]]);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("not_found: no cluster nope");
    expect(within(alert).getByText("name")).toBeTruthy();
    expect((screen.getByLabelText("Cluster") as HTMLSelectElement).value).toBe("nope");
  });

  it("says it is loading", () => {
    vi.stubGlobal("fetch", vi.fn(() => new Promise(() => {})));
    renderAt("/scaling");
    expect(screen.getByRole("status").textContent).toContain("Loading clusters");
  });
});
