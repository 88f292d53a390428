import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation } from "react-router";
import type { ClusterView, Snapshot, TrafficView } from "../api/client";
import { edge, flow } from "../lib/traffic.fixtures";
import { Traffic } from "./Traffic";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const DEV: TrafficView = {
  cluster: "dev",
  available: true,
  source: "port-forward kube-system/hubble-relay-7d9c:4245",
  flows: [
    flow({ l7: "HTTP", httpMethod: "GET", httpStatus: 200, httpUrl: "http://httpbin.demo/get" }),
    flow({ verdict: "DROPPED", source: { namespace: "tart-loadtest", service: "lt-light", identity: 3 } }),
    flow({ verdict: "ERROR" }),
    flow({ protocol: "UDP", port: 53, l7: "DNS", dnsQuery: "httpbin.demo.svc.cluster.local.", destination: { namespace: "kube-system", service: "coredns", identity: 4 } }),
  ],
  edges: [
    edge("demo/nginx-web", "demo/httpbin", { flowCount: 3, forwardedCount: 1, droppedCount: 0, protocols: ["TCP", "TCP/HTTP"] }),
    edge("demo/nginx-web", "kube-system/coredns", { protocols: ["UDP/DNS"] }),
    edge("tart-loadtest/lt-light", "demo/httpbin", { forwardedCount: 0, droppedCount: 1 }),
  ],
  forwarded: 2,
  dropped: 1,
};

const PLATFORM: TrafficView = {
  cluster: "platform",
  available: false,
  message: "no Hubble Relay: kube-system has no running pod labelled k8s-app=hubble-relay",
  flows: [],
  edges: [],
  forwarded: 0,
  dropped: 0,
};

const snapshot = (names: string[]): Snapshot =>
  ({ collectedAt: new Date().toISOString(), stale: false, podsOmitted: true, errors: [], vms: [], clusters: names.map((name) => ({ name }) as ClusterView) }) as Snapshot;

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** Answers the API by path; paths not listed never answer. */
function stubApi(routes: Record<string, () => Response>) {
  const fetchMock = vi.fn((url: string) => {
    const answer = routes[url.replace(/^\/api\/v1/, "")];
    return answer ? Promise.resolve(answer()) : new Promise<Response>(() => {});
  });
  vi.stubGlobal("fetch", fetchMock);
  return fetchMock;
}

function Where() {
  return <p data-testid="location">{useLocation().search}</p>;
}

function renderAt(url: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[url]}>
        <Traffic />
        <Where />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

const select = () => screen.getByLabelText("Cluster") as HTMLSelectElement;

