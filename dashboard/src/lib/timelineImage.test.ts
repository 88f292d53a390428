import { describe, expect, it } from "vitest";
import { layout, readPanels, wrap, type PanelPicture } from "./timelineImage";

describe("timeline PNG", () => {
  it("wraps a reason into lines of whole words", () => {
    expect(wrap("the lab's runners are simulated: nothing was measured", 20)).toEqual(["the lab's runners", "are simulated:", "nothing was measured"]);
    expect(wrap("", 10)).toEqual([]);
  });

  it("stacks the panels: heading, legend, then the chart or the reason", () => {
    const chart: PanelPicture = { title: "Replicas", legend: [{ name: "demo/web", colour: "#3b82f6" }], svg: "<svg/>", width: 600, height: 150, note: null };
    const note: PanelPicture = { title: "Requests per second", legend: [], svg: null, width: 0, height: 0, note: "nothing was measured" };
    const { tops, height } = layout([chart, note], 640);
    expect(tops).toEqual([54, 54 + 22 + 18 + 150 + 16]);
    expect(height).toBe(tops[1]! + 22 + 18 + 16);
  });

  it("reads each panel's title, legend, chart and reason from the page", () => {
    document.body.innerHTML = `
      <div id="root">
        <section data-timeline-panel="Replicas" data-legend='[{"name":"demo/web","colour":"#3b82f6"}]'>
          <div class="recharts-wrapper"><svg width="600" height="150"><line x1="0" y1="0" x2="10" y2="10" stroke="#3b82f6"/></svg></div>
        </section>
        <section data-timeline-panel="Error rate" data-legend="[]"><p data-reason>the lab's runners are simulated</p></section>
      </div>`;
    const panels = readPanels(document.getElementById("root")!);
    expect(panels.map((p) => [p.title, p.note, p.width, p.height])).toEqual([
      ["Replicas", null, 600, 150],
      ["Error rate", "the lab's runners are simulated", 0, 0],
    ]);
    expect(panels[0]?.legend).toEqual([{ name: "demo/web", colour: "#3b82f6" }]);
    expect(panels[0]?.svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(panels[0]?.svg).toContain('stroke="#3b82f6"');
    expect(panels[1]?.svg).toBeNull();
  });
});
