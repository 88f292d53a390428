// Every page against the local lab and the real operator, in Chromium: real data, deep links,
// the token prompt, screenshots under test-results/, and an axe-core scan per page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cspViolations, kubeGet, kubeRequest, launchBrowser, outDir, repo, screenshot, seriousViolations, signedIn, startLab, stopLab, type Lab } from "./lab";
import { doubleMissing, runVm, startHostAgent, stopHostAgent } from "./hostAgent";
import { bucketBounds, bucketIndex, k6Runner, nodeExporterJob, remoteWrite, startNodeExporter, startPrometheus, stopPrometheus, type NodeExporter, type Prometheus } from "./prometheus";

const GROUP = "/apis/tartinfra.dev/v1alpha1/namespaces/default";

let lab: Lab | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
// The platform's Prometheus, which the lab's operator reads (--prometheus-url). Nothing in the
// lab writes to it: the lab's runners do no work, so their tests still say nothing was
// measured; one test below writes k6's series itself. It also scrapes a real node-exporter
// (this machine's) labelled as dev-worker1 of dev, so that simulated node shows real disk and
// network figures and the others say why they have none.
let prometheus: Prometheus | undefined;
let nodeExporter: NodeExporter | undefined;

beforeAll(async () => {
  nodeExporter = await startNodeExporter();
  prometheus = await startPrometheus([nodeExporterJob(nodeExporter.address, "dev-worker1", "dev")]);
  lab = await startLab({ TART_OPERATOR_PROMETHEUS_URL: prometheus.url });
  browser = await launchBrowser();
  context = await signedIn(browser, lab);
});

afterAll(async () => {
  await browser?.close();
  await stopLab(lab);
  stopPrometheus(prometheus);
  nodeExporter?.process.kill();
});

/** Starts a custom test on dev from the Testing page's form with `fields` (label → value):
 * the page, the test's name and its path on the platform's API server. */
async function startFromForm(fields: Record<string, string>): Promise<{ page: Page; name: string; path: string }> {
  const page = await context.newPage();
  await page.goto(`${lab!.url}/testing`);
  await page.getByRole("button", { name: /^Run / }).first().waitFor();
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByRole("button", { name: "Start test" }).click();
  const name = (await page.getByText(/ started on dev\.$/).textContent())!.split(" ")[0]!;
  return { page, name, path: `${GROUP}/loadtests/${name}` };
}

interface RunningStatus {
  startedAt: string;
  runner: { namespace: string; job: string };
}

/** The test's status once it is Running (its runners started); fails if it ends first. */
async function running(path: string): Promise<RunningStatus> {
  for (let i = 0; i < 240; i++) {
    const status = (await kubeGet(lab!, "platform", path)).body.status as ({ phase?: string } & Partial<RunningStatus>) | undefined;
    if (status?.phase === "Running" && status.startedAt && status.runner) return { startedAt: status.startedAt, runner: status.runner };
    expect(status?.phase ?? "", "the test ended before it ran").not.toMatch(/Failed|Completed|Succeeded/);
    await new Promise((ok) => setTimeout(ok, 500));
  }
  throw new Error(`${path} did not reach Running in 120 s`);
}

/** Deletes the test of `card` from the page and waits until it is gone. */
async function deleteFromPage(card: Locator, name: string): Promise<void> {
  await card.getByRole("button", { name: `Delete ${name}` }).click();
  await card.getByRole("button", { name: "Delete", exact: true }).click();
  await card.waitFor({ state: "detached", timeout: 60_000 });
}

