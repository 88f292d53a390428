import { afterEach, describe, expect, it, vi } from "vitest";
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import type { ClusterView, Snapshot } from "../api/client";
import { NO_VMS } from "../components/VmFigures";
import { runningVm } from "../components/vmFixture";
import { Overview } from "./Overview";

// Counts the usage bars drawn, to see which cards a change re-renders.
const bars = vi.hoisted(() => ({ drawn: 0 }));
vi.mock("../components/ui", async (original) => {
  const ui = await original<typeof import("../components/ui")>();
  return {
    ...ui,
    UsageBar: (props: Parameters<typeof ui.UsageBar>[0]) => {
      bars.drawn += 1;
      return ui.UsageBar(props);
    },
  };
});

const cluster = (over: Partial<ClusterView>): ClusterView =>
  ({
    name: "dev",
    tier: "dev",
    phase: "Ready",
    reachable: true,
    metricsAvailable: true,
    nodes: [
      { name: "dev-master", roles: ["control-plane"], status: "Ready", podCount: 0, cpuAllocatableMillis: 2000, usage: { cpuMillis: 1900, memoryBytes: 1 } },
      { name: "dev-worker1", roles: ["worker"], status: "NotReady", podCount: 3 },
    ],
    // The Overview reads the snapshot without pods (?pods=false): the counts are the API's.
    pods: [],
    // Every count differs, so a badge showing the wrong count fails the test.
    namespaces: [{ namespace: "demo", total: 9, running: 3, pending: 4, failed: 2, crashLooping: 1 }],
    ...over,
  }) as ClusterView;

afterEach(() => {
  cleanup();
  bars.drawn = 0;
  vi.unstubAllGlobals();
});

function renderWith(snapshot: Snapshot) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  client.setQueryData(["snapshot"], snapshot);
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <Overview />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return client;
}

