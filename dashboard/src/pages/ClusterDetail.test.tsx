import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, Route, Routes } from "react-router";
import type { ClusterView, PodView, ServiceView } from "../api/client";
import { NO_VMS } from "../components/VmFigures";
import { nodeFigures } from "../components/nodeFixture";
import { runningVm } from "../components/vmFixture";
import { ClusterDetail } from "./ClusterDetail";

beforeEach(() => {
  // Anything not seeded stays loading.
  vi.stubGlobal("fetch", vi.fn(() => new Promise(() => {})));
  // Ages are counted from the pods' creation times to now.
  vi.spyOn(Date, "now").mockReturnValue(Date.parse("2026-11-28T12:00:00Z"));
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const pod = (over: Partial<PodView>): PodView => ({ namespace: "demo", name: "web", phase: "Running", status: "Running", ready: "1/1", restarts: 0, ...over });

const dev = {
  name: "dev",
  tier: "dev",
  phase: "Ready",
  reachable: true,
  metricsAvailable: true,
  nodes: [
    { name: "dev-worker1", roles: ["worker"], status: "Ready", podCount: 2, figures: nodeFigures() },
    { name: "dev-worker2", roles: ["worker"], status: "Ready", podCount: 0, figuresMissing: "simulated node (kwok): it has no kubelet and no node-exporter, so there is no disk or network to measure" },
  ],
  pods: [
    pod({ name: "nginx-web-7d9f", node: "dev-worker1", createdAt: "2026-11-28T08:59:55Z", usage: { cpuMillis: 250, memoryBytes: 1 } }),
    pod({ name: "httpbin-5c4b", status: "CrashLoopBackOff", ready: "0/1", restarts: 4, createdAt: "2026-11-28T11:59:15Z" }),
    pod({ name: "redis-0", node: "dev-worker1", status: "Error", phase: "Failed", restarts: 2 }),
  ],
  namespaces: [],
} as unknown as ClusterView;

const services: ServiceView[] = [
  {
    namespace: "demo",
    name: "nginx-web",
    type: "NodePort",
    clusterIp: "10.96.0.20",
    ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }],
    endpoints: [
      { address: "10.244.1.5", ready: true },
      { address: "10.244.1.6", ready: false },
    ],
  },
];

