// Every page against the local lab and the real operator, in Chromium: real data, deep links,
// the token prompt, screenshots under test-results/, and an axe-core scan per page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext } from "playwright-core";
import { launchBrowser, screenshot, seriousViolations, signedIn, startLab, stopLab, type Lab } from "./lab";

let lab: Lab | undefined;
let browser: Browser | undefined;
let context: BrowserContext;

beforeAll(async () => {
  lab = await startLab();
  browser = await launchBrowser();
  context = await signedIn(browser, lab);
});

afterAll(async () => {
  await browser?.close();
  await stopLab(lab);
});

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
    await dev.getByText(/^\d+ Running$/).waitFor();
    const platform = page.locator("section", { has: page.getByRole("link", { name: "platform", exact: true }) });
    await platform.getByText("3/3 nodes").waitFor();
    await expect(platform.getByText("Ready").first().isVisible()).resolves.toBe(true);
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
    await screenshot(page, "cluster-dev");
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(`${lab!.url}/clusters/nowhere`);
    await page.getByText(/Cluster “nowhere” not found/).waitFor();
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
});
