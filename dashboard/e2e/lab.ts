// Starts the local lab (platform + dev) with the real tart-infra and tart-operator binaries
// and the built dashboard, and Debian's Chromium through playwright-core.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const outDir = resolve(here, "../test-results");

export function binary(env: string, name: string): string {
  const given = process.env[env];
  const target = process.env.CARGO_TARGET_DIR ?? join(repo, "target");
  const path = given ?? join(target, "debug", name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: build it with \`cargo build -p host-agent -p operator -p tart-double\` (scripts/test does), or set ${env}`);
  }
  return path;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

export interface Lab {
  url: string;
  token: string;
  /** The CA that signs the operator's HTTPS certificate. */
  caFile: string;
  kubeconfigs: Record<string, string>;
  process: ChildProcess;
  stderr: string[];
  /** The temporary directory holding the lab's state, removed by stopLab. */
  workDir: string;
}

/** `tart-infra lab up --clusters platform,dev --json`, resolved when it prints its JSON; `env`
 * is added to its environment, which the operator it starts inherits (e.g.
 * TART_OPERATOR_PROMETHEUS_URL). */
export async function startLab(env: Record<string, string> = {}): Promise<Lab> {
  const dist = join(repo, "dashboard/dist");
  if (!existsSync(join(dist, "index.html"))) throw new Error("dashboard/dist is missing: run `npm run build` first");
  const workDir = mkdtempSync(join(tmpdir(), "tart-e2e-"));
  const state = join(workDir, "lab");
  const port = await freePort();
  const child = spawn(
    binary("TART_INFRA_BIN", "tart-infra"),
    [
      "lab", "up", "--clusters", "platform,dev", "--json",
      "--config", join(repo, "config/clusters.yaml"),
      "--state-dir", state,
      `--http-addr=127.0.0.1:${port}`,
      "--operator-bin", binary("TART_OPERATOR_BIN", "tart-operator"),
      "--dashboard-dir", dist,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const line = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      fail(new Error(`lab up printed nothing in 300 s:\n${stderr.join("\n")}`));
    }, 300_000);
    createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(timer);
      ok(l);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`lab up exited (${code}):\n${stderr.join("\n")}`));
    });
  });
  const ready = JSON.parse(line) as { url: string; token: string; caFile: string; kubeconfigs: Record<string, string> };
  return { ...ready, process: child, stderr, workDir };
}

/** Stops the lab as Ctrl-C would and waits for it. */
export async function stopLab(lab: Lab | undefined): Promise<void> {
  if (!lab) return;
  if (lab.process.exitCode === null) {
    const exited = new Promise((ok) => lab.process.once("exit", ok));
    lab.process.kill("SIGINT");
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 60_000))]);
  }
  rmSync(lab.workDir, { recursive: true, force: true });
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // The lab serves HTTPS with a CA of its own (caFile in its JSON); a test browser has no
    // certificate store to import it into, so it accepts the lab's certificate. Only here.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors"],
  });
}

/** What Chromium reported as blocked by the operator's Content-Security-Policy. */
export const cspViolations: string[] = [];

/** A browser context that already holds the API token, and notes CSP violations. */
export async function signedIn(browser: Browser, lab: Lab): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript((token) => localStorage.setItem("tart-infra.token", token), lab.token);
  context.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) cspViolations.push(`${message.location().url}: ${message.text()}`);
  });
  return context;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}

const require = createRequire(import.meta.url);

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: an injected <script> would be blocked by the
  // operator's Content-Security-Policy (script-src 'self').
  await page.evaluate(readFileSync(require.resolve("axe-core/axe.min.js"), "utf8"));
  const violations = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ["violations"] })).violations;
  })) as AxeViolation[];
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** GET `path` from a lab cluster's kube-apiserver with its admin kubeconfig (the lab's own
 * format: server, certificate-authority-data, token): the status code and the JSON body. */
export async function kubeGet(lab: Lab, cluster: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return kubeRequest(lab, cluster, "GET", path);
}

/** A request to a lab cluster's kube-apiserver as its admin; `patch` is sent as a JSON merge
 * patch (PATCH) or as the object to create (POST). The status code and the JSON body. */
export async function kubeRequest(
  lab: Lab,
  cluster: string,
  method: "GET" | "PATCH" | "POST" | "DELETE",
  path: string,
  patch?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const file = lab.kubeconfigs[cluster];
  if (!file) throw new Error(`the lab has no cluster ${cluster}: ${Object.keys(lab.kubeconfigs).join(", ")}`);
  const text = readFileSync(file, "utf8");
  const field = (name: string) => {
    const value = new RegExp(`${name}: (\\S+)`).exec(text)?.[1];
    if (!value) throw new Error(`${file} has no ${name}`);
    return value;
  };
  const url = new URL(path, field("server"));
  const ca = Buffer.from(field("certificate-authority-data"), "base64");
  const body = patch === undefined ? undefined : JSON.stringify(patch);
  const headers: Record<string, string> = { Authorization: `Bearer ${field("token")}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = method === "POST" ? "application/json" : "application/merge-patch+json";
  return new Promise((ok, fail) => {
    const req = request(url, { method, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> }));
    });
    req.on("error", fail);
    req.end(body);
  });
}
