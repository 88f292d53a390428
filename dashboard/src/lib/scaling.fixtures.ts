// An HPA sample shaped like the API's, for the scaling tests.
import type { HpaSample } from "./scaling";

export const hpa = (over: Partial<HpaSample> = {}): HpaSample => ({
  namespace: "demo",
  name: "web-hpa",
  target: "Deployment/web",
  deployment: "web",
  currentReplicas: 3,
  desiredReplicas: 3,
  minReplicas: 2,
  maxReplicas: 10,
  currentCpuPercent: 40,
  targetCpuPercent: 50,
  ...over,
});
