import { describe, expect, it } from "vitest";
import type { ScalingHistory } from "../api/client";
import {
  candidateClusters,
  firstWithHpas,
  hpaBadge,
  latest,
  progress,
  sampleLag,
  toCpuSeries,
  toReplicaSeries,
  type HpaSample,
  type ScalingPoint,
} from "./scaling";
import { PALETTE } from "./format";
import { hpa } from "./scaling.fixtures";


const at = (second: number, hpas: HpaSample[]): ScalingPoint => ({
  timestamp: new Date(Date.UTC(2026, 10, 28, 18, 0, second)).toISOString(),
  hpas,
});

const history = (points: ScalingPoint[]): ScalingHistory => ({ cluster: "dev", intervalSeconds: 5, points });

describe("latest", () => {
  it("is the newest point, or null without points", () => {
    expect(latest(history([at(0, []), at(5, [hpa()])]))?.hpas).toHaveLength(1);
    expect(latest(history([]))).toBeNull();
    expect(latest(undefined)).toBeNull();
  });
});

describe("hpaBadge", () => {
  it("says STABLE, SCALING or AT MAX", () => {
    expect(hpaBadge(hpa())).toEqual({ label: "STABLE", tone: "green" });
    expect(hpaBadge(hpa({ desiredReplicas: 5 }))).toEqual({ label: "SCALING", tone: "yellow" });
    expect(hpaBadge(hpa({ currentReplicas: 10, desiredReplicas: 10 }))).toEqual({ label: "AT MAX", tone: "red" });
    // Wants more than max: still pinned.
    expect(hpaBadge(hpa({ currentReplicas: 10, desiredReplicas: 12 })).label).toBe("AT MAX");
    // At max but scaling down, or above a lowered max and coming down: scaling.
    expect(hpaBadge(hpa({ currentReplicas: 10, desiredReplicas: 7 })).label).toBe("SCALING");
    expect(hpaBadge(hpa({ currentReplicas: 12, desiredReplicas: 10 })).label).toBe("SCALING");
  });
});

describe("progress", () => {
  it("places current between min and max, at least 5% and at most 100%", () => {
    expect(progress(hpa({ currentReplicas: 6 }))).toBe(50);
    expect(progress(hpa({ currentReplicas: 2 }))).toBe(5);
    expect(progress(hpa({ currentReplicas: 0 }))).toBe(5);
    expect(progress(hpa({ currentReplicas: 10 }))).toBe(100);
    expect(progress(hpa({ currentReplicas: 14 }))).toBe(100);
  });

  it("copes with min = max", () => {
    expect(progress(hpa({ minReplicas: 3, maxReplicas: 3, currentReplicas: 3 }))).toBe(100);
    expect(progress(hpa({ minReplicas: 3, maxReplicas: 3, currentReplicas: 1 }))).toBe(5);
  });
});

describe("toReplicaSeries", () => {
  it("makes one column per namespace/deployment, keyed by time", () => {
    const api = hpa({ name: "api-hpa", deployment: "api", currentReplicas: 1, maxReplicas: 4 });
    const { series, rows } = toReplicaSeries([at(0, [hpa(), api]), at(5, [hpa({ currentReplicas: 5 }), api])]);
    expect(series.map((s) => [s.key, s.colour, s.max])).toEqual([
      ["demo/web", PALETTE[0], 10],
      ["demo/api", PALETTE[1], 4],
    ]);
    expect(rows).toEqual([
      { t: Date.UTC(2026, 10, 28, 18, 0, 0), "demo/web": 3, "demo/api": 1 },
      { t: Date.UTC(2026, 10, 28, 18, 0, 5), "demo/web": 5, "demo/api": 1 },
    ]);
  });

  it("leaves gaps (null, not 0) where an HPA appears late or vanishes", () => {
    const late = hpa({ namespace: "shop", name: "cart", deployment: "cart", currentReplicas: 2 });
    const { series, rows } = toReplicaSeries([at(0, [hpa()]), at(5, [hpa(), late]), at(10, [late])]);
    expect(rows.map((r) => [r["demo/web"], r["shop/cart"]])).toEqual([
      [3, null],
      [3, 2],
      [null, 2],
    ]);
    expect(series.find((s) => s.key === "demo/web")?.present).toBe(false);
    expect(series.find((s) => s.key === "shop/cart")?.present).toBe(true);
  });

  it("keeps the latest max and skips points without a readable time", () => {
    const { series, rows } = toReplicaSeries([at(0, [hpa()]), { timestamp: "garbage", hpas: [hpa()] }, at(10, [hpa({ maxReplicas: 20 })])]);
    expect(series[0]?.max).toBe(20);
    expect(rows).toHaveLength(2);
    expect(toReplicaSeries([])).toEqual({ series: [], rows: [] });
  });
});

