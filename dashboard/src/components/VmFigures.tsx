// The host agent's figures of Tart VMs (the snapshot's `vms`): spec, CPU, memory, disk, network
// and listening ports, or why there are none. The lab has no VMs, so this only says why.
import type { Schemas } from "../api/client";
import { bytes, usageLevel } from "../lib/format";
import { Badge, UsageBar } from "./ui";

export type VmView = Schemas["VmView"];

/** What the pages say where a cluster has no VM figures. */
export const NO_VMS =
  "No VMs reported: the host agent (tart-infra serve) reports the Tart VMs of clusters it built on a Mac; external clusters and the local lab's simulated nodes have none.";

/** The VMs of `cluster`, by name. */
export function vmsOf(vms: VmView[], cluster: string): VmView[] {
  return vms.filter((v) => v.cluster === cluster).sort((a, b) => a.name.localeCompare(b.name));
}

const ratio = (used: number, total: number): number | null => (total > 0 ? (used / total) * 100 : null);
const rate = (v: number | null | undefined): string => (v == null ? "—" : `${bytes(v)}/s`);

/** One VM: its state, address and spec, its figures or why there are none, and (with `ports`)
 * its listening TCP ports. */
export function VmFigures({ vm, ports = false }: { vm: VmView; ports?: boolean }) {
  const s = vm.stats;
  const r = vm.resources;
  return (
    <section aria-label={`VM ${vm.name}`} className="rounded border border-slate-800 p-3">
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-medium">{vm.name}</h3>
        <Badge tone={vm.state === "running" ? "green" : "yellow"}>{vm.state}</Badge>
        <span className="text-xs text-slate-400">{vm.ip ?? "no address"}</span>
        {r && (
          <span className="ml-auto text-xs text-slate-300">
            {r.cpu} CPU · {bytes(r.memoryMiB * 1024 * 1024)} · {r.diskGiB} GiB disk
          </span>
        )}
      </div>
      {s ? (
        <div className="mt-2 space-y-2">
          <UsageBar label="CPU" value={s.cpuPercent ?? null} level={usageLevel(s.cpuPercent ?? null)} />
          <UsageBar
            label="Memory"
            value={ratio(s.memory.usedBytes, s.memory.totalBytes)}
            level={usageLevel(ratio(s.memory.usedBytes, s.memory.totalBytes))}
            detail={`${bytes(s.memory.usedBytes)} / ${bytes(s.memory.totalBytes)}`}
          />
          <UsageBar
            label={`Disk ${s.disk.mount}`}
            value={ratio(s.disk.usedBytes, s.disk.totalBytes)}
            level={usageLevel(ratio(s.disk.usedBytes, s.disk.totalBytes))}
            detail={`${bytes(s.disk.usedBytes)} / ${bytes(s.disk.totalBytes)}`}
          />
          <p className="text-xs text-slate-300">
            Network: received {rate(s.network.rxBytesPerSecond)}, sent {rate(s.network.txBytesPerSecond)}
            {s.network.rxBytesPerSecond == null && " (rates need two reads)"}
          </p>
          {ports && (
            <div>
              <h4 className="text-xs text-slate-300">Listening TCP ports</h4>
              {s.listening.length === 0 ? (
                <p className="text-xs text-slate-400">None.</p>
              ) : (
                <ul className="mt-1 flex flex-wrap gap-2 text-xs" aria-label={`Listening ports of ${vm.name}`}>
                  {s.listening.map((p) => (
                    <li key={`${p.address}:${p.port}`} className="rounded bg-slate-800 px-2 py-0.5">
                      {p.port} {p.process ?? "?"} <span className="text-slate-400">on {p.address}</span>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </div>
      ) : (
        <p className="mt-2 text-sm text-slate-400">
          {vm.state !== "running"
            ? "Not running: no figures."
            : vm.statsError
              ? `No figures: ${vm.statsError}`
              : "No figures yet: the host agent has not read this VM."}
        </p>
      )}
      {s && vm.statsError && <p className="mt-1 text-xs text-yellow-300">The last read failed, these figures are older: {vm.statsError}</p>}
    </section>
  );
}
