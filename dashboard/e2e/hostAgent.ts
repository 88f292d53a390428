// `tart-infra serve` (the real host agent) in front of the tart TEST DOUBLE (tart-double/), which
// stands in for Tart and macOS because neither can run here. The double's VMs are real sshd
// servers on 127.x.y.N in mount namespaces of their own, so the figures the agent reads in them
// over SSH (CPU, memory, disk, network, listening ports) are real readings of this machine as
// seen inside each VM. The double needs root, openssh-server and iproute2.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary } from "./lab";

export interface HostAgent {
  /** The VM API's URL, its bearer token and the certificate it serves (PEM). */
  url: string;
  token: string;
  certificate: string;
  process: ChildProcess;
  dir: string;
  /** The double's `tart`, for stopping the VMs (they outlive the agent by design). */
  tart: string;
  env: Record<string, string>;
}

/** What this machine lacks to run the double; empty when it can. */
export function doubleMissing(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (the double's VMs are sshd servers in mount namespaces)");
  for (const path of ["/usr/sbin/sshd", "/usr/bin/ssh-keygen", "/usr/bin/unshare", "/usr/bin/nsenter"]) {
    if (!existsSync(path)) missing.push(path);
  }
  try {
    execFileSync("ss", ["-V"], { stdio: "ignore" });
  } catch {
    missing.push("iproute2 (ss)");
  }
  return missing;
}

// Host facts for the agent's admission (TEST ONLY): this machine's 2 CPUs are fewer than the
// VMs' specs add up to, and the double's VMs use none of them.
const HOST_FACTS = '{"os":"macos","arch":"aarch64","cpus":16,"memoryMiB":65536,"freeDiskGiB":500}';

/** Starts the agent with figures every second as root (the double's VMs log in as root). */
export async function startHostAgent(): Promise<HostAgent> {
  const dir = mkdtempSync(join(tmpdir(), "tart-e2e-agent-"));
  const tart = binary("TART_DOUBLE_BIN", "tart");
  const env = {
    TART_HOME: join(dir, "tart-home"),
    TART_DOUBLE_SUBNET: `127.93.${process.pid % 250}`,
    TART_INFRA_TEST_HOST_FACTS: HOST_FACTS,
  };
  const child = spawn(
    binary("TART_INFRA_BIN", "tart-infra"),
    ["serve", "--listen", "127.0.0.1:0", "--reserve-cpu", "0", "--reserve-memory-mib", "0", "--stats-user", "root", "--stats-interval", "1", "--state-dir", join(dir, "serve"), "--tart-bin", tart],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } },
  );
  const log: string[] = [];
  child.stderr!.on("data", (c: Buffer) => log.push(c.toString("utf8")));
  const record = join(dir, "serve", "serve.json");
  for (let i = 0; !existsSync(record); i++) {
    if (child.exitCode !== null || i > 600) throw new Error(`tart-infra serve did not start: ${log.join("")}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const served = JSON.parse(readFileSync(record, "utf8")) as { url: string; tokenFile: string; certFile: string };
  return {
    url: served.url,
    token: readFileSync(served.tokenFile, "utf8").trim(),
    certificate: readFileSync(served.certFile, "utf8"),
    process: child,
    dir,
    tart,
    env,
  };
}

/** A request to the VM API: the status code and the body's text. */
export async function agentRequest(agent: HostAgent, method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Authorization: `Bearer ${agent.token}` };
  if (data !== undefined) headers["Content-Type"] = "application/json";
  return new Promise((ok, fail) => {
    const req = request(new URL(path, agent.url), { method, ca: agent.certificate, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", fail);
    req.end(data);
  });
}

/** Creates and starts a VM through the VM API. */
export async function runVm(agent: HostAgent, name: string, cpu: number, memoryMiB: number): Promise<void> {
  const spec = { name, image: "ghcr.io/cirruslabs/ubuntu:latest", cpu, memoryMiB, diskGiB: 20 };
  const created = await agentRequest(agent, "PUT", `/v1/vms/${name}`, spec);
  if (created.status >= 300) throw new Error(`creating VM ${name}: ${created.status} ${created.text}`);
  const started = await agentRequest(agent, "POST", `/v1/vms/${name}/start`);
  if (started.status >= 300) throw new Error(`starting VM ${name}: ${started.status} ${started.text}`);
}

/** Stops the agent, then its VMs, and removes their state. */
export async function stopHostAgent(agent: HostAgent | undefined): Promise<void> {
  if (!agent) return;
  if (agent.process.exitCode === null) {
    const exited = new Promise((ok) => agent.process.once("exit", ok));
    agent.process.kill("SIGTERM");
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 30_000))]);
  }
  const env = { ...process.env, ...agent.env };
  const vms = execFileSync(agent.tart, ["list", "-q", "--source", "local"], { env, encoding: "utf8" });
  for (const vm of vms.split("\n").filter(Boolean)) execFileSync(agent.tart, ["stop", vm, "--timeout", "10"], { env, stdio: "ignore" });
  rmSync(agent.dir, { recursive: true, force: true });
}
