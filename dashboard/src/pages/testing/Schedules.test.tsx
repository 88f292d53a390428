import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router";
import { run, schedule } from "../../lib/schedules.fixtures";
import type { ScheduleView } from "../../lib/schedules";
import { Schedules } from "./Schedules";

function renderWith(schedules: ScheduleView[]) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  client.setQueryData(["schedules"], schedules);
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter>
        <Schedules />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(cleanup);

describe("Schedules", () => {
  it("shows each schedule with its next run, pass rate and runs linked to their view and the Compare page", () => {
    renderWith([
      schedule([
        run("nightly-1", "passed", { p95Ms: 120, rps: 50, errorRate: 0, finishedAt: "2026-12-04T01:31:00Z" }),
        run("nightly-2", "failed", { p95Ms: 900, rps: 20, errorRate: 0.2, baseline: "nightly-1", regression: { status: "True", reason: "Regressed", message: "p95Ms 120 → 900" } }),
      ]),
    ]);
    const card = screen.getByRole("listitem", { name: "Schedule team/nightly" });
    expect(within(card).getByText("30 2 * * *")).toBeTruthy();
    expect(within(card).getByText("Europe/Berlin")).toBeTruthy();
    expect(card.textContent).toContain("next run");
    expect(within(card).getByText("50%")).toBeTruthy();
    expect(within(card).getByRole("figure", { name: "p95 latency over the runs of nightly" })).toBeTruthy();
    const table = within(card).getByRole("table");
    expect(within(table).getByRole("link", { name: "nightly-2" }).getAttribute("href")).toBe("#test-team-nightly-2");
    expect(within(table).getByRole("link", { name: /nightly-2 with the run before/ }).getAttribute("href")).toBe("/compare?a=team%2Fnightly-1&b=team%2Fnightly-2");
    expect(within(table).getByText("Regressed")).toBeTruthy();
  });

  it("says the lab's runs measured nothing rather than drawing zeros, and shows a suspended or skipping schedule", () => {
    renderWith([
      schedule([run("lab-1", "notMeasured", { finishedAt: "2026-12-04T01:31:00Z" })], {
        suspend: true,
        ready: false,
        skipped: "the run due at 2026-12-05T01:30:00Z was skipped: concurrencyPolicy is Forbid and lab-0 is still active",
      }),
    ]);
    const card = screen.getByRole("listitem", { name: "Schedule team/nightly" });
    expect(within(card).getByText(/measured nothing \(they ran on simulated nodes/)).toBeTruthy();
    expect(within(card).queryByRole("figure")).toBeNull();
    expect(within(card).getByText("Suspended")).toBeTruthy();
    expect(within(card).getByText(/concurrencyPolicy is Forbid/)).toBeTruthy();
    expect(within(card).getByText("No pass rate: the finished runs measured nothing.")).toBeTruthy();
  });

  it("tells how to add a schedule when there is none", () => {
    renderWith([]);
    expect(screen.getByText(/apply a TestSchedule/)).toBeTruthy();
  });
});