function renderAt(seed: [unknown[], unknown][]) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  for (const [key, data] of seed) client.setQueryData(key, data);
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/clusters/dev"]}>
        <Routes>
          <Route path="/clusters/:name" element={<ClusterDetail />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const rowTexts = (table: HTMLElement) =>
  within(table)
    .getAllByRole("row")
    .map((r) => within(r).queryAllByRole("columnheader").concat(within(r).queryAllByRole("cell")).map((c) => c.textContent));

describe("ClusterDetail", () => {
  it("shows each node's disk gauge and network sparklines from node-exporter, or why there are none", () => {
    renderAt([[["cluster", "dev"], dev]]);
    const disk = screen.getByRole("meter", { name: "dev-worker1 disk /" });
    expect(disk.getAttribute("aria-valuenow")).toBe("75");
    expect(screen.getByText("75% (15 GiB / 20 GiB)")).toBeTruthy();
    const figures = screen.getByRole("group", { name: "Disk and network of dev-worker1" });
    // The gap in the received series stays a gap: the lowest is 1 KiB/s, not 0.
    const rx = within(figures).getByRole("img", { name: "dev-worker1 received, last 30 minutes: now 2.0 KiB/s, lowest 1.0 KiB/s, highest 2.0 KiB/s" });
    expect(rx.querySelector("path")?.getAttribute("d")).toBe("M0.0,12.0l0,0M120.0,0.0l0,0");
    expect(within(figures).getByRole("img", { name: /^dev-worker1 sent, last 30 minutes: now 512 B\/s/ })).toBeTruthy();
    expect(within(figures).getByText("RX 2.0 KiB/s")).toBeTruthy();
    expect(within(figures).getByText("TX 512 B/s")).toBeTruthy();
    expect(within(figures).getByText(/^node-exporter via Prometheus at http:\/\/127\.0\.0\.1:9090, read /)).toBeTruthy();
    // The simulated node says why it has none, and draws no gauge.
    expect(screen.getByText("Disk and network: simulated node (kwok): it has no kubelet and no node-exporter, so there is no disk or network to measure")).toBeTruthy();
    expect(screen.queryByRole("meter", { name: "dev-worker2 disk /" })).toBeNull();
  });

  it("shows the cluster's VMs with their spec, figures and listening ports", () => {
    renderAt([
      [["cluster", "dev"], dev],
      [["cluster", "dev", "services"], services],
      [["snapshot"], { collectedAt: "", stale: false, podsOmitted: true, errors: [], clusters: [], vms: [runningVm("dev-master", "dev"), runningVm("prod-master", "prod")] }],
    ]);
    expect(screen.getByRole("region", { name: "VM dev-master" })).toBeTruthy();
    expect(screen.queryByRole("region", { name: "VM prod-master" })).toBeNull();
    const ports = within(screen.getByRole("list", { name: "Listening ports of dev-master" })).getAllByRole("listitem");
    expect(ports.map((p) => p.textContent)).toEqual(["22 sshd on 0.0.0.0", "6443 kube-apiserver on 192.168.64.5"]);
  });

  it("says why a cluster has no VMs, and that they load", () => {
    renderAt([
      [["cluster", "dev"], dev],
      [["cluster", "dev", "services"], services],
    ]);
    expect(screen.getByText("Loading the VMs…")).toBeTruthy();
    cleanup();
    renderAt([
      [["cluster", "dev"], dev],
      [["snapshot"], { collectedAt: "", stale: false, podsOmitted: true, errors: [], clusters: [], vms: [] }],
    ]);
    expect(screen.getByText(NO_VMS)).toBeTruthy();
  });

  it("lists the pods with their real status reasons, restarts, CPU, node and age", () => {
    renderAt([
      [["cluster", "dev"], dev],
      [["cluster", "dev", "services"], services],
    ]);
    const pods = screen.getByRole("table", { name: "Pods" });
    expect(rowTexts(pods)).toEqual([
      ["Pod", "Namespace", "Status", "Ready", "Restarts", "CPU", "Node", "Age"],
      ["nginx-web-7d9f", "demo", "Running", "1/1", "0", "250m", "dev-worker1", "3h"],
      ["httpbin-5c4b", "demo", "CrashLoopBackOff", "0/1", "4", "unknown", "—", "45s"],
      ["redis-0", "demo", "Error", "1/1", "2", "unknown", "dev-worker1", "—"],
    ]);
    const crashing = within(pods).getAllByRole("row")[2] as HTMLElement;
    expect(within(crashing).getByText("CrashLoopBackOff").className).toContain("text-red");
    expect(within(crashing).getByRole("cell", { name: "4" }).className).toContain("text-yellow");
  });

  it("lists each node's own pods, with phase, status and restarts, behind a toggle", () => {
    renderAt([
      [["cluster", "dev"], dev],
      [["cluster", "dev", "services"], services],
    ]);
    expect(screen.queryByRole("table", { name: "Pods on dev-worker1" })).toBeNull();
    const toggle = screen.getByRole("button", { name: "Show the 2 pods on dev-worker1" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    // The unscheduled httpbin pod is on no node's list.
    const table = screen.getByRole("table", { name: "Pods on dev-worker1" });
    expect(rowTexts(table)).toEqual([
      ["Pod", "Phase", "Status", "Restarts"],
      ["demo/nginx-web-7d9f", "Running", "Running", "0"],
      ["demo/redis-0", "Failed", "Error", "2"],
    ]);
    expect(within(table).getByRole("cell", { name: "2" }).className).toContain("text-yellow");
    fireEvent.click(screen.getByRole("button", { name: "Show the 0 pods on dev-worker2" }));
    expect(screen.getByText("No pods on dev-worker2.")).toBeTruthy();
    fireEvent.click(toggle);
    expect(screen.queryByRole("table", { name: "Pods on dev-worker1" })).toBeNull();
  });

  it("lists the services with ports and ready endpoints", () => {
    renderAt([
      [["cluster", "dev"], dev],
      [["cluster", "dev", "services"], services],
    ]);
    expect(rowTexts(screen.getByRole("table", { name: "Services" }))).toEqual([
      ["Service", "Namespace", "Type", "Cluster IP", "Ports", "Endpoints"],
      ["nginx-web", "demo", "NodePort", "10.96.0.20", "80:30080/TCP", "1/2 ready"],
    ]);
  });

  it("says when there are no pods and while the services load", () => {
    renderAt([[["cluster", "dev"], { ...dev, pods: [] }]]);
    expect(screen.getByText("No pods.")).toBeTruthy();
    expect(screen.queryByRole("table", { name: "Pods" })).toBeNull();
    expect(screen.getByText("Loading services…")).toBeTruthy();
  });
});
