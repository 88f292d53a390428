// Dashboard benchmark: the initial JS bundle (gzip), the time until the Overview shows every
// cluster's pod count, and the time until a Cluster page shows its nodes and first pods, in
// headless Chromium, against a running operator; each figure next to the one recorded in
// bench/recorded.json for the same size (a change of more than 20 % is flagged).
//   node bench/first-render.mjs <operator url> <token> <clusters> <pods per cluster> [runs]
// bench/dashboard.sh starts the operator with 4 clusters of 5 000 pods and runs this.
import { readFileSync } from "node:fs";
import { recorded } from "../../bench/recorded.mjs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [url, token, clusters, pods, runs = "5"] = process.argv.slice(2);
if (!url || !token || !clusters || !pods) {
  console.error("usage: node bench/first-render.mjs <url> <token> <clusters> <pods per cluster> [runs]");
  process.exit(2);
}
const dist = join(dirname(fileURLToPath(import.meta.url)), "../dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
let js = 0;
let css = 0;
for (const file of initial) {
  const size = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  if (file.endsWith(".js")) js += size;
  else css += size;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

/** The median ms over `runs` cold loads of `path` until `ready` holds in the page. */
async function firstRender(path, ready, arg) {
  const times = [];
  for (let i = 0; i < Number(runs); i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addInitScript((t) => localStorage.setItem("tart-infra.token", t), token);
    const page = await context.newPage();
    const start = Date.now();
    await page.goto(new URL(path, url).toString());
    await page.waitForFunction(ready, arg, { timeout: 60_000, polling: "raf" });
    times.push(Date.now() - start);
    await context.close();
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], n: times.length };
}

const overview = await firstRender(
  "/",
  ([n, want]) => [...document.querySelectorAll("section span")].filter((s) => s.textContent === `${want} total`).length >= n,
  [Number(clusters), Number(pods)],
);
// The first cluster's page: its node headings and the first pod row of its pod table.
const cluster = await firstRender(
  "/clusters/dev",
  () => document.querySelector("h3") !== null && [...document.querySelectorAll("td")].some((td) => /^web-\d+$/.test(td.textContent ?? "")),
  null,
);
await browser.close();

const size = `${clusters}x${pods}`;
const line = (label, key, value, unit, extra = "") => console.log(`${label}: ${value}${unit}${extra} ${recorded(`dashboard.${key}.${size}`, value)}`);
line("initial bundle (gzip), JS", "bundleJsKiB", Number((js / 1024).toFixed(1)), " KiB", ` + ${(css / 1024).toFixed(1)} KiB CSS`);
line(`overview with ${clusters} clusters x ${pods} pods, first render of every pod count, median`, "overviewMs", overview.median, " ms", ` [${overview.min}-${overview.max}] over ${overview.n} cold loads`);
line(`cluster page of dev (${pods} pods), first render of its nodes and first pod, median`, "clusterMs", cluster.median, " ms", ` [${cluster.min}-${cluster.max}] over ${cluster.n} cold loads`);
