// VMs as the snapshot carries them, for the pages' tests.
import type { VmView } from "./VmFigures";

const GIB = 1024 ** 3;

export const runningVm = (name: string, cluster: string): VmView => ({
  name,
  cluster,
  state: "running",
  ip: "192.168.64.5",
  resources: { cpu: 4, memoryMiB: 8192, diskGiB: 40 },
  stats: {
    collectedAt: "2026-11-28T18:00:00Z",
    cpuPercent: 12.4,
    memory: { usedBytes: 6 * GIB, totalBytes: 8 * GIB },
    disk: { mount: "/", usedBytes: 38 * GIB, totalBytes: 40 * GIB },
    network: { rxBytesPerSecond: 2048, txBytesPerSecond: 512 },
    listening: [
      { port: 22, protocol: "tcp", address: "0.0.0.0", process: "sshd" },
      { port: 6443, protocol: "tcp", address: "192.168.64.5", process: "kube-apiserver" },
    ],
  },
  statsError: null,
});
