// Debian's real Prometheus (remote-write receiver and native histograms on) for the e2e tests,
// and a remote-write client that writes what k6's `experimental-prometheus-rw` output writes
// with K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true. k6 itself is AGPL and does not run
// here, so the tests write its series themselves: the protobuf WriteRequest of Prometheus's
// prompb (samples and native histograms), snappy-framed as the protocol requires.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./lab";

export interface Prometheus {
  url: string;
  process: ChildProcess;
  dir: string;
}

/** `$TART_INFRA_PROMETHEUS`, else Debian's, else `prometheus` on PATH (Homebrew's). */
function prometheusBin(): string {
  const debian = "/usr/bin/prometheus";
  if (process.env.TART_INFRA_PROMETHEUS) return process.env.TART_INFRA_PROMETHEUS;
  if (existsSync(debian)) return debian;
  const onPath = (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "prometheus")).find((p) => existsSync(p));
  return onPath ?? debian;
}

/** Starts Prometheus on a loopback port, with its own data directory. `scrapeJobs` (YAML items
 * of scrape_configs, see nodeExporterJob) are scraped every second; everything else comes
 * through remote write. */
export async function startPrometheus(scrapeJobs: string[] = []): Promise<Prometheus> {
  const bin = prometheusBin();
  if (!existsSync(bin)) throw new Error(`${bin} is missing: install Debian's prometheus package (scripts/install-test-deps does), or set TART_INFRA_PROMETHEUS`);
  const dir = mkdtempSync(join(tmpdir(), "tart-e2e-prometheus-"));
  const scrape = scrapeJobs.length > 0 ? `scrape_configs:\n${scrapeJobs.join("")}` : "";
  writeFileSync(join(dir, "prometheus.yml"), `global:\n  scrape_interval: 1h\n${scrape}`);
  const port = await freePort();
  const child = spawn(
    bin,
    [
      "--web.enable-remote-write-receiver",
      "--enable-feature=native-histograms",
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--config.file=${join(dir, "prometheus.yml")}`,
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${bin} exited (${child.exitCode})`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) return { url, process: child, dir };
    await new Promise((ok) => setTimeout(ok, 100));
  }
  child.kill();
  throw new Error(`Prometheus at ${url} was not ready in 30 s`);
}

export function stopPrometheus(p: Prometheus | undefined): void {
  if (!p) return;
  p.process.kill();
  rmSync(p.dir, { recursive: true, force: true });
}

export interface NodeExporter {
  /** host:port of its /metrics. */
  address: string;
  process: ChildProcess;
}

/** Debian's node-exporter (the prometheus-node-exporter package) on a loopback port, reading
 * this machine's /proc and /sys. */
export async function startNodeExporter(): Promise<NodeExporter> {
  const bin = process.env.TART_INFRA_NODE_EXPORTER ?? "/usr/bin/prometheus-node-exporter";
  if (!existsSync(bin)) throw new Error(`${bin} is missing: install Debian's prometheus-node-exporter package (scripts/install-test-deps does), or set TART_INFRA_NODE_EXPORTER`);
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(bin, [`--web.listen-address=${address}`], { stdio: "ignore" });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${bin} exited (${child.exitCode})`);
    const ready = await fetch(`http://${address}/metrics`).then((r) => r.ok, () => false);
    if (ready) return { address, process: child };
    await new Promise((ok) => setTimeout(ok, 100));
  }
  child.kill();
  throw new Error(`node-exporter at ${address} was not ready in 30 s`);
}

/** A scrape job of node-exporter at `target` every second, labelled as kube-prometheus-stack's
 * ServiceMonitor labels a node's series (`instance` = the node's name) and with the `cluster`
 * label a cluster's external labels add on remote write. */