describe("toCpuSeries", () => {
  it("keeps unknown CPU as null and lists HPAs that never reported it", () => {
    const quiet = hpa({ name: "q", deployment: "quiet", currentCpuPercent: null, targetCpuPercent: null });
    const { series, rows, unreported, yMax } = toCpuSeries([
      at(0, [hpa({ currentCpuPercent: null }), quiet]),
      at(5, [hpa({ currentCpuPercent: 87 }), quiet]),
    ]);
    expect(rows.map((r) => [r["demo/web"], r["demo/quiet"]])).toEqual([
      [null, null],
      [87, null],
    ]);
    expect(unreported).toEqual(["demo/quiet"]);
    expect(series.map((s) => s.target)).toEqual([50, null]);
    expect(yMax).toBe(100);
  });

  it("stretches the y axis above 100% when usage or a target does", () => {
    expect(toCpuSeries([at(0, [hpa({ currentCpuPercent: 243 })])]).yMax).toBe(250);
    expect(toCpuSeries([at(0, [hpa({ currentCpuPercent: 10, targetCpuPercent: 150 })])]).yMax).toBe(150);
  });

  it("handles an HPA that vanishes", () => {
    const { rows, series } = toCpuSeries([at(0, [hpa()]), at(5, [])]);
    expect(rows.map((r) => r["demo/web"])).toEqual([40, null]);
    expect(series[0]?.present).toBe(false);
  });
});

describe("sampleLag", () => {
  const h = history([at(0, [hpa()])]);
  const t0 = Date.UTC(2026, 10, 28, 18, 0, 0);
  it("is fresh within three intervals and stale beyond", () => {
    expect(sampleLag(h, t0 + 6_000)).toEqual({ stale: false, seconds: 6 });
    expect(sampleLag(h, t0 + 16_000)).toEqual({ stale: true, seconds: 16 });
  });
  it("says nothing without points", () => {
    expect(sampleLag(history([]), t0)).toEqual({ stale: false, seconds: null });
  });
});

describe("default cluster", () => {
  it("tries managed clusters first and the platform last", () => {
    expect(
      candidateClusters([
        { name: "platform", tier: "platform" },
        { name: "dev", tier: "dev" },
        { name: "prod", tier: "prod" },
      ]),
    ).toEqual(["dev", "prod", "platform"]);
  });

  it("asks one cluster at a time and stops at the first with HPAs", async () => {
    const asked: string[] = [];
    const data: Record<string, ScalingPoint[]> = { dev: [at(0, [hpa()]), at(5, [])], staging: [at(0, [hpa()])], prod: [at(0, [hpa()])] };
    const load = async (c: string) => {
      asked.push(c);
      if (c === "dev") throw new Error("down");
      return history(data[c] ?? []);
    };
    const found = await firstWithHpas(["dev", "staging", "prod"], load);
    expect(found.cluster).toBe("staging");
    expect(found.failed.map((f) => f.cluster)).toEqual(["dev"]);
    expect(asked).toEqual(["dev", "staging"]);
  });

  it("judges by the newest point: HPAs deleted since do not count", async () => {
    const found = await firstWithHpas(["dev"], async () => history([at(0, [hpa()]), at(5, [])]));
    expect(found).toEqual({ cluster: null, failed: [] });
  });

  it("throws when every cluster failed", async () => {
    await expect(
      firstWithHpas(["dev", "prod"], async () => {
        throw new Error("503");
      }),
    ).rejects.toThrow("503");
    expect(await firstWithHpas([], async () => history([]))).toEqual({ cluster: null, failed: [] });
  });
});
