// Dashboard benchmark: the initial JS bundle (gzip) and the time until the Overview shows
// every cluster's pod count, in headless Chromium, against a running operator.
//   node bench/first-render.mjs <operator url> <token> <clusters> <pods per cluster> [runs]
// bench/dashboard.sh starts the operator with 4 clusters of 500 pods and runs this.
import { readFileSync } from "node:fs";
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
const times = [];
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript((t) => localStorage.setItem("tart-infra.token", t), token);
  const page = await context.newPage();
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction(
    ([n, want]) => [...document.querySelectorAll("section span")].filter((s) => s.textContent === `${want} total`).length >= n,
    [Number(clusters), Number(pods)],
    { timeout: 30_000, polling: "raf" },
  );
  times.push(Date.now() - start);
  await context.close();
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`initial bundle (gzip): ${(js / 1024).toFixed(1)} KiB JS + ${(css / 1024).toFixed(1)} KiB CSS`);
console.log(
  `overview with ${clusters} clusters x ${pods} pods, first render of every pod count: median ${median} ms [${times[0]}-${times[times.length - 1]}] over ${times.length} cold loads`,
);
