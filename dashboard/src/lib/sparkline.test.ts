import { describe, expect, it } from "vitest";
import { rateSummary, sparklinePath } from "./sparkline";

describe("sparklinePath", () => {
  it("scales from zero to the largest value, left to right", () => {
    expect(sparklinePath([0, 50, 100], 100, 20)).toBe("M0.0,20.0L50.0,10.0L100.0,0.0");
  });
  it("breaks the line where nothing was measured instead of drawing a zero", () => {
    expect(sparklinePath([10, null, 10, 5], 30, 10)).toBe("M0.0,0.0l0,0M20.0,0.0L30.0,5.0");
  });
  it("draws nothing without a measurement and a flat line at zero traffic", () => {
    expect(sparklinePath([], 10, 10)).toBe("");
    expect(sparklinePath([null, undefined], 10, 10)).toBe("");
    expect(sparklinePath([0, 0], 10, 10)).toBe("M0.0,10.0L10.0,10.0");
    expect(sparklinePath([7], 10, 10)).toBe("M5.0,0.0l0,0");
  });
});

describe("rateSummary", () => {
  it("says the latest, lowest and highest rate", () => {
    expect(rateSummary([2048, null, 512, 1024])).toBe("now 1.0 KiB/s, lowest 512 B/s, highest 2.0 KiB/s");
    expect(rateSummary([null])).toBe("not measured");
  });
});
