// Traffic fixtures shaped like the API's FlowView and EdgeView, for the traffic tests.
import type { EdgeView, FlowView } from "./traffic";

export const flow = (over: Partial<FlowView> = {}): FlowView => ({
  time: "2026-11-28T10:00:01Z",
  node: "dev-worker1",
  verdict: "FORWARDED",
  source: { namespace: "demo", service: "nginx-web", identity: 1 },
  destination: { namespace: "demo", service: "httpbin", identity: 2 },
  protocol: "TCP",
  port: 80,
  ...over,
});

export const edge = (source: string, destination: string, over: Partial<EdgeView> = {}): EdgeView => ({
  source,
  destination,
  sourceNamespace: source.split("/")[0] ?? "",
  destinationNamespace: destination.split("/")[0] ?? "",
  flowCount: 1,
  forwardedCount: 1,
  droppedCount: 0,
  protocols: ["TCP"],
  ...over,
});