describe("Overview", () => {
  it("shows a card per cluster with nodes, pod reasons and usage thresholds", () => {
    renderWith({
      collectedAt: "2026-11-28T18:00:00Z",
      stale: false, podsOmitted: true,
      errors: [],
      vms: [],
      clusters: [cluster({}), cluster({ name: "platform", tier: "platform", metricsAvailable: false, nodes: [], pods: [] })],
    } as Snapshot);
    const dev = screen.getByRole("link", { name: "dev" }).closest("section") as HTMLElement;
    expect(within(dev).getByText("1/2 nodes")).toBeTruthy();
    expect(within(dev).getByText("3 Running")).toBeTruthy();
    expect(within(dev).getByText("4 Pending")).toBeTruthy();
    expect(within(dev).getByText("2 Failed")).toBeTruthy();
    expect(within(dev).getByText("1 CrashLoopBackOff")).toBeTruthy();
    expect(within(dev).getByText("9 total")).toBeTruthy();
    // 1900m of 2000m allocatable on the only reporting node: above the 90% threshold.
    expect(within(dev).getByText("95%").className).toContain("text-red");
    const platform = screen.getByRole("link", { name: "platform" }).closest("section") as HTMLElement;
    expect(within(platform).getAllByText("unknown").length).toBe(2);
    expect(within(platform).getByText(/usage is unknown/)).toBeTruthy();
  });

  it("takes a cluster's usage from its VMs when it has no metrics API, and says so", () => {
    renderWith({
      collectedAt: "2026-11-28T18:00:00Z",
      stale: false, podsOmitted: true,
      errors: [],
      vms: [runningVm("dev-master", "dev")],
      clusters: [cluster({ metricsAvailable: false })],
    } as Snapshot);
    const dev = screen.getByRole("link", { name: "dev" }).closest("section") as HTMLElement;
    expect(within(dev).getByText("No metrics API in this cluster: usage of its VMs, as the host agent reads them.")).toBeTruthy();
    const bars = within(dev).getAllByRole("meter", { name: "Memory" });
    // The card's bar and the VM's: both 6 of 8 GiB.
    expect(bars.map((b) => b.getAttribute("aria-valuenow"))).toEqual(["75", "75"]);
  });

  it("shows each cluster's VMs with the host agent's figures, and says why when there are none", () => {
    renderWith({
      collectedAt: "2026-11-28T18:00:00Z",
      stale: false, podsOmitted: true,
      errors: [],
      vms: [
        runningVm("dev-master", "dev"),
        { name: "dev-worker1", cluster: "dev", state: "stopped", resources: { cpu: 2, memoryMiB: 4096, diskGiB: 20 } },
        { name: "platform-master", cluster: "", state: "running", ip: "192.168.64.2", stats: null, statsError: "no user admin in the VM" },
      ],
      clusters: [cluster({})],
    } as Snapshot);
    const dev = screen.getByRole("link", { name: "dev" }).closest("section") as HTMLElement;
    const master = within(dev).getByRole("region", { name: "VM dev-master" });
    expect(within(master).getByText("4 CPU · 8.0 GiB · 40 GiB disk")).toBeTruthy();
    expect(within(master).getByRole("meter", { name: "CPU" }).getAttribute("aria-valuenow")).toBe("12");
    expect(within(master).getByRole("meter", { name: "Memory" }).getAttribute("aria-valuenow")).toBe("75");
    // 95% of the disk: above the 90% threshold.
    expect(within(master).getByText("95% (38 GiB / 40 GiB)").className).toContain("text-red");
    expect(within(master).getByText("Network: received 2.0 KiB/s, sent 512 B/s")).toBeTruthy();
    expect(within(dev).getByRole("region", { name: "VM dev-worker1" }).textContent).toContain("Not running: no figures.");
    const unowned = screen.getByRole("heading", { name: "VMs of no managed cluster" }).closest("section") as HTMLElement;
    expect(within(unowned).getByText("No figures: no user admin in the VM")).toBeTruthy();
    expect(screen.queryByText(NO_VMS)).toBeNull();
  });

  it("says why there are no VMs (the lab has none)", () => {
    renderWith({ collectedAt: "2026-11-28T18:00:00Z", stale: false, podsOmitted: true, errors: [], vms: [], clusters: [cluster({})] } as Snapshot);
    expect(screen.getByText(NO_VMS)).toBeTruthy();
    expect(screen.queryByRole("region", { name: /^VM / })).toBeNull();
  });

  it("re-renders only the card of the cluster that changed", async () => {
    const snapshot = (demoRunning: number) =>
      ({
        collectedAt: "2026-11-28T18:00:00Z",
        stale: false,
        podsOmitted: true,
        errors: [],
        vms: [],
        clusters: [
          cluster({ name: "platform", tier: "platform", namespaces: [] }),
          cluster({ namespaces: [{ namespace: "demo", total: 9, running: demoRunning, pending: 0, failed: 0, crashLooping: 0 }] }),
        ],
      }) as Snapshot;
    const client = renderWith(snapshot(3));
    expect(bars.drawn).toBe(4);
    // A refetch or an event with the same data for platform and new counts for dev: the query
    // cache keeps platform's object, so its card is not drawn again.
    act(() => client.setQueryData(["snapshot"], snapshot(5)));
    expect(await screen.findByText("5 Running")).toBeTruthy();
    expect(bars.drawn).toBe(6);
  });

  it("lists pods per namespace on demand", () => {
    renderWith({
      collectedAt: "2026-11-28T18:00:00Z",
      stale: false, podsOmitted: true,
      errors: [],
      vms: [],
      clusters: [
        cluster({
          namespaces: [
            { namespace: "demo", total: 9, running: 3, pending: 4, failed: 2, crashLooping: 0 },
            { namespace: "kube-system", total: 7, running: 6, pending: 0, failed: 1, crashLooping: 0 },
          ],
        }),
      ],
    } as Snapshot);
    const toggle = screen.getByRole("button", { name: "2 namespaces" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByRole("table")).toBeNull();
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    const rows = within(screen.getByRole("table", { name: "Pods per namespace in dev" })).getAllByRole("row");
    const texts = (row: number, role: "columnheader" | "cell") => within(rows[row] as HTMLElement).getAllByRole(role).map((c) => c.textContent);
    expect(texts(0, "columnheader")).toEqual(["Namespace", "Total", "Running", "Pending", "Failed"]);
    expect(texts(1, "cell")).toEqual(["demo", "9", "3", "4", "2"]);
    expect(texts(2, "cell")).toEqual(["kube-system", "7", "6", "0", "1"]);
  });

  it("keeps the clusters on screen when a refresh fails, and says what it shows", async () => {
    const client = renderWith({ collectedAt: "2026-11-28T18:00:00Z", stale: false, podsOmitted: true, errors: [], vms: [], clusters: [cluster({})] } as Snapshot);
    expect(screen.queryByRole("alert")).toBeNull();
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify({ error: { code: "Unavailable", message: "caches not synced" } }), { status: 503 })),
    );
    await act(() => client.refetchQueries({ queryKey: ["snapshot"] }));
    expect((await screen.findByRole("alert")).textContent).toContain("Unavailable: caches not synced");
    expect(screen.getByRole("status").textContent).toMatch(/^Could not refresh: showing what was received at /);
    expect(screen.getByRole("link", { name: "dev" })).toBeTruthy();
  });

  it("says when data is stale and which source fails", () => {
    renderWith({
      collectedAt: "2026-11-28T18:00:00Z",
      stale: true, podsOmitted: true,
      errors: [{ cluster: "prod", source: "pods", message: "connection refused", since: "2026-11-28T17:59:00Z" }],
      vms: [],
      clusters: [],
    } as Snapshot);
    expect(screen.getByText(/prod pods: connection refused/)).toBeTruthy();
    expect(screen.getByText(/No clusters yet/)).toBeTruthy();
  });
});