describe("Traffic", () => {
  it("shows a card per cluster and the latest flows, and a card click selects its cluster", async () => {
    stubApi({
      "/snapshot": () => json(snapshot(["platform", "dev"])),
      "/traffic": () => json([DEV, PLATFORM]),
      "/clusters/dev/traffic": () => json(DEV),
    });
    renderAt("/traffic");
    const dev = await screen.findByRole("button", { name: /dev/ });
    expect(within(dev).getByRole("img", { name: "healthy" })).toBeTruthy();
    expect(dev.textContent).toContain("4 flows captured");
    expect(within(dev).getByText("2 fwd")).toBeTruthy();
    // DROPPED and ERROR: both not forwarded.
    expect(within(dev).getByText("2 drop")).toBeTruthy();
    expect(within(dev).getByText("top: demo/nginx-web → demo/httpbin (3)")).toBeTruthy();
    const platform = screen.getByRole("button", { name: /platform/ });
    expect(within(platform).getByRole("img", { name: "down" })).toBeTruthy();
    expect(within(platform).getByText(/no Hubble Relay/)).toBeTruthy();
    expect(select().value).toBe("");

    const table = screen.getByRole("table", { name: "All flows (latest per cluster)" });
    const rows = within(table).getAllByRole("row");
    expect(within(rows[0] as HTMLElement).getAllByRole("columnheader").map((h) => h.textContent)).toEqual([
      "Cluster",
      "Source",
      "Destination",
      "Port",
      "Protocol",
      "Verdict",
    ]);
    expect(rows).toHaveLength(5);
    expect(within(rows[1] as HTMLElement).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "dev",
      "nginx-web (demo)",
      "httpbin (demo)",
      "80",
      "TCP/HTTP",
      "FORWARDED",
    ]);
    expect(within(rows[2] as HTMLElement).getByText("DROPPED").className).toContain("text-red");

    fireEvent.click(dev);
    expect(screen.getByTestId("location").textContent).toBe("?cluster=dev");
    expect(await screen.findByRole("img", { name: "Service map of dev: 4 services, 3 connections" })).toBeTruthy();
    expect(select().value).toBe("dev");
  });

  it("says when no cluster has traffic yet", async () => {
    stubApi({ "/traffic": () => json([{ ...DEV, flows: [], edges: [], forwarded: 0, dropped: 0 }]) });
    renderAt("/traffic");
    expect(await screen.findByText("No traffic yet. Run a load test to generate flows.")).toBeTruthy();
    expect(screen.getByRole("button", { name: /dev/ }).textContent).toContain("0 fwd0 drop");
  });

  it("goes back to all clusters from the selector", async () => {
    stubApi({ "/snapshot": () => json(snapshot(["dev"])), "/traffic": () => json([DEV]) });
    renderAt("/traffic?cluster=dev");
    expect(select().value).toBe("dev");
    fireEvent.change(select(), { target: { value: "" } });
    expect(screen.getByTestId("location").textContent).toBe("");
    expect(await screen.findByRole("button", { name: /dev/ })).toBeTruthy();
  });

  it("says why a cluster has no flows instead of drawing an empty map", async () => {
    stubApi({ "/clusters/platform/traffic": () => json(PLATFORM) });
    renderAt("/traffic?cluster=platform");
    const status = (await screen.findByText("No flows from platform.")).closest('[role="status"]');
    expect(status?.textContent).toContain("no Hubble Relay: kube-system has no running pod labelled k8s-app=hubble-relay");
    expect(screen.queryByRole("img")).toBeNull();
  });

  it("draws the service map with a box per service and an edge per connection, and the tables", async () => {
    stubApi({ "/clusters/dev/traffic": () => json(DEV) });
    renderAt("/traffic?cluster=dev");
    const map = await screen.findByRole("img", { name: "Service map of dev: 4 services, 3 connections" });
    const boxes = map.querySelectorAll('rect[data-kind="service"]');
    expect(boxes).toHaveLength(4);
    expect([...map.querySelectorAll("title")].map((t) => t.textContent)).toEqual([
      "demo/httpbin",
      "demo/nginx-web",
      "kube-system/coredns",
      "tart-loadtest/lt-light",
    ]);
    const edges = [...map.querySelectorAll('path[data-kind="edge"]')];
    expect(edges.map((p) => [p.getAttribute("stroke"), p.getAttribute("marker-end"), p.getAttribute("stroke-dasharray")])).toEqual([
      ["#22c55e", "url(#traffic-arrow-green)", "6 3"],
      ["#22c55e", "url(#traffic-arrow-green)", "6 3"],
      ["#ef4444", "url(#traffic-arrow-red)", "6 3"],
    ]);
    expect(screen.getByText(/Source: port-forward kube-system\/hubble-relay-7d9c:4245/).textContent).toContain("2 forwarded · 1 dropped · 1 error");

    const top = screen.getByRole("table", { name: "Top connections" });
    const first = within(top).getAllByRole("row")[1] as HTMLElement;
    expect(within(first).getAllByRole("cell").map((c) => c.textContent)).toEqual(["demo/nginx-web → demo/httpbin", "3", "1", "0", "TCP, TCP/HTTP"]);

    const recent = screen.getByRole("table", { name: "Recent flows" });
    const rows = within(recent).getAllByRole("row");
    expect(rows).toHaveLength(5);
    expect(within(rows[1] as HTMLElement).getByText("GET 200 http://httpbin.demo/get")).toBeTruthy();
    expect(within(rows[4] as HTMLElement).getByText("DNS httpbin.demo.svc.cluster.local.")).toBeTruthy();
    expect(within(rows[4] as HTMLElement).getByText("UDP/DNS")).toBeTruthy();
  });

  it("marks simulated flows and the clusters that have them, and nothing else", async () => {
    const LAB: TrafficView = { ...DEV, cluster: "lab", simulated: true, flows: [{ ...flow(DEV.flows[0]), simulated: true }, ...DEV.flows.slice(1)] };
    stubApi({
      "/snapshot": () => json(snapshot(["dev", "lab"])),
      "/traffic": () => json([DEV, LAB]),
      "/clusters/lab/traffic": () => json(LAB),
    });
    renderAt("/traffic");
    const lab = await screen.findByRole("button", { name: /lab/ });
    // After the count, so the card still reads "lab 4 flows captured" first.
    expect(lab.textContent).toMatch(/^lab\s*4 flows captured\s*simulated/);
    expect(within(screen.getByRole("button", { name: /dev/ })).queryByText("simulated")).toBeNull();
    const all = within(screen.getByRole("table", { name: "All flows (latest per cluster)" })).getAllByRole("row");
    const marked = all.filter((r) => within(r).queryByText("simulated"));
    expect(marked).toHaveLength(1);
    expect(within(marked[0] as HTMLElement).getAllByRole("cell").map((c) => c.textContent)).toEqual([
      "lab",
      "nginx-web (demo)",
      "httpbin (demo)",
      "80",
      "TCP/HTTP",
      "FORWARDEDsimulated",
    ]);

    fireEvent.click(lab);
    const note = await screen.findByRole("note");
    expect(note.textContent).toContain("1 of 4 flows are simulated");
    expect(note.textContent).toContain("Cilium observed none of them");
    const recent = within(screen.getByRole("table", { name: "Recent flows" })).getAllByRole("row");
    expect(within(recent[1] as HTMLElement).getByText("simulated").closest("[title]")?.getAttribute("title")).toContain("not observed by Cilium");
    expect(recent.slice(2).every((r) => within(r).queryByText("simulated") === null)).toBe(true);
  });

  it("marks nothing in a cluster whose flows Cilium observed", async () => {
    stubApi({ "/clusters/dev/traffic": () => json(DEV) });
    renderAt("/traffic?cluster=dev");
    expect(await screen.findByRole("table", { name: "Recent flows" })).toBeTruthy();
    expect(screen.queryByRole("note")).toBeNull();
    expect(screen.queryByText("simulated")).toBeNull();
  });

  it("shows an API error with the field at fault", async () => {
    stubApi({ "/clusters/nope/traffic": () => json({ error: { code: "not_found", message: "no cluster nope", field: "name" } }, 404) });
    renderAt("/traffic?cluster=nope");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("not_found: no cluster nope");
    expect(within(alert).getByText("name")).toBeTruthy();
    expect(select().value).toBe("nope");
  });

  it("shows an error when the traffic of all clusters fails", async () => {
    stubApi({ "/traffic": () => json({ error: { code: "Forbidden", message: "may not list managedclusters" } }, 403) });
    renderAt("/traffic");
    expect((await screen.findByRole("alert")).textContent).toContain("Forbidden: may not list managedclusters");
  });

  it("says it is loading", () => {
    stubApi({});
    renderAt("/traffic");
    expect(screen.getByRole("status").textContent).toContain("Loading traffic");
  });
});
