//! Benchmark: `/api/v1/snapshot` with 4 simulated clusters of 500 pods each (another count
//! with `TART_BENCH_PODS`), under wrk on loopback: full answers, brotli-encoded answers and
//! revalidations (304), the operator's memory; and in the same run, side by side, (a) the
//! same pods LISTed from the four API servers for every answer and (b) with
//! `TART_BENCH_BASELINE_BIN`, an older operator binary under the same load. Run
//! `bench/snapshot.sh`.
//!
//! With `TART_BENCH_DASHBOARD=<dashboard dir>` it measures the dashboard instead: the operator
//! serves `<dir>/dist` and `<dir>/bench/first-render.mjs` loads the Overview and a Cluster
//! page in headless Chromium (run `bench/dashboard.sh`).

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use measure::{recorded, status_kib};
use support::{
    Running, api_admin_token, free_port, operator_bin_from_env, operator_command,
    platform_and_clusters, populate,
};

const CLUSTERS: [&str; 4] = ["dev", "staging", "prod", "qa"];

/// Pods per cluster: `TART_BENCH_PODS`, else 500.
fn pods_per_cluster() -> Result<usize> {
    match std::env::var("TART_BENCH_PODS") {
        Err(_) => Ok(500),
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if (1..=20_000).contains(&n) => Ok(n),
            _ => bail!(
                "TART_BENCH_PODS={v:?}: give a whole number of pods per cluster from 1 to 20000"
            ),
        },
    }
}

