import { describe, expect, it } from "vitest";
import { age, bytes, duration, latencyMs, meanKnown, millicores, percent, podCounts, ratio, usageLevel } from "./format";

describe("formatters", () => {
  it("formats durations and ages", () => {
    expect(duration(42)).toBe("42 s");
    expect(duration(185)).toBe("3 m 05 s");
    expect(duration(7800)).toBe("2 h 10 m");
    expect(duration(null)).toBe("—");
    expect(age(45)).toBe("45s");
    expect(age(3 * 86400 + 5)).toBe("3d");
  });

  it("formats sizes, CPU, latency and ratios", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(64 * 1024 * 1024)).toBe("64 MiB");
    expect(bytes(1.5 * 1024 ** 3)).toBe("1.5 GiB");
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

  it("counts pods by what a user reads", () => {
    const counts = podCounts([
      { status: "Running", phase: "Running" },
      { status: "Completed", phase: "Succeeded" },
      { status: "CrashLoopBackOff", phase: "Running" },
      { status: "Pending", phase: "Pending" },
      { status: "ImagePullBackOff", phase: "Pending" },
    ]);
    expect(counts).toEqual({ running: 2, pending: 1, failed: 2, crashLooping: 1, total: 5 });
  });
});
