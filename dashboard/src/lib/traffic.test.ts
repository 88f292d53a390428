import { describe, expect, it } from "vitest";
import type { TrafficView } from "../api/client";
import {
  clusterSummary,
  edgeTone,
  flowDetail,
  latestFlows,
  layoutServiceMap,
  MAP,
  namespaceColour,
  protocolLabel,
  simulatedCount,
  truncateName,
  type EdgeView,
  type FlowView,
} from "./traffic";
import { edge, flow } from "./traffic.fixtures";

const view = (cluster: string, flows: FlowView[], edges: EdgeView[] = []): TrafficView => ({
  cluster,
  available: true,
  flows,
  edges,
  forwarded: 0,
  dropped: 0,
});

describe("namespaceColour", () => {
  it("has a colour per known namespace and slate for the rest", () => {
    expect(namespaceColour("kube-system")).toBe("#3b82f6");
    expect(namespaceColour("demo")).toBe("#10b981");
    expect(namespaceColour("monitoring")).toBe("#a855f7");
    expect(namespaceColour("argocd")).toBe("#f97316");
    expect(namespaceColour("istio-system")).toBe("#06b6d4");
    expect(namespaceColour("istio-ingress")).toBe("#14b8a6");
    expect(namespaceColour("cluster")).toBe("#64748b");
    expect(namespaceColour("default")).toBe("#8b5cf6");
    expect(namespaceColour("tart-loadtest")).toBe("#64748b");
    // Not an Object.prototype key.
    expect(namespaceColour("constructor")).toBe("#64748b");
  });
});

describe("truncateName", () => {
  it("keeps names up to the limit and cuts longer ones with an ellipsis", () => {
    expect(truncateName("nginx-web")).toBe("nginx-web");
    expect(truncateName("a".repeat(15))).toBe("a".repeat(15));
    expect(truncateName("prometheus-operator-kube")).toBe("prometheus-oper…");
    expect(truncateName("abcdef", 3)).toBe("abc…");
  });
});

describe("protocolLabel and flowDetail", () => {
  it("adds the layer 7 to the protocol", () => {
    expect(protocolLabel(flow())).toBe("TCP");
    expect(protocolLabel(flow({ l7: "HTTP" }))).toBe("TCP/HTTP");
    expect(protocolLabel(flow({ protocol: "UDP", l7: "DNS" }))).toBe("UDP/DNS");
    expect(protocolLabel(flow({ l7: null }))).toBe("TCP");
  });

  it("shows HTTP method, status and URL, or the DNS query", () => {
    expect(flowDetail(flow({ l7: "HTTP", httpMethod: "GET", httpStatus: 200, httpUrl: "http://httpbin.demo/get" }))).toBe("GET 200 http://httpbin.demo/get");
    expect(flowDetail(flow({ l7: "HTTP", httpMethod: "POST", httpStatus: null }))).toBe("POST");
    expect(flowDetail(flow({ l7: "DNS", dnsQuery: "httpbin.demo.svc.cluster.local." }))).toBe("DNS httpbin.demo.svc.cluster.local.");
    expect(flowDetail(flow())).toBe("");
  });
});

describe("edgeTone", () => {
  it("is red when drops are at least the forwarded flows, else green", () => {
    expect(edgeTone({ droppedCount: 0, forwardedCount: 5 })).toBe("green");
    expect(edgeTone({ droppedCount: 2, forwardedCount: 5 })).toBe("green");
    expect(edgeTone({ droppedCount: 3, forwardedCount: 3 })).toBe("red");
    expect(edgeTone({ droppedCount: 4, forwardedCount: 1 })).toBe("red");
    // Neither (only ERROR verdicts): nothing was dropped.
    expect(edgeTone({ droppedCount: 0, forwardedCount: 0 })).toBe("green");
  });
});

describe("clusterSummary", () => {
  it("counts every verdict but FORWARDED as not forwarded", () => {
    const s = clusterSummary(
      view("dev", [flow(), flow(), flow({ verdict: "DROPPED" }), flow({ verdict: "ERROR" })], [edge("demo/a", "demo/b", { flowCount: 9 }), edge("demo/b", "demo/c")]),
    );
    expect(s).toMatchObject({ total: 4, forwarded: 2, notForwarded: 2, forwardedPct: 50 });
    expect(s.top?.flowCount).toBe(9);
  });

  it("is 0% without NaN and has no top edge without flows", () => {
    expect(clusterSummary(view("dev", []))).toEqual({ total: 0, forwarded: 0, notForwarded: 0, forwardedPct: 0, top: null });
  });
});

describe("simulatedCount", () => {
  it("counts only the flows the API marks simulated", () => {
    expect(simulatedCount([flow(), flow({ simulated: true }), flow({ simulated: false }), flow({ simulated: true })])).toBe(2);
    expect(simulatedCount([flow()])).toBe(0);
    expect(simulatedCount([])).toBe(0);
  });
});

