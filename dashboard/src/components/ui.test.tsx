import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { ApiError } from "../api/client";
import { clockTime } from "../lib/format";
import { CouldNotRefresh } from "./ui";

afterEach(cleanup);

describe("CouldNotRefresh", () => {
  const receivedAt = Date.parse("2026-11-28T18:07:09Z");

  it("says nothing while refreshes succeed", () => {
    const { container } = render(<CouldNotRefresh error={null} receivedAt={receivedAt} />);
    expect(container.childElementCount).toBe(0);
  });

  it("shows the error with its field, and when the data shown was received", () => {
    render(<CouldNotRefresh error={new ApiError(503, "Unavailable", "cache not synced", "cluster")} receivedAt={receivedAt} what="the tests" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("Unavailable: cache not synced");
    expect(alert.textContent).toContain("Field: cluster");
    expect(screen.getByRole("status").textContent).toBe(`Could not refresh the tests: showing what was received at ${clockTime(receivedAt)}.`);
  });
});
