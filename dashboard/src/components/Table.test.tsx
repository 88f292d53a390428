import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { rowWindow, Table, WINDOW_FROM, type Column } from "./Table";

afterEach(cleanup);

interface Pod {
  name: string;
  restarts: number;
}

const PODS: Pod[] = [
  { name: "web-1", restarts: 0 },
  { name: "web-2", restarts: 3 },
];

const COLUMNS: Column<Pod>[] = [
  { header: "Pod", cell: (p) => p.name },
  { header: "Restarts", cell: (p) => p.restarts, numeric: true, className: (p) => (p.restarts > 0 ? "text-yellow-300" : "") },
  { header: "Row", cell: (_, i) => `#${i + 1}` },
];

const texts = (cells: HTMLElement[]) => cells.map((c) => c.textContent);

describe("Table", () => {
  it("draws a header row and a row per item, named by the heading it points to", () => {
    render(
      <>
        <h2 id="pods">Pods</h2>
        <Table labelledBy="pods" columns={COLUMNS} rows={PODS} rowKey={(p) => p.name} />
      </>,
    );
    const table = screen.getByRole("table", { name: "Pods" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(3);
    expect(texts(within(rows[0] as HTMLElement).getAllByRole("columnheader"))).toEqual(["Pod", "Restarts", "Row"]);
    expect(texts(within(rows[1] as HTMLElement).getAllByRole("cell"))).toEqual(["web-1", "0", "#1"]);
    expect(texts(within(rows[2] as HTMLElement).getAllByRole("cell"))).toEqual(["web-2", "3", "#2"]);
    // Only the "both" variant is a scrolling region.
    expect(screen.queryByRole("region")).toBeNull();
  });

  it("right-aligns numeric columns and applies per-row cell classes", () => {
    render(<Table caption="Pods" columns={COLUMNS} rows={PODS} rowKey={(p) => p.name} />);
    const [header, first, second] = within(screen.getByRole("table", { name: "Pods" })).getAllByRole("row") as HTMLElement[];
    expect(within(header!).getByRole("columnheader", { name: "Restarts" }).className).toContain("text-right");
    expect(within(header!).getByRole("columnheader", { name: "Pod" }).className).not.toContain("text-right");
    const restarts = (row: HTMLElement) => within(row).getAllByRole("cell")[1] as HTMLElement;
    expect(restarts(first!).className).toContain("text-right");
    expect(restarts(first!).className).not.toContain("text-yellow-300");
    expect(restarts(second!).className).toContain("text-yellow-300");
  });

  it("scrolls both ways in a focusable region with the table's name", () => {
    render(<Table caption="Events" scroll="both" columns={COLUMNS} rows={PODS} rowKey={(p) => p.name} />);
    const region = screen.getByRole("region", { name: "Events" });
    expect(region.tabIndex).toBe(0);
    expect(within(region).getByRole("table", { name: "Events" })).toBeTruthy();
    expect(within(region).getAllByRole("rowgroup")[0]?.className).toContain("sticky");
  });
});

describe("a long scrolling table", () => {
  const many: Pod[] = Array.from({ length: 5000 }, (_, i) => ({ name: `web-${i}`, restarts: 0 }));

  it("draws only the rows in view and says how many there are", () => {
    render(<Table caption="Pods" columns={COLUMNS} rows={many} rowKey={(p) => p.name} scroll="both" />);
    const table = screen.getByRole("table", { name: "Pods" });
    expect(table.getAttribute("aria-rowcount")).toBe("5001");
    const drawn = within(table).getAllByRole("row").slice(1);
    expect(drawn.length).toBeLessThan(40);
    expect(texts(within(drawn[0] as HTMLElement).getAllByRole("cell"))).toEqual(["web-0", "0", "#1"]);
    expect(drawn[0]!.getAttribute("aria-rowindex")).toBe("2");
  });

  it("draws the rows scrolled to", () => {
    render(<Table caption="Pods" columns={COLUMNS} rows={many} rowKey={(p) => p.name} scroll="both" />);
    const box = screen.getByRole("region", { name: "Pods" });
    box.scrollTop = 29 * 3000;
    fireEvent.scroll(box);
    const drawn = within(screen.getByRole("table", { name: "Pods" })).getAllByRole("row").slice(1);
    const names = drawn.map((r) => within(r as HTMLElement).getAllByRole("cell")[0]!.textContent);
    expect(names).toContain("web-3000");
    expect(names).not.toContain("web-0");
  });

  it("keeps short tables whole", () => {
    render(<Table caption="Pods" columns={COLUMNS} rows={many.slice(0, WINDOW_FROM)} rowKey={(p) => p.name} scroll="both" />);
    const table = screen.getByRole("table", { name: "Pods" });
    expect(within(table).getAllByRole("row")).toHaveLength(WINDOW_FROM + 1);
    expect(table.getAttribute("aria-rowcount")).toBeNull();
  });
});

describe("rowWindow", () => {
  it("covers the box and the overscan, clamped to the rows", () => {
    expect(rowWindow(0, 290, 5000, 29, 10)).toEqual({ from: 0, to: 21 });
    expect(rowWindow(2900, 290, 5000, 29, 10)).toEqual({ from: 90, to: 121 });
    expect(rowWindow(29 * 4995, 290, 5000, 29, 10)).toEqual({ from: 4985, to: 5000 });
    // Before layout (jsdom, a hidden box) the box counts as its maximum height.
    expect(rowWindow(0, 0, 5000, 29, 0).to).toBe(15);
  });
});