describe("latestFlows", () => {
  const many = (n: number, port: number) => Array.from({ length: n }, (_, i) => flow({ port: port + i }));

  it("takes the first flows of each cluster in order", () => {
    const rows = latestFlows([view("dev", many(3, 1000)), view("staging", many(2, 2000))], 2);
    expect(rows.map((r) => [r.cluster, r.flow.port])).toEqual([
      ["dev", 1000],
      ["dev", 1001],
      ["staging", 2000],
      ["staging", 2001],
    ]);
  });

  it("keeps 30 per cluster and 100 in all by default", () => {
    const rows = latestFlows([view("a", many(50, 0)), view("b", many(50, 0)), view("c", many(50, 0)), view("d", many(50, 0))]);
    expect(rows).toHaveLength(100);
    expect(rows.filter((r) => r.cluster === "a")).toHaveLength(30);
    expect(rows.filter((r) => r.cluster === "d")).toHaveLength(10);
    expect(latestFlows([])).toEqual([]);
  });
});

type Bezier = [number, number, number, number, number, number, number, number];

/** The 8 numbers of "M x1 y1 C c1x c1y, c2x c2y, x2 y2": exactly that shape, or it throws. */
function bezier(path: string): Bezier {
  const n = String.raw`(-?\d+(?:\.\d+)?)`;
  const match = new RegExp(`^M ${n} ${n} C ${n} ${n}, ${n} ${n}, ${n} ${n}$`).exec(path);
  if (!match) throw new Error(`not one cubic Bézier with 8 numbers: ${path}`);
  return match.slice(1).map(Number) as Bezier;
}

describe("bezier (the bounds test's reading of a path)", () => {
  it("reads the 8 numbers of a whole curve and refuses a truncated or padded one", () => {
    expect(bezier("M 1 2 C 3 4, 5.5 -6, 7 8")).toEqual([1, 2, 3, 4, 5.5, -6, 7, 8]);
    expect(() => bezier("M 1 2 C 3 4, 5 6, 7")).toThrow("8 numbers");
    expect(() => bezier("M 1 2 C 3 4, 5 6")).toThrow();
    expect(() => bezier("M 1 2 C 3 4, 5 6, 7 8 9")).toThrow();
    expect(() => bezier("")).toThrow();
  });
});