export function nodeExporterJob(target: string, node: string, cluster: string): string {
  return [
    `  - job_name: node-exporter-${cluster}-${node}`,
    "    scrape_interval: 1s",
    "    static_configs:",
    `      - targets: ["${target}"]`,
    "    relabel_configs:",
    "      - target_label: instance",
    `        replacement: ${node}`,
    "      - target_label: cluster",
    `        replacement: ${cluster}`,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- protobuf (prompb)

class Writer {
  private bytes: number[] = [];
  varint(v: bigint | number): this {
    let n = BigInt(v);
    if (n < 0n) n &= (1n << 64n) - 1n;
    while (n >= 0x80n) {
      this.bytes.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.bytes.push(Number(n));
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  uint(field: number, v: number | bigint): this {
    return this.key(field, 0).varint(v);
  }
  sint(field: number, v: number): this {
    const n = BigInt(v);
    return this.key(field, 0).varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
  }
  double(field: number, v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.key(field, 1);
    this.bytes.push(...b);
    return this;
  }
  bytesField(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length);
    this.bytes.push(...data);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytesField(field, Buffer.from(s, "utf8"));
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** One series: its labels (with `__name__`) and either float samples or native histograms. */
export interface Series {
  labels: Record<string, string>;
  samples?: { value: number; ms: number }[];
  histograms?: { value: number; count: number; ms: number }[];
}

/** The native-histogram schema written: buckets grow by 2^(1/8). */
const SCHEMA = 3;

/** The bucket of `value` at SCHEMA: bucket i holds (2^((i-1)/8), 2^(i/8)]. */
export function bucketIndex(value: number): number {
  return Math.ceil(Math.log2(value) * (1 << SCHEMA));
}

/** The bounds of bucket `index` at SCHEMA. */
export function bucketBounds(index: number): [number, number] {
  return [2 ** ((index - 1) / (1 << SCHEMA)), 2 ** (index / (1 << SCHEMA))];
}

function encode(series: Series[]): Uint8Array {
  const request = new Writer();
  for (const s of series) {
    const ts = new Writer();
    // Remote write wants the labels sorted by name.
    for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      ts.bytesField(1, new Writer().string(1, name).string(2, value).done());
    }
    for (const x of s.samples ?? []) ts.bytesField(2, new Writer().double(1, x.value).uint(2, x.ms).done());
    for (const h of s.histograms ?? []) {
      // A cumulative histogram of `count` observations, all of `value` seconds.
      const span = new Writer().sint(1, bucketIndex(h.value)).uint(2, 1).done();
      const deltas = new Writer().varint(BigInt(h.count) << 1n).done();
      ts.bytesField(
        4,
        new Writer()
          .uint(1, h.count)
          .double(3, h.value * h.count)
          .sint(4, SCHEMA)
          .double(5, 2 ** -128)
          .uint(6, 0)
          .bytesField(11, span)
          .bytesField(12, deltas)
          .uint(15, h.ms)
          .done(),
      );
    }
    request.bytesField(1, ts.done());
  }
  return request.done();
}

/** Snappy's block format with literals only: valid snappy every decoder reads. */
function snappyLiteral(data: Uint8Array): Buffer {
  const out = new Writer().varint(data.length).done();
  const parts: Buffer[] = [Buffer.from(out)];
  for (let i = 0; i < data.length; i += 65536) {
    const chunk = data.subarray(i, i + 65536);
    const tag = Buffer.alloc(3);
    tag[0] = 61 << 2;
    tag.writeUInt16LE(chunk.length - 1, 1);
    parts.push(tag, Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

/** Sends `series` to Prometheus's /api/v1/write. */
export async function remoteWrite(p: Prometheus, series: Series[]): Promise<void> {
  const answer = await fetch(`${p.url}/api/v1/write`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-protobuf",
      "Content-Encoding": "snappy",
      "X-Prometheus-Remote-Write-Version": "0.1.0",
    },
    body: new Uint8Array(snappyLiteral(encode(series))),
  });
  if (!answer.ok) throw new Error(`remote write answered ${answer.status}: ${await answer.text()}`);
}

/** What one k6 runner writes for test `testid` at each of `times` (ms since the epoch), the
 * test having started at `start`: `okPerS` and `failedPerS` requests a second, each taking
 * `latency` seconds, and `vus` VUs; tagged as k6-operator tags them. */
export function k6Runner(testid: string, instance: string, start: number, times: number[], r: { okPerS: number; failedPerS: number; latency: number; vus: number }): Series[] {
  const url = "http://nginx-web.demo.svc.cluster.local";
  const out: Series[] = [];
  for (const [perS, status, expected] of [
    [r.okPerS, "200", "true"],
    [r.failedPerS, "503", "false"],
  ] as const) {
    if (perS === 0) continue;
    const tags = (name: string) => ({
      __name__: name, testid, instance_id: instance, scenario: "default", method: "GET",
      url, name: url, status, expected_response: expected, proto: "HTTP/1.1",
    });
    const count = (ms: number) => Math.round((perS * (ms - start)) / 1000);
    out.push({ labels: tags("k6_http_reqs_total"), samples: times.map((ms) => ({ value: count(ms), ms })) });
    out.push({ labels: tags("k6_http_req_duration_seconds"), histograms: times.map((ms) => ({ value: r.latency, count: count(ms), ms })) });
  }
  out.push({ labels: { __name__: "k6_vus", testid, instance_id: instance }, samples: times.map((ms) => ({ value: r.vus, ms })) });
  return out;
}