/// Waits until the snapshot shows `want` pods; its size in bytes then.
async fn wait_for_pods(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    want: usize,
) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(res) = http.get(url).bearer_auth(token).send().await
            && let Ok(body) = res.text().await
            && let Ok(s) = serde_json::from_str::<serde_json::Value>(&body)
        {
            let pods: usize = s["clusters"].as_array().map_or(0, |c| {
                c.iter()
                    .map(|c| c["pods"].as_array().map_or(0, Vec::len))
                    .sum()
            });
            if pods >= want {
                return Ok(body.len());
            }
        }
        if Instant::now() > deadline {
            bail!("the snapshot never showed {want} pods");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn wrk_number(output: &str, prefix: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(|v| v.trim().to_owned())
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let per_cluster = pods_per_cluster()?;
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let (platform, targets) = platform_and_clusters(&CLUSTERS).await?;
    eprintln!("creating {per_cluster} pods in each cluster...");
    for (c, cp) in CLUSTERS.iter().zip(&targets) {
        populate(&cp.client().await?, c, per_cluster).await?;
    }

    let port = free_port()?;
    let dashboard = std::env::var_os("TART_BENCH_DASHBOARD").map(std::path::PathBuf::from);
    let mut command = operator_command(&bin, &platform, port, "warn", "json");
    command.stdout(Stdio::null());
    if let Some(dir) = &dashboard {
        command.arg("--dashboard-dir").arg(dir.join("dist"));
    }
    let operator = Running::spawn(&mut command)?;
    let pid = operator.pid();
    let token = api_admin_token(&platform.client().await?).await?;
    let url = format!("http://127.0.0.1:{port}/api/v1/snapshot");
    let http = reqwest::Client::new();
    let want = per_cluster * CLUSTERS.len();
    let size = wait_for_pods(&http, &url, &token, want).await?;
    let idle_rss = status_kib(pid, "VmRSS:");
    if let Some(dir) = &dashboard {
        let status = Command::new("node")
            .current_dir(dir)
            .args([
                "bench/first-render.mjs",
                &format!("http://127.0.0.1:{port}/"),
                &token,
                &CLUSTERS.len().to_string(),
                &per_cluster.to_string(),
            ])
            .status()
            .context("running node bench/first-render.mjs")?;
        anyhow::ensure!(status.success(), "the dashboard benchmark failed");
        return Ok(());
    }

    let bench = Bench {
        url: url.clone(),
        token: token.clone(),
        per_cluster,
    };
    let etag = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await?
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    println!(
        "/api/v1/snapshot, {} clusters x {per_cluster} pods + platform ({} KiB per answer), wrk -t2 -c8 -d{WRK_SECONDS}s on the same 2 cores:",
        CLUSTERS.len(),
        size / 1024
    );
    let full = bench.wrk("full answer", "full", &[])?;
    let br = bench.wrk("full answer, br", "br", &[("Accept-Encoding", "br")])?;
    let unchanged = match &etag {
        Some(tag) => Some(bench.wrk("unchanged (304)", "304", &[("If-None-Match", tag)])?),
        None => {
            println!("  unchanged (304): this operator sends no ETag");
            None
        }
    };
    let peak_rss = status_kib(pid, "VmHWM:");
    println!(
        "  operator RSS idle / peak   {} / {} MiB {}",
        idle_rss / 1024,
        peak_rss / 1024,
        recorded(&format!("snapshot.rss_mib.{per_cluster}"), peak_rss / 1024)
    );
    drop(operator);

    let list = list_path(&targets, per_cluster).await?;
    println!(
        "  (a) the same pods LISTed from the 4 API servers per answer, 8 in flight, {WRK_SECONDS} s:"
    );
    println!(
        "      answers/s {:>9.1}   p50 {:>7.2} ms   p99 {:>7.2} ms",
        list.per_second, list.p50_ms, list.p99_ms
    );
    let baseline = match std::env::var_os("TART_BENCH_BASELINE_BIN") {
        Some(old) => {
            let mut command =
                operator_command(std::path::Path::new(&old), &platform, port, "warn", "json");
            command.stdout(Stdio::null());
            let old_operator = Running::spawn(&mut command)?;
            wait_for_pods(&http, &url, &token, want).await?;
            let label = std::env::var("TART_BENCH_BASELINE").unwrap_or_else(|_| "baseline".into());
            println!("  (b) the implementation at {label}, which builds every answer per request:");
            let old = bench.wrk("full answer", "baseline", &[])?;
            println!(
                "      operator RSS peak {} MiB",
                status_kib(old_operator.pid(), "VmHWM:") / 1024
            );
            Some(old)
        }
        None => None,
    };
    println!("  ratios:");
    println!(
        "    full answers / LIST path        {:>7.1} x",
        full.per_second / list.per_second
    );
    if let Some(u) = &unchanged {
        println!(
            "    304s / LIST path                {:>7.1} x",
            u.per_second / list.per_second
        );
    }
    if let Some(old) = &baseline {
        println!(
            "    full answers / baseline         {:>7.1} x   (br: {:.1} x)",
            full.per_second / old.per_second,
            br.per_second / old.per_second
        );
    }
    Ok(())
}

const WRK_SECONDS: u32 = 15;

/// The snapshot under wrk.
struct Bench {
    url: String,
    token: String,
    per_cluster: usize,
}

/// What wrk measured.
struct Load {
    per_second: f64,
}

impl Bench {
    /// Runs wrk with `headers`, prints requests/s, p50 and p99 (each next to its recorded
    /// figure under `snapshot.<key>.<pods>`).
    fn wrk(&self, label: &str, key: &str, headers: &[(&str, &str)]) -> Result<Load> {
        let mut args = vec![
            "-t2".to_owned(),
            "-c8".to_owned(),
            format!("-d{WRK_SECONDS}s"),
            "--latency".to_owned(),
            "-H".to_owned(),
            format!("Authorization: Bearer {}", self.token),
        ];
        for (name, value) in headers {
            args.push("-H".to_owned());
            args.push(format!("{name}: {value}"));
        }
        args.push(self.url.clone());
        let out = Command::new("wrk")
            .args(&args)
            .output()
            .context("wrk is not installed (apt-get install wrk)")?;
        let wrk = String::from_utf8_lossy(&out.stdout).into_owned();
        let per_second: f64 = wrk_number(&wrk, "Requests/sec:")
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no Requests/sec in wrk's output: {wrk}"))?;
        let ms = |p: &str| {
            wrk_number(&wrk, p)
                .and_then(|v| wrk_ms(&v))
                .unwrap_or(f64::NAN)
        };
        let (p50, p99) = (ms("50%"), ms("99%"));
        let pods = self.per_cluster;
        println!("  {label}:");
        println!(
            "      requests/s {per_second:>9.1} {}",
            recorded(&format!("snapshot.{key}.rps.{pods}"), per_second)
        );
        println!(
            "      p50 {p50:>7.2} ms   p99 {p99:>7.2} ms {}",
            recorded(&format!("snapshot.{key}.p99_ms.{pods}"), p99)
        );
        Ok(Load { per_second })
    }
}

/// wrk's latency (`812.00us`, `3.10ms`, `1.20s`) in milliseconds.
fn wrk_ms(v: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// The LIST path's figures.
struct ListPath {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Answers the snapshot the obvious way for `WRK_SECONDS`: every answer LISTs the pods of
/// the 4 API servers (8 answers in flight, as wrk's connections).
async fn list_path(
    targets: &[local_control_plane::ControlPlane],
    per_cluster: usize,
) -> Result<ListPath> {
    let mut apis = Vec::new();
    for cp in targets {
        apis.push(Api::<Pod>::all(cp.client().await?));
    }
    let until = Instant::now() + Duration::from_secs(u64::from(WRK_SECONDS));
    let began = Instant::now();
    let params = ListParams::default();
    let workers = (0..8).map(|_| {
        let (apis, params) = (apis.clone(), &params);
        async move {
            let mut took = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                let lists =
                    futures::future::try_join_all(apis.iter().map(|a| a.list(params))).await?;
                let pods: usize = lists.iter().map(|l| l.items.len()).sum();
                anyhow::ensure!(pods >= per_cluster * apis.len(), "listed {pods} pods");
                took.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(took)
        }
    });
    let mut all: Vec<f64> = futures::future::try_join_all(workers)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let seconds = began.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let at = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(ListPath {
        per_second: all.len() as f64 / seconds,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    })
}