describe("layoutServiceMap", () => {
  const rowHeight = MAP.header + 2 * MAP.padding + MAP.nodeHeight;

  it("wraps 5 services of one namespace to 2 rows of up to 4", () => {
    const edges = ["b", "c", "d", "e"].map((s) => edge("demo/a", `demo/${s}`));
    const map = layoutServiceMap(edges, []);
    expect(map.blocks).toHaveLength(1);
    const [block] = map.blocks;
    const width = 2 * MAP.padding + 4 * MAP.nodeWidth + 3 * MAP.gapX;
    expect(block).toEqual({ namespace: "demo", x: 20, y: 20, w: width, h: rowHeight + MAP.nodeHeight + MAP.gapY, colour: "#10b981" });
    expect(map.nodes.size).toBe(5);
    const a = map.nodes.get("demo/a");
    const d = map.nodes.get("demo/d");
    const e = map.nodes.get("demo/e");
    expect(a).toMatchObject({ x: 36, y: 20 + 22 + 16, w: 130, h: 34, label: "a", service: "a", namespace: "demo" });
    expect(d).toMatchObject({ x: 36 + 3 * 170, y: a?.y });
    expect(e).toMatchObject({ x: 36, y: (a?.y ?? 0) + 34 + 24 });
    expect(map.width).toBe(width + 40);
    expect(map.height).toBe(Math.max(200, (block?.h ?? 0) + 40));
  });

  it("stacks namespaces sorted by name with the block gap, all blocks as wide as the widest", () => {
    const edges = [edge("kube-system/coredns", "demo/web"), edge("demo/web", "demo/api"), edge("demo/api", "demo/db")];
    const map = layoutServiceMap(edges, []);
    expect(map.blocks.map((b) => b.namespace)).toEqual(["demo", "kube-system"]);
    const [demo, kube] = map.blocks;
    expect(kube?.y).toBe((demo?.y ?? 0) + (demo?.h ?? 0) + MAP.blockGap);
    expect(kube?.w).toBe(demo?.w);
    expect(kube?.colour).toBe("#3b82f6");
    expect(map.height).toBe(20 + rowHeight + 20 + rowHeight + 20);
    expect([...map.nodes.keys()]).toEqual(["demo/api", "demo/db", "demo/web", "kube-system/coredns"]);
  });

  it("keeps the minimum size and adds the flows' peers", () => {
    const map = layoutServiceMap([], [flow({ source: { namespace: "cluster", service: "world", identity: 2 }, destination: { namespace: "cluster", service: "host", identity: 1 } })]);
    expect([...map.nodes.keys()]).toEqual(["cluster/host", "cluster/world"]);
    expect(map.edges).toEqual([]);
    expect(map.width).toBe(400);
    expect(map.height).toBe(200);
    const empty = layoutServiceMap([], []);
    expect(empty).toMatchObject({ width: 400, height: 200, blocks: [], edges: [] });
  });

  it("truncates long service names", () => {
    const map = layoutServiceMap([edge("monitoring/prometheus-kube-state-metrics", "demo/web")], []);
    expect(map.nodes.get("monitoring/prometheus-kube-state-metrics")?.label).toBe("prometheus-kube…");
  });

  it("draws a Bézier from the source's right side to the destination's left side, with the count at its middle", () => {
    const map = layoutServiceMap([edge("demo/a", "demo/b", { flowCount: 7, droppedCount: 4, forwardedCount: 3 }), edge("demo/b", "demo/a", { flowCount: 2 })], []);
    const a = map.nodes.get("demo/a");
    const b = map.nodes.get("demo/b");
    if (!a || !b) throw new Error("no nodes");
    const [ab, ba] = map.edges;
    expect(ab?.path.startsWith(`M ${a.x + a.w} ${a.y + a.h / 2} C `)).toBe(true);
    expect(ab?.path.endsWith(` ${b.x} ${b.y + b.h / 2}`)).toBe(true);
    expect(ab).toMatchObject({ tone: "red", colour: "#ef4444", dropped: true, label: "7", labelX: (a.x + a.w + b.x) / 2, labelY: a.y + a.h / 2 });
    expect(ba?.path.startsWith(`M ${b.x + b.w} ${b.y + b.h / 2} C `)).toBe(true);
    expect(ba?.path.endsWith(` ${a.x} ${a.y + a.h / 2}`)).toBe(true);
    expect(ba).toMatchObject({ tone: "green", colour: "#22c55e", dropped: false, label: "2" });
  });

  it("arcs curves within one row around the boxes between their ends: above going forwards, below going backwards", () => {
    const map = layoutServiceMap([edge("demo/a", "demo/b"), edge("demo/a", "demo/c"), edge("demo/c", "demo/a")], []);
    const [ab, ac, ca] = map.edges;
    const a = map.nodes.get("demo/a");
    const c = map.nodes.get("demo/c");
    if (!a || !c || !ab || !ac || !ca) throw new Error("no layout");
    const mid = a.y + a.h / 2;
    // Neighbours: a straight connection between them.
    expect(ab.path).toBe(`M ${a.x + a.w} ${mid} C ${a.x + a.w + 40} ${mid}, ${a.x + a.w} ${mid}, ${a.x + a.w + 40} ${mid}`);
    expect(ab.labelY).toBe(mid);
    // Past b: above the boxes' top; back: below their bottom.
    expect(ac.path).toContain(` ${mid - 48}, `);
    expect(ac.labelY).toBe(mid - 36);
    expect(ac.labelY).toBeLessThan(a.y);
    expect(ca.path).toBe(`M ${c.x + c.w} ${mid} C ${c.x + c.w + 40} ${mid + 48}, ${a.x - 40} ${mid + 48}, ${a.x} ${mid}`);
    expect(ca.labelY).toBeGreaterThan(a.y + a.h);
  });

  it("keeps every curve inside the map, also backward ones", () => {
    // a–d fill demo's first row and e–h kube-system's: d → a and h → a run backwards across the whole row.
    const pairs = [["demo/a", "demo/d"], ["demo/d", "demo/a"], ["kube-system/h", "demo/a"], ["demo/a", "kube-system/h"], ["kube-system/e", "demo/d"]] as const;
    const peers = (ns: string, services: string[]) => services.map((s) => flow({ source: { namespace: ns, service: s, identity: 1 } }));
    const map = layoutServiceMap(
      pairs.map(([s, t]) => edge(s, t)),
      [...peers("demo", ["b", "c"]), ...peers("kube-system", ["f", "g"])],
    );
    expect(map.nodes.get("demo/d")?.x).toBe(36 + 3 * 170);
    expect(map.edges).toHaveLength(5);
    for (const e of map.edges) {
      const [x1, y1, c1x, c1y, c2x, c2y, x2, y2] = bezier(e.path);
      for (let t = 0; t <= 1; t += 0.01) {
        const at = (a: number, b: number, c: number, d: number) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d;
        const x = at(x1, c1x, c2x, x2);
        const y = at(y1, c1y, c2y, y2);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(map.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(map.height);
      }
    }
  });
});
