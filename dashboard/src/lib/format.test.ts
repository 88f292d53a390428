import { describe, expect, it } from "vitest";
import { age, bytes, clockTime, count, dateTime, duration, latencyMs, meanKnown, millicores, percent, ageSeconds, podTotals, preciseDuration, ratio, usageLevel, wholeSeconds } from "./format";

describe("formatters", () => {
  it("formats durations and ages", () => {
    expect(duration(42)).toBe("42 s");
    expect(duration(185)).toBe("3 m 05 s");
    expect(duration(7800)).toBe("2 h 10 m");
    expect(duration(null)).toBe("—");
    expect(age(45)).toBe("45s");
    expect(age(3 * 86400 + 5)).toBe("3d");
  });

  it("keeps a tenth of a second below a minute only where asked", () => {
    expect(preciseDuration(18.44)).toBe("18.4 s");
    expect(preciseDuration(0)).toBe("0.0 s");
    expect(preciseDuration(59.9)).toBe("59.9 s");
    expect(preciseDuration(175)).toBe("2 m 55 s");
    expect(preciseDuration(null)).toBe("—");
    expect(preciseDuration(Number.NaN)).toBe("—");
    expect(wholeSeconds(119.6)).toBe("120 s");
    expect(wholeSeconds(0)).toBe("0 s");
  });

  it("formats wall-clock times from the API's strings and from epoch milliseconds alike", () => {
    // Minutes and seconds do not depend on the time zone (all of today's offsets are whole minutes).
    const iso = "2026-11-28T18:07:09Z";
    expect(clockTime(iso)).toMatch(/07:09/);
    expect(clockTime(Date.parse(iso))).toBe(clockTime(iso));
    expect(clockTime(iso)).not.toMatch(/2026/);
    expect(dateTime(iso)).toMatch(/2026/);
    expect(dateTime(iso)).toMatch(/07:09/);
    for (const missing of [null, undefined, "", "yesterday", Number.NaN]) {
      expect(clockTime(missing)).toBe("—");
      expect(dateTime(missing)).toBe("—");
    }
  });

  it("formats sizes, CPU, latency and ratios", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(39.533989444444444)).toBe("40 B"); // rates: whole bytes below a KiB
    expect(bytes(64 * 1024 * 1024)).toBe("64 MiB");
    expect(bytes(1.5 * 1024 ** 3)).toBe("1.5 GiB");
    expect(count(12)).toBe("12");
    expect(count(123456)).toBe((123456).toLocaleString());
    expect(count(null)).toBe("—");
    expect(millicores(250)).toBe("250m");
    expect(millicores(2000)).toBe("2 cores");
    expect(latencyMs(850.4)).toBe("850 ms");
    expect(latencyMs(1234)).toBe("1.2 s");
    expect(ratio(0.005)).toBe("0.50%");
    expect(ratio(0.25)).toBe("25.0%");
  });

  it("says unknown rather than zero when there is no metric", () => {
    expect(percent(null)).toBe("unknown");
    expect(percent(0)).toBe("0%");
    expect(usageLevel(null)).toBeNull();
    expect(usageLevel(95)).toBe("bad");
    expect(usageLevel(75)).toBe("warn");
    expect(usageLevel(50)).toBe("ok");
    expect(meanKnown([null, 10, undefined, 30])).toBe(20);
    expect(meanKnown([null])).toBeNull();
  });

  it("sums a cluster's pods over its namespaces", () => {
    const counts = podTotals([
      { total: 4, running: 2, pending: 1, failed: 1, crashLooping: 1 },
      { total: 3, running: 1, pending: 0, failed: 2, crashLooping: 0 },
    ]);
    expect(counts).toEqual({ running: 3, pending: 1, failed: 3, crashLooping: 1, total: 7 });
    expect(podTotals([])).toEqual({ running: 0, pending: 0, failed: 0, crashLooping: 0, total: 0 });
  });

  it("ages a pod from its creation time", () => {
    const now = Date.parse("2026-12-05T12:00:00Z");
    expect(ageSeconds("2026-12-05T11:00:00Z", now)).toBe(3600);
    expect(ageSeconds("2026-12-05T12:00:05Z", now)).toBe(0);
    expect(ageSeconds(null, now)).toBeNull();
    expect(ageSeconds("not a time", now)).toBeNull();
  });
});