describe("dashboard in the lab", () => {
  it("asks for a token when the API answers 401, then shows the clusters", async () => {
    const anonymous = await browser!.newContext();
    const page = await anonymous.newPage();
    await page.goto(lab!.url);
    await page.getByText("tart-infra needs an access token").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel("Access token").fill(lab!.token);
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: "dev", exact: true }).waitFor();
    await anonymous.close();
  });

  it("overview: a card per cluster with real nodes and pods", async () => {
    const page = await context.newPage();
    await page.goto(lab!.url);
    const dev = page.locator("section", { has: page.getByRole("link", { name: "dev", exact: true }) });
    await dev.getByText("2/2 nodes").waitFor();
    // The lab's demo pods run: a count of 0 would mean the overview lost them.
    await dev.getByText(/^[1-9]\d* Running$/).waitFor();
    const platform = page.locator("section", { has: page.getByRole("link", { name: "platform", exact: true }) });
    await platform.getByText("3/3 nodes").waitFor();
    await expect(platform.getByText("Ready").first().isVisible()).resolves.toBe(true);
    // The lab has no VMs (its nodes are simulated): the page says why instead of showing zeros.
    await page.getByText(/^No VMs reported: the host agent/).waitFor();
    await screenshot(page, "overview");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it("cluster detail: deep link on reload, nodes, demo pods and services", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/clusters/dev`);
    await page.getByRole("heading", { name: "dev-worker1" }).waitFor();
    await page.getByText(/^nginx-web-/).first().waitFor();
    await page.getByRole("cell", { name: "httpbin", exact: true }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "dev-master" }).waitFor();
    await page.getByRole("heading", { name: "VMs", exact: true }).waitFor();
    await page.getByText(/^No VMs reported: the host agent/).waitFor();
    // Each node lists its own pods: the demo pods run on the worker.
    await page.getByRole("button", { name: /^Show the [1-9]\d* pods on dev-worker1$/ }).click();
    const workerPods = page.getByRole("table", { name: "Pods on dev-worker1" });
    await workerPods.getByRole("cell", { name: /^demo\/nginx-web-/ }).first().waitFor();
    expect(await workerPods.getByRole("columnheader").allTextContents()).toEqual(["Pod", "Phase", "Status", "Restarts"]);
    await screenshot(page, "cluster-dev");
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${lab!.url}/clusters/nowhere`);
    await page.getByText(/Cluster “nowhere” not found/).waitFor();
    await page.close();
  });

  it("cluster detail: a node's disk gauge and network sparklines from node-exporter, and why the others have none", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/clusters/dev`);
    // dev-worker1's series come from the real node-exporter; the operator reads Prometheus every 15 s.
    const disk = page.getByRole("meter", { name: "dev-worker1 disk /" });
    await disk.waitFor({ timeout: 60_000 });
    const used = Number(await disk.getAttribute("aria-valuenow"));
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(100);
    const figures = page.getByRole("group", { name: "Disk and network of dev-worker1" });
    await figures.getByRole("img", { name: /^dev-worker1 received, last 30 minutes: now \d/ }).waitFor({ timeout: 60_000 });
    await figures.getByRole("img", { name: /^dev-worker1 sent, last 30 minutes: now \d/ }).waitFor();
    // A line once Prometheus has two rates 30 s apart (its scrapes run every second).
    await expect.poll(() => figures.locator("path").first().getAttribute("d"), { timeout: 90_000, interval: 1000 }).toMatch(/^M[\d.,]+L/);
    await figures.getByText(`node-exporter via Prometheus at ${prometheus!.url}`, { exact: false }).waitFor();
    // dev-master is simulated and has no series: it says so, with no gauge.
    const master = page.locator("section").filter({ has: page.getByRole("heading", { name: "dev-master" }) }).last();
    await master.getByText(/^Disk and network: simulated node \(kwok\)/).waitFor();
    expect(await page.getByRole("meter", { name: "dev-master disk /" }).count()).toBe(0);
    await screenshot(page, "cluster-dev-node-figures");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it("scaling: defaults to the cluster with HPAs and shows the demo HPAs", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/scaling`);
    await page.waitForURL(/cluster=dev/);
    await page.getByText("nginx-web-hpa").first().waitFor();
    await page.getByText("httpbin-hpa").first().waitFor();
    await screenshot(page, "scaling");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it("testing: the form checks input, starts a real LoadTest, follows it to its end and deletes it", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/testing`);
    await page.getByRole("button", { name: /^Run / }).first().waitFor();
    await page.getByLabel("Virtual users").fill("0");
    await page.getByRole("button", { name: "Start test" }).click();
    await page.getByText("must be a whole number from 1 to 1000").waitFor();
    await page.getByLabel("Virtual users").fill("5");
    await page.getByLabel("Duration", { exact: true }).fill("5s");
    await page.getByRole("button", { name: "Start test" }).click();
    const started = await page.getByText(/ started on dev\.$/).textContent();
    const name = started!.split(" ")[0]!;
    const object = await kubeGet(lab!, "platform", `${GROUP}/loadtests/${name}`);
    expect(object.status).toBe(200);
    expect(object.body.spec).toMatchObject({ cluster: "dev", http: { vus: 5, duration: "5s" } });
    // The lab's runner pods do no work: the test ends Completed, shown neutrally as simulated and
    // not measured (neither red nor green), with the reason and no invented number.
    const card = page.locator("li", { has: page.getByRole("heading", { name: `default/${name}` }) });
    const outcome = card.getByText("Simulated, not measured", { exact: true });
    await outcome.waitFor({ timeout: 120_000 });
    await card.getByText("RunnerSimulated", { exact: true }).waitFor();
    await card.getByText(/ran on simulated node .* nothing was measured/).waitFor();
    expect(await outcome.getAttribute("class")).not.toMatch(/red|emerald|green/);
    expect(await card.getByText("Failed", { exact: true }).count()).toBe(0);
    const done = await kubeGet(lab!, "platform", `${GROUP}/loadtests/${name}`);
    expect(done.body.status).toMatchObject({ phase: "Completed", reason: "RunnerSimulated" });
    expect((done.body.status as { results?: unknown }).results).toBeUndefined();
    await screenshot(page, "testing");
    expect(await seriousViolations(page)).toEqual([]);
    // The test's own timeline: its planned load, and the lab's reason instead of RPS.
    await card.getByRole("button", { name: "Show timeline" }).click();
    const rps = card.locator("section", { has: page.getByRole("heading", { name: "Requests per second", exact: true }) }).last();
    await rps.getByText(/simulated/).waitFor();
    await card.getByRole("figure", { name: /^Planned virtual users over/ }).locator("path.recharts-line-curve").first().waitFor({ state: "attached" });
    await card.screenshot({ path: join(outDir, "testing-timeline.png") });
    expect(await seriousViolations(page)).toEqual([]);
    await deleteFromPage(card, name);
    expect((await kubeGet(lab!, "platform", `${GROUP}/loadtests/${name}`)).status).toBe(404);
    await page.close();
  });

  it("testing: a running test's requests, errors and merged p95 from Prometheus, live on its timeline", async () => {
    // k6 cannot run here, so once the runner has started this test writes what k6's
    // Prometheus remote-write output would: two runners' request counters and native
    // histograms (one at 50 ms, one at 400 ms) and their VUs, every 5 s since the start.
    const { page, name, path } = await startFromForm({ "Virtual users": "10", Duration: "2m" });
    const status = await running(path);
    const start = Date.parse(status.startedAt);
    const testid = status.runner.job;
    let next = start;
    const write = async () => {
      // Each push only adds samples: Prometheus refuses one older than a series' newest.
      const times: number[] = [];
      for (; next <= Date.now(); next += 5000) times.push(next);
      await remoteWrite(prometheus!, [
        ...k6Runner(testid, "0", start, times, { okPerS: 27, failedPerS: 3, latency: 0.05, vus: 6 }),
        ...k6Runner(testid, "1", start, times, { okPerS: 20, failedPerS: 0, latency: 0.4, vus: 4 }),
      ]);
    };
    // Three push intervals make the first rate window.
    await new Promise((ok) => setTimeout(ok, Math.max(0, start + 21_000 - Date.now())));
    await write();
    const card = page.locator("li", { has: page.getByRole("heading", { name: `default/${name}` }) });
    await card.getByRole("button", { name: "Show timeline" }).click();
    const panel = (title: string) => card.locator("section", { has: page.getByRole("heading", { name: title, exact: true }) }).last();
    for (const title of ["Requests per second", "p95 latency (ms)", "Error rate"]) {
      await panel(title).locator("path.recharts-line-curve").first().waitFor({ state: "attached", timeout: 60_000 });
      expect(await panel(title).locator("[data-reason]").count(), title).toBe(0);
    }
    // The operator's numbers are the fed ones: 50 req/s, 3 of 50 failing, and a p95 in the slow
    // runner's bucket (merged histograms; the two runners' p95s averaged would be ~225 ms).
    const series = (await page.evaluate(
      async ([url, token]) => (await fetch(url!, { headers: { Authorization: `Bearer ${token}` } })).json() as Promise<unknown>,
      [`/api/v1/tests/default/${name}/series`, lab!.token],
    )) as {
      source: string;
      percentiles: string;
      points: { rps: number | null; errorRate: number | null; p95Ms: number | null }[];
    };
    expect(series).toMatchObject({ source: "prometheus", percentiles: "merged" });
    const last = series.points.filter((p) => p.rps != null).at(-1)!;
    expect(last.rps).toBeCloseTo(50, 0);
    expect(last.errorRate).toBeCloseTo(0.06, 2);
    const [lo, hi] = bucketBounds(bucketIndex(0.4)).map((s) => s * 1000) as [number, number];
    expect(last.p95Ms).toBeGreaterThan(lo);
    expect(last.p95Ms).toBeLessThanOrEqual(hi + 1e-6);
    // The CSV export carries the same measured numbers.
    const [csv] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "Export timeline CSV" }).click()]);
    const rows = readFileSync((await csv.path())!, "utf8").trimEnd().split("\n").slice(1).map((r) => r.split(","));
    expect(rows.some((r) => Math.abs(Number(r[4]) - 50) < 1 && Number(r[5]) > lo && Number(r[6]) > 0.05)).toBe(true);
    // New pushes arrive while the page is open (the event stream's testSeries events).
    const before = await panel("Requests per second").locator("path.recharts-line-curve").first().getAttribute("d");
    await new Promise((ok) => setTimeout(ok, 6_000));
    await write();
    await expect.poll(async () => panel("Requests per second").locator("path.recharts-line-curve").first().getAttribute("d"), { timeout: 60_000 }).not.toBe(before);
    await page.mouse.move(0, 0);
    await card.screenshot({ path: join(outDir, "testing-live-timeline.png") });
    expect(await seriousViolations(page)).toEqual([]);
    await deleteFromPage(card, name);
    await page.close();
  });

  it("testing: a parallel test's runners start together, each reports, and their percentiles stay per runner", async () => {
    // k6 cannot run here and the lab's runner pods do no work, so this test plays their kubelet:
    // once the operator has resumed the two paused runners, it ends each with the termination
    // message the shipped summary.js makes from k6's end-of-test summary data (a recorded k6
    // summary, the second runner's numbers changed). Everything after that is the real
    // operator, API server and page.
    const { page, name, path } = await startFromForm({ "Virtual users": "6", Duration: "5m", Runners: "2" });
    expect((await kubeGet(lab!, "platform", path)).body.spec).toMatchObject({ http: { vus: 6, parallelism: 2 } });
    // Running: the starter resumed both runners.
    const { runner } = await running(path);
    const pods = (await kubeGet(lab!, "dev", `/api/v1/namespaces/${runner.namespace}/pods?labelSelector=batch.kubernetes.io/job-name%3D${runner.job}`)).body.items as {
      metadata: { name: string; annotations: Record<string, string> };
      spec: { containers: { name: string; image: string }[] };
      status: { containerStatuses?: { state?: { running?: { startedAt?: string } } }[] };
    }[];
    expect(pods.length).toBe(2);
    const { compactSummary } = (await import(pathToFileURL(join(repo, "operator/assets/k6/summary.js")).href)) as { compactSummary: (data: unknown) => unknown };
    const recorded = readFileSync(join(repo, "operator/tests/fixtures/k6-summary-passed.json"), "utf8");
    const summaries = [JSON.parse(recorded), JSON.parse(recorded)] as { metrics: Record<string, { values: Record<string, number> }> }[];
    Object.assign(summaries[1]!.metrics.http_reqs!.values, { count: 15000, rate: 500 });
    Object.assign(summaries[1]!.metrics.http_req_duration!.values, { "p(95)": 61.5, "p(99)": 140.2 });
    const now = new Date().toISOString();
    for (const pod of pods) {
      const index = Number(pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]);
      const message = JSON.stringify(compactSummary(summaries[index]));
      const startedAt = pod.status.containerStatuses?.[0]?.state?.running?.startedAt ?? now;
      const ended = await kubeRequest(lab!, "dev", "PATCH", `/api/v1/namespaces/${runner.namespace}/pods/${pod.metadata.name}/status`, {
        status: {
          phase: "Succeeded",
          conditions: [{ type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now }],
          containerStatuses: pod.spec.containers.map((c) => ({
            name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false,
            state: { terminated: { exitCode: 0, reason: "Completed", message, startedAt, finishedAt: now } },
          })),
        },
      });
      expect(ended.status).toBe(200);
    }
    // Counts and rates summed; percentiles per runner, never averaged, in a row per runner.
    const card = page.locator("li", { has: page.getByRole("heading", { name: `default/${name}` }) });
    await card.getByText("Succeeded", { exact: true }).first().waitFor({ timeout: 120_000 });
    await card.getByText("31,510", { exact: true }).waitFor();
    expect(await card.getByText("per runner", { exact: true }).count()).toBe(2);
    const table = card.getByRole("table", { name: "Runners" });
    await table.getByText(/2 runners; counts and rates above are their sums\. Percentiles cannot be merged/).waitFor();
    const rows = await table.locator("tbody tr").allInnerTexts();
    expect(rows.map((r) => r.split("\t").map((c) => c.trim()))).toEqual([
      ["#0", "16,510", "550.0", "0.0%", "54 ms", "132 ms", "held"],
      ["#1", "15,000", "500.0", "0.0%", "62 ms", "140 ms", "held"],
    ]);
    const done = await kubeGet(lab!, "platform", path);
    expect(done.body.status).toMatchObject({ phase: "Succeeded", results: { requests: 31510, percentiles: "PerRunner" } });
    await screenshot(page, "testing-parallel");
    expect(await seriousViolations(page)).toEqual([]);
    // Its timeline draws no p95 and says the percentiles are per runner.
    await card.getByRole("button", { name: "Show timeline" }).click();
    const p95 = card.locator("section", { has: page.getByRole("heading", { name: "p95 latency (ms)", exact: true }) }).last();
    await p95.getByText(/nothing was measured\. Each runner's final p95 and p99 are in the test's results, per runner/).waitFor();
    expect(await p95.locator("path.recharts-line-curve").count()).toBe(0);
    await card.screenshot({ path: join(outDir, "testing-parallel-timeline.png") });
    expect(await seriousViolations(page)).toEqual([]);
    await deleteFromPage(card, name);
    await page.close();
  });

  it("compare: a lab run with a baseline is not compared, and the pages say why", async () => {
    // Two LoadTests as kubectl would create them; the second names the first as its baseline.
    const create = async (name: string, baseline?: unknown) => {
      const spec = { cluster: "dev", http: { vus: 2, duration: "5s" }, ...(baseline ? { baseline } : {}) };
      const created = await kubeRequest(lab!, "platform", "POST", `${GROUP}/loadtests`, {
        apiVersion: "tartinfra.dev/v1alpha1",
        kind: "LoadTest",
        metadata: { name },
        spec,
      });
      expect(created.status).toBe(201);
    };
    const finished = async (name: string, compared: boolean) => {
      for (let i = 0; i < 120; i++) {
        const got = await kubeGet(lab!, "platform", `${GROUP}/loadtests/${name}`);
        const status = got.body.status as { phase?: string; conditions?: { type: string }[] } | undefined;
        const done = status?.phase === "Completed" && (!compared || (status.conditions ?? []).some((c) => c.type === "RegressionDetected"));
        if (done) return got.body;
        await new Promise((r) => setTimeout(r, 1000));
      }
      throw new Error(`${name} did not finish within 120s`);
    };
    // The operator reads dev's node figures (metrics-server over kwok) before the runs start, so
    // each run has a `before` reading.
    const page = await context.newPage();
    await page.goto(lab!.url);
    for (let i = 0; ; i++) {
      const snapshot = (await page.evaluate(
        async ([url, token]) => (await fetch(url!, { headers: { Authorization: `Bearer ${token}` } })).json() as Promise<unknown>,
        ["/api/v1/snapshot", lab!.token],
      )) as { clusters: { name: string; nodes: { usage?: unknown }[] }[] };
      if (snapshot.clusters.some((c) => c.name === "dev" && c.nodes.some((n) => n.usage != null))) break;
      if (i >= 120) throw new Error("the operator read no node figures of dev within 120s");
      await new Promise((r) => setTimeout(r, 1000));
    }
    await create("compare-v1");
    await finished("compare-v1", false);
    await create("compare-v2", { name: "compare-v1" });
    const v2 = await finished("compare-v2", true);
    const condition = ((v2.status as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions).find(
      (c) => c.type === "RegressionDetected",
    );
    // The lab's runners measure nothing, so nothing is compared: Unknown, never a verdict.
    expect(condition).toMatchObject({ status: "Unknown", reason: "NotMeasured" });
    expect(condition!.message).toMatch(/this run measured nothing \(RunnerSimulated/);
    expect((v2.status as { comparison?: unknown }).comparison).toBeUndefined();

    await page.goto(`${lab!.url}/testing`);
    const panel = page.getByRole("region", { name: "compare-v2: comparison with its baseline" });
    await panel.getByText("Not compared (NotMeasured)", { exact: true }).waitFor();
    await panel.getByText(/this run measured nothing/).waitFor();
    expect(await panel.getByRole("table").count()).toBe(0);
    // Its nodes before and during the run, from dev's metrics-server over kwok's simulated usage.
    const card = page.locator("li", { has: page.getByRole("heading", { name: "default/compare-v2", exact: true }) });
    const usage = card.getByRole("region", { name: "dev nodes before, during and after the run" });
    await usage.getByText(/^Before: read at \d\d:\d\d:\d\d UTC/).waitFor();
    await usage.getByText(/^kwok simulates these nodes/).waitFor();
    const worker = usage.getByRole("row").filter({ hasText: "(simulated)" }).first();
    expect(await worker.getByRole("cell").first().textContent()).toMatch(/^\d+m/);
    await usage.scrollIntoViewIfNeeded();
    await screenshot(page, "testing-node-usage");
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${lab!.url}/compare?a=default%2Fcompare-v2&b=default%2Fcompare-v1`);
    await page.getByRole("heading", { name: "A: default/compare-v2" }).waitFor();
    await page.getByRole("heading", { name: "B: default/compare-v1" }).waitFor();
    await page.getByText(/Neither run has measured series to overlay/).waitFor();
    await screenshot(page, "compare");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
    for (const name of ["compare-v2", "compare-v1"]) {
      expect((await kubeRequest(lab!, "platform", "DELETE", `${GROUP}/loadtests/${name}`)).status).toBe(200);
    }
  });

  it("schedules: a TestSchedule applied as kubectl would creates a run every minute, shown in its history", async () => {
    const created = await kubeRequest(lab!, "platform", "POST", `${GROUP}/testschedules`, {
      apiVersion: "tartinfra.dev/v1alpha1",
      kind: "TestSchedule",
      metadata: { name: "every-minute" },
      spec: {
        schedule: "* * * * *",
        successfulRunsHistoryLimit: 2,
        loadTest: { metadata: { labels: { suite: "e2e" } }, spec: { cluster: "dev", http: { vus: 2, duration: "5s" } } },
      },
    });
    expect(created.status).toBe(201);
    // The first minute boundary creates a run; the lab's runner measures nothing and ends it.
    let run: { name: string; phase?: string } | undefined;
    for (let i = 0; i < 150 && run?.phase !== "Completed"; i++) {
      const runs = await kubeGet(lab!, "platform", `${GROUP}/loadtests?labelSelector=tartinfra.dev%2Fschedule%3Devery-minute`);
      const item = (runs.body.items as { metadata: { name: string }; status?: { phase?: string } }[] | undefined)?.[0];
      run = item && { name: item.metadata.name, phase: item.status?.phase };
      if (run?.phase !== "Completed") await new Promise((r) => setTimeout(r, 1000));
    }
    expect(run?.phase, "a run of the schedule completed within 150 s").toBe("Completed");
    expect(run!.name).toMatch(/^every-minute-\d+$/);

    const page = await context.newPage();
    await page.goto(`${lab!.url}/testing`);
    const card = page.getByRole("listitem", { name: "Schedule default/every-minute" });
    await card.getByRole("link", { name: run!.name }).waitFor();
    await card.getByText("* * * * *", { exact: true }).waitFor();
    await card.getByText(/next run/).waitFor();
    // Lab runs measure nothing: the page says so instead of drawing a p95 of zero.
    await card.getByText(/No p95 latency: the runs measured nothing/).waitFor();
    expect(await card.getByRole("figure").count()).toBe(0);
    await card.getByRole("cell", { name: "Not measured" }).first().waitFor();
    await card.scrollIntoViewIfNeeded();
    await screenshot(page, "testing-schedules");
    await card.screenshot({ path: join(outDir, "testing-schedule-card.png") });
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
    expect((await kubeRequest(lab!, "platform", "DELETE", `${GROUP}/testschedules/every-minute`)).status).toBe(200);
    const left = await kubeGet(lab!, "platform", `${GROUP}/loadtests?labelSelector=tartinfra.dev%2Fschedule%3Devery-minute`);
    for (const item of (left.body.items as { metadata: { name: string } }[] | undefined) ?? []) {
      await kubeRequest(lab!, "platform", "DELETE", `${GROUP}/loadtests/${item.metadata.name}`);
    }
  });

  it("load analysis: an experiment started from the page runs to Completed on its own cluster", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/analysis`);
    // No experiment exists yet: the page says so and opens the start form.
    await page.getByText(/^No experiments yet/).waitFor();
    const form = page.getByRole("form", { name: "Start experiment" });
    await form.getByLabel("Custom HTTP load").check();
    await form.getByLabel("Virtual users").fill("40");
    await form.getByLabel("Duration").fill("20s");
    await form.getByLabel("Cooldown (seconds)").fill("30");
    await form.getByRole("button", { name: "Start experiment" }).click();
    await page.waitForURL(/experiment=default%2F/);
    const name = decodeURIComponent(new URL(page.url()).searchParams.get("experiment")!).split("/")[1]!;
    const object = await kubeGet(lab!, "platform", `${GROUP}/scalingexperiments/${name}`);
    expect(object.status).toBe(200);
    expect(object.body.spec).toMatchObject({ cluster: "dev", cooldownSeconds: 30, load: { http: { vus: 40, duration: "20s" } } });
    // The phase badge sits next to the experiment's heading.
    const header = page.getByRole("heading", { name, exact: true }).locator("..");
    await header.getByText("Completed", { exact: true }).waitFor({ timeout: 300_000 });
    await page.getByRole("heading", { name: "Peak replicas" }).waitFor();
    const done = await kubeGet(lab!, "platform", `${GROUP}/scalingexperiments/${name}`);
    expect((done.body.status as { phase?: string }).phase).toBe("Completed");
    // One timeline: the planned load, nginx-web's replicas and CPU drawn; RPS, p95 and errors say
    // the lab's reason (the series API's) instead of a number.
    const timeline = page.locator("section", { has: page.getByRole("heading", { name: "Timeline", exact: true }) }).last();
    // A drawn line is a path with points (a flat one has an empty box, so "visible" cannot tell).
    for (const figure of [/^Planned virtual users over/, /^Replicas of .*demo\/nginx-web.* with their maximum/, /^CPU of .*demo\/nginx-web.* against the HPA target/]) {
      const curve = timeline.getByRole("figure", { name: figure }).locator("path.recharts-line-curve").first();
      await curve.waitFor({ state: "attached" });
      expect(await curve.getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+L/);
    }
    for (const panel of ["Requests per second", "p95 latency (ms)", "Error rate"]) {
      const section = timeline.locator("section", { has: page.getByRole("heading", { name: panel, exact: true }) });
      await section.getByText(/simulated/).waitFor();
      expect(await section.getByRole("figure").count()).toBe(0);
    }
    // The infrastructure impact recorded on the experiment's load test: dev's nodes before, at
    // the peak of and after the load (after: a settle time after the load ended).
    const impact = page.locator("section", { has: page.getByRole("heading", { name: "Infrastructure impact of the load", exact: true }) });
    await impact.getByText(/^After: read at \d\d:\d\d:\d\d UTC/).waitFor({ timeout: 120_000 });
    const impactRow = impact.getByRole("row").filter({ hasText: "(simulated)" }).first();
    const cells = await impactRow.getByRole("cell").allTextContents();
    expect(cells).toHaveLength(6);
    expect(cells[0]).toMatch(/^\d+m/);
    await screenshot(page, "analysis");
    await timeline.screenshot({ path: join(outDir, "analysis-timeline.png") });
    expect(await seriousViolations(page)).toEqual([]);
    // The exports: CSV with one row per timestamp, PNG drawn from the charts' SVGs.
    const [csv] = await Promise.all([page.waitForEvent("download"), timeline.getByRole("button", { name: "Export timeline CSV" }).click()]);
    expect(csv.suggestedFilename()).toBe(`timeline-${name}.csv`);
    const rows = readFileSync((await csv.path())!, "utf8").trimEnd().split("\n");
    expect(rows[0]).toMatch(/^time,seconds,window,planned_vus,rps,p95_ms,error_rate,.*demo\/nginx-web replicas,/);
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.slice(1).every((r) => r.split(",")[4] === "")).toBe(true); // no invented RPS
    const [png] = await Promise.all([page.waitForEvent("download"), timeline.getByRole("button", { name: "Export timeline PNG" }).click()]);
    expect(png.suggestedFilename()).toBe(`timeline-${name}.png`);
    const image = readFileSync((await png.path())!);
    expect(image.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(image.length).toBeGreaterThan(10_000);
    writeFileSync(join(outDir, "analysis-timeline-export.png"), image);
    await page.close();
  });

  it("cascade: started from the Testing page's preset, runs to Completed, with results for nginx-web and httpbin on both pages", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/testing?cluster=dev`);
    // The HPA status widget: dev's demo HPAs as the operator last sampled them.
    const hpas = page.getByRole("table", { name: "HPA status in dev" });
    for (const d of ["demo/nginx-web", "demo/httpbin"]) {
      const row = hpas.getByRole("row").filter({ has: page.getByRole("cell", { name: d, exact: true }) });
      await row.getByText(/^(SCALING|AT MAX|STABLE)$/).waitFor();
    }
    await screenshot(page, "testing-hpa-status");
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole("link", { name: /^Start from Load analysis ?\(cascade-light\)$/ }).click();
    await page.waitForURL(/preset=cascade-light/);
    const form = page.getByRole("form", { name: "Start experiment" });
    expect(await form.getByLabel("Scaling preset").inputValue()).toBe("cascade-light");
    await form.getByLabel("Cooldown (seconds)").fill("30");
    // The page selects an existing experiment until the new one exists: wait for a new name.
    const list = await kubeGet(lab!, "platform", `${GROUP}/scalingexperiments`);
    const existing = new Set((list.body.items as { metadata: { name: string } }[]).map((i) => `default/${i.metadata.name}`));
    await form.getByRole("button", { name: "Start experiment" }).click();
    await page.waitForURL((u) => {
      const chosen = u.searchParams.get("experiment");
      return chosen != null && !existing.has(chosen);
    });
    const name = new URL(page.url()).searchParams.get("experiment")!.split("/")[1]!;
    const header = page.getByRole("heading", { name, exact: true }).locator("..");
    await header.getByText("Completed", { exact: true }).waitFor({ timeout: 300_000 });
    const done = await kubeGet(lab!, "platform", `${GROUP}/scalingexperiments/${name}`);
    const status = done.body.status as { phase: string; deployments: { name: string; scaleUpLatencySeconds?: number; peakReplicas?: number }[] };
    expect(status.phase).toBe("Completed");
    expect(status.deployments.map((d) => d.name)).toEqual(["nginx-web", "httpbin"]);
    expect(done.body.spec).toMatchObject({ cluster: "dev", cooldownSeconds: 30, load: { preset: "cascade-light" } });

    // Per deployment: both targets in the table, with what the API recorded (a latency only where
    // one was measured), and the replica bars drawn for both.
    const deployments = page.locator("section", { has: page.getByRole("heading", { name: "Per deployment", exact: true }) });
    const column = async (header: string) => {
      const headers = await deployments.getByRole("columnheader").allTextContents();
      const i = headers.indexOf(header);
      return Promise.all(["nginx-web", "httpbin"].map((d) => deployments.getByRole("row").filter({ hasText: `demo/${d}` }).getByRole("cell").nth(i).textContent()));
    };
    const latencies = await column("Scale-up latency");
    status.deployments.forEach((d, i) => {
      if (d.scaleUpLatencySeconds == null) expect(latencies[i]).toMatch(/^none: /);
      else expect(latencies[i]).toBe(`${d.scaleUpLatencySeconds.toFixed(1)} s`);
    });
    const bars = deployments.getByRole("figure", { name: "Replicas per deployment: baseline, peak and final of demo/nginx-web, demo/httpbin" });
    await bars.locator(".recharts-bar-rectangle").first().waitFor({ state: "attached" });
    expect(await bars.locator(".recharts-bar-rectangle").count()).toBeGreaterThanOrEqual(2 * 3);
    await page.mouse.move(0, 0); // no tooltip over the bars in the pictures
    await screenshot(page, "analysis-cascade");
    await deployments.screenshot({ path: join(outDir, "analysis-cascade-deployments.png") });
    // A bar's tooltip, as a pointer resting on the chart opens it, is scanned too.
    await bars.locator(".recharts-bar-rectangle").first().hover();
    await page.locator(".recharts-tooltip-item").first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    // Back on the Testing page: the experiment in the list, tagged CASCADE, per deployment.
    await page.goto(`${lab!.url}/testing?cluster=dev`);
    const card = page.locator("li", { has: page.getByRole("heading", { name: `default/${name}`, exact: true }) });
    await card.getByText("Completed", { exact: true }).waitFor();
    await card.getByText("CASCADE", { exact: true }).waitFor();
    const perDeployment = card.getByRole("table", { name: `Per deployment: ${name}` });
    for (const d of ["demo/nginx-web", "demo/httpbin"]) await perDeployment.getByRole("cell", { name: d, exact: true }).waitFor();
    const peaks = await Promise.all(
      ["nginx-web", "httpbin"].map((d) => perDeployment.getByRole("row").filter({ hasText: `demo/${d}` }).getByRole("cell").nth(1).textContent()),
    );
    status.deployments.forEach((d, i) => expect(peaks[i]).toMatch(new RegExp(`→ ${d.peakReplicas ?? "—"}$`)));
    await card.scrollIntoViewIfNeeded();
    await screenshot(page, "testing-experiments");
    await card.screenshot({ path: join(outDir, "testing-cascade-card.png") });
    expect(await seriousViolations(page)).toEqual([]);

    // The Compare page for experiments, with this one on both sides (a second cascade run would
    // take minutes): its KPIs twice and each deployment's replicas overlaid, the page saying so.
    const id = encodeURIComponent(`default/${name}`);
    await page.goto(`${lab!.url}/compare?kind=experiment&a=${id}&b=${id}`);
    await page.getByRole("heading", { name: `A: default/${name}` }).waitFor();
    await page.getByRole("heading", { name: `B: default/${name}` }).waitFor();
    await page.getByText("A and B are the same experiment: the lines coincide.").waitFor();
    for (const d of ["demo/nginx-web", "demo/httpbin"]) {
      const chart = page.getByRole("region", { name: `Replicas of ${d}` });
      await chart.locator("path.recharts-line-curve").first().waitFor({ state: "attached" });
    }
    const kpiPeak = (done.body.status as { kpis?: { peakReplicas?: number } }).kpis?.peakReplicas;
    const sideA = page.locator("section", { has: page.getByRole("heading", { name: `A: default/${name}` }) });
    expect(await sideA.locator("dt", { hasText: "Peak replicas" }).locator("xpath=following-sibling::dd[1]").textContent()).toBe(String(kpiPeak ?? "—"));
    await screenshot(page, "compare-experiments");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it("traffic: a card per cluster, then dev's service map from the lab's simulated Hubble Relay", async () => {
    const page = await context.newPage();
    await page.goto(`${lab!.url}/traffic`);
    const cards = page.getByRole("list", { name: "Clusters" });
    await cards.getByRole("button").filter({ hasText: /^platform/ }).waitFor();
    const dev = cards.getByRole("button").filter({ hasText: /^dev/ });
    await dev.filter({ hasText: /^dev\s*[1-9]\d* flows captured/ }).waitFor({ timeout: 60_000 });
    await screenshot(page, "traffic-all");
    expect(await seriousViolations(page)).toEqual([]);
    await dev.click();
    await page.waitForURL(/cluster=dev/);
    await page.reload();
    await page.getByRole("img", { name: /^Service map of dev: [1-9]\d* services?/ }).waitFor();
    // Probes come from Cilium's reserved identity host to the demo pods.
    await page.getByRole("img", { name: /^Service map of dev/ }).getByText("host", { exact: true }).waitFor();
    await page.getByRole("img", { name: /^Service map of dev/ }).getByText("nginx-web", { exact: true }).waitFor();
    await screenshot(page, "traffic-dev");
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it("VMs: the host agent's figures of each VM, on its cluster's card and page, from real sshd VMs of the tart double", async () => {
    // Tart and macOS cannot run here: the double's VMs are real sshd servers, named after the
    // lab's nodes so that they join their clusters' cards the way a Mac's VMs do.
    const missing = doubleMissing();
    if (missing.length > 0) {
      if (process.env.CI === "true") throw new Error(`the tart double needs ${missing.join(", ")}`);
      console.warn(`not checking the VM figures: the tart double needs ${missing.join(", ")}`);
      return;
    }
    const agent = await startHostAgent();
    const secret = "/api/v1/namespaces/tart-system/secrets";
    try {
      await runVm(agent, "dev-master", 2, 4096);
      await runVm(agent, "dev-worker1", 2, 8192);
      await runVm(agent, "platform-master", 2, 4096);
      await runVm(agent, "scratch", 1, 2048);
      // What `tart-infra up` hands the platform: the operator finds the agent by this Secret.
      const created = await kubeRequest(lab!, "platform", "POST", secret, {
        metadata: { name: "host-agent" },
        stringData: { url: agent.url, token: agent.token, "ca.crt": agent.certificate },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);

      const page = await context.newPage();
      await page.goto(lab!.url);
      const dev = page.locator("section", { has: page.getByRole("link", { name: "dev", exact: true }) });
      const master = dev.getByRole("region", { name: "VM dev-master" });
      // The operator looks for the agent's Secret every 30 s; CPU needs two reads.
      await master.getByRole("meter", { name: "CPU" }).waitFor({ timeout: 90_000 });
      await master.getByText("running", { exact: true }).waitFor();
      const address = master.getByText(/^127\.93\.\d+\.\d+$/);
      await address.waitFor();
      const ip = (await address.textContent())!;
      await master.getByText("2 CPU · 4.0 GiB · 20 GiB disk").waitFor();
      await master.getByRole("meter", { name: "Memory" }).waitFor();
      await master.getByRole("meter", { name: "Disk /" }).waitFor();
      await master.getByText(/^Network: received \d/).waitFor({ timeout: 30_000 });
      await dev.getByRole("region", { name: "VM dev-worker1" }).getByRole("meter", { name: "CPU" }).waitFor({ timeout: 30_000 });
      const spare = page.locator("section", { has: page.getByRole("heading", { name: "VMs of no managed cluster" }) });
      await spare.getByRole("region", { name: "VM scratch" }).getByText("1 CPU · 2.0 GiB · 20 GiB disk").waitFor();
      // The lab's platform has no metrics API: its card's usage is its VM's.
      const platform = page.locator("section", { has: page.getByRole("link", { name: "platform", exact: true }) });
      await platform.getByText("No metrics API in this cluster: usage of its VMs, as the host agent reads them.").waitFor();
      await platform.getByRole("region", { name: "VM platform-master" }).getByRole("meter", { name: "Memory" }).waitFor();
      // The page shows what the API serves.
      const api = await page.evaluate(async (token) => {
        const res = await fetch("/api/v1/snapshot", { headers: { Authorization: `Bearer ${token}` } });
        return (await res.json()) as { vms: { name: string; cluster: string; stats: { memory: { totalBytes: number } } | null }[] };
      }, lab!.token);
      expect(api.vms.map((v) => `${v.cluster}/${v.name}`)).toEqual(["/scratch", "dev/dev-master", "dev/dev-worker1", "platform/platform-master"]);
      expect(api.vms.every((v) => (v.stats?.memory.totalBytes ?? 0) > 0)).toBe(true);
      await screenshot(page, "overview-vms");
      expect(await seriousViolations(page)).toEqual([]);

      await page.goto(`${lab!.url}/clusters/dev`);
      const ports = page.getByRole("list", { name: "Listening ports of dev-master" });
      // The VM's own sshd, on its own address (the double's VMs share this machine's network
      // namespace, so each also lists the other VMs' listeners).
      await ports.getByText(`22 sshd on ${ip}`, { exact: true }).waitFor({ timeout: 30_000 });
      await screenshot(page, "cluster-dev-vms");
      expect(await seriousViolations(page)).toEqual([]);
      await page.close();
    } finally {
      await kubeRequest(lab!, "platform", "DELETE", `${secret}/host-agent`);
      await stopHostAgent(agent);
    }
  });

  // Runs last: every page above was visited in the signed-in context.
  it("no page breaks the Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
