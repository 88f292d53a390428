import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import type { ClusterView, Snapshot } from "./api/client";
import { App } from "./App";

const TOKEN_KEY = "tart-infra.token";

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const unauthorized = () => json(401, { error: { code: "Unauthorized", message: "a bearer token is required" } });

const dev = { name: "dev", tier: "dev", phase: "Ready", reachable: true, metricsAvailable: true, nodes: [], pods: [], namespaces: [] } as unknown as ClusterView;
const snapshot = { collectedAt: "2026-11-28T18:00:00Z", stale: false, podsOmitted: true, errors: [], vms: [], clusters: [dev] } as Snapshot;

/** Answers the app's requests: `write` decides POSTs; reads need the token "good". */
function stubApi(write: () => Response) {
  const seen: { method: string; path: string; auth: string | null }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const path = new URL(String(input), "http://localhost").pathname;
      const method = init?.method ?? "GET";
      const auth = new Headers(init?.headers).get("Authorization");
      seen.push({ method, path, auth });
      if (auth !== "Bearer good") return unauthorized();
      if (method === "POST") return write();
      if (path === "/api/v1/snapshot") return json(200, snapshot);
      if (path === "/api/v1/presets" || path === "/api/v1/tests") return json(200, []);
      return json(404, { error: { code: "NotFound", message: path } });
    }),
  );
  return seen;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
  window.history.pushState({}, "", "/");
});

describe("App", () => {
  it("asks for a token on a 401, then sends it", async () => {
    const seen = stubApi(() => json(201, {}));
    render(<App />);
    await screen.findByText("tart-infra needs an access token");
    fireEvent.change(screen.getByLabelText("Access token"), { target: { value: "good" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("0 VMs / 1 clusters");
    expect(localStorage.getItem(TOKEN_KEY)).toBe("good");
    expect(seen.some((r) => r.path === "/api/v1/snapshot" && r.auth === "Bearer good")).toBe(true);
  });

  it("asks for a token again when a write answers 401", async () => {
    localStorage.setItem(TOKEN_KEY, "good");
    window.history.pushState({}, "", "/testing");
    stubApi(unauthorized);
    render(<App />);
    // The Testing page loads its own chunk: slow on a busy machine.
    const start = await screen.findByRole("button", { name: "Start test" }, { timeout: 10_000 });
    await screen.findByText(/Runs on cluster/);
    await screen.findByText("dev", { selector: "strong" });
    fireEvent.click(start);
    await screen.findByText("tart-infra needs an access token");
  });
});
