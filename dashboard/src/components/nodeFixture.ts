// A node's disk and network as the API carries them (NodeView.figures), for the pages' tests.
import type { NodeView } from "../api/client";

const GIB = 1024 ** 3;

export const nodeFigures = (): NonNullable<NodeView["figures"]> => ({
  source: "node-exporter via Prometheus at http://127.0.0.1:9090",
  collectedAt: "2026-12-05T19:00:00Z",
  disk: { mount: "/", usedBytes: 15 * GIB, totalBytes: 20 * GIB },
  network: { rxBytesPerSecond: 2048, txBytesPerSecond: 512 },
  networkHistory: [
    { time: 1796497140, rxBytesPerSecond: 1024, txBytesPerSecond: 256 },
    { time: 1796497170, rxBytesPerSecond: null, txBytesPerSecond: 1024 },
    { time: 1796497200, rxBytesPerSecond: 2048, txBytesPerSecond: 512 },
  ],
});
