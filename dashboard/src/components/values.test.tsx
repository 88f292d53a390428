import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { Field, Stat } from "./values";

afterEach(cleanup);

describe("Stat and Field", () => {
  it("pair a label (term) with its value (definition), a Stat coloured by its verdict", () => {
    render(
      <dl>
        <Stat label="p95 latency" value="1.2 s" passed={false} />
        <Stat label="Error rate" value="0.40%" passed />
        <Stat label="Requests" value="1,234" />
        <Field label="Cluster">dev</Field>
      </dl>,
    );
    const terms = screen.getAllByRole("term").map((t) => t.textContent?.trim());
    const definitions = screen.getAllByRole("definition").map((d) => d.textContent);
    expect(terms).toEqual(["p95 latency", "Error rate", "Requests", "Cluster"]);
    expect(definitions).toEqual(["1.2 s", "0.40%", "1,234", "dev"]);
    expect(screen.getByText("1.2 s").className).toContain("text-red-300");
    expect(screen.getByText("0.40%").className).toContain("text-emerald-300");
    expect(screen.getByText("1,234").className).not.toMatch(/text-(red|emerald)/);
  });
});
