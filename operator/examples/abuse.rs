//! Benchmark: the operator's API under abuse. While a valid client from 127.0.0.1 reads
//! `/api/v1/clusters` every 20 ms, each phase attacks from other loopback addresses:
//! 1 000 requests with random bad tokens (from one IP, then spread over 250 IPs), 200
//! slowloris connections, oversized and malformed bodies, and an event-stream flood. Prints
//! per phase what the attackers got, the valid client's p50/p99 latency, the operator's
//! own work meanwhile (LoadTests created one after another on a registered target cluster:
//! the time until each has its runner Job, so a starved reconcile shows), and the operator's
//! resident memory before and after. Run with `bench/abuse.sh`, which builds
//! the operator binary and passes its path in TART_OPERATOR_BIN.

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use crds::LoadTest;
use futures::StreamExt;
use kube::api::Api;
use measure::rss_mib;
use support::{
    Running, api_admin_token, create_loadtest, free_port, job_name, operator_bin_from_env,
    operator_command, platform, preset_loadtest, register, target,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const CONCURRENCY: usize = 50;

fn attacker_ip(i: usize) -> IpAddr {
    // 127.0.1.0 - 127.0.1.249: loopback, never the valid client's 127.0.0.1.
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i % 250) as u8))
}

fn client_from(ip: IpAddr) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(Some(ip))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Sends `n` requests made by `make(i)`, CONCURRENCY at a time; counts answers by status.
async fn flood<F, Fut>(n: usize, make: F) -> BTreeMap<String, usize>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let outcomes: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let sent = make(i);
            async move {
                match sent.await {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) if e.is_timeout() => "timeout".into(),
                    Err(_) => "error".into(),
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut counts = BTreeMap::new();
    for o in outcomes {
        *counts.entry(o).or_default() += 1;
    }
    counts
}

/// `conns` connections from attacker IPs, each sending a request's headers one byte a
/// second; counts those the server closed within `within`.
async fn slowloris(port: u16, conns: usize, within: Duration) -> BTreeMap<String, usize> {
    let tasks: Vec<_> = (0..conns)
        .map(|i| {
            tokio::spawn(async move {
                let socket = TcpSocket::new_v4().ok()?;
                socket.bind((attacker_ip(i), 0).into()).ok()?;
                let mut conn = socket.connect(([127, 0, 0, 1], port).into()).await.ok()?;
                let started = Instant::now();
                let request = b"GET /api/v1/clusters HTTP/1.1\r\nhost: x\r\nx-slow: ";
                let mut bytes = request.iter().chain(std::iter::repeat(&b'a'));
                let mut buf = [0u8; 512];
                while started.elapsed() < within {
                    let byte = *bytes.next()?;
                    if conn.write_all(&[byte]).await.is_err() {
                        return Some("closed by server");
                    }
                    // Closed while we wait?
                    if let Ok(read) =
                        tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await
                    {
                        match read {
                            Ok(0) | Err(_) => return Some("closed by server"),
                            Ok(_) => return Some("answered"),
                        }
                    }
                }
                Some("still open")
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for t in tasks {
        let outcome = t.await.ok().flatten().unwrap_or("could not connect");
        *counts.entry(outcome.to_owned()).or_default() += 1;
    }
    counts
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The valid client: GET /api/v1/clusters every 20 ms until `stop`; latencies in ms and
/// the number of answers other than 200.
async fn measure_valid(
    http: reqwest::Client,
    url: String,
    token: String,
    stop: Arc<AtomicBool>,
) -> (Vec<f64>, usize) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let ok = match http.get(&url).bearer_auth(&token).send().await {
            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        if ok {
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        } else {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, failures)
}

/// The operator's own work: LoadTests on cluster dev created one after another until
/// `stop`; for each, ms from its creation until its status names its runner Job (the
/// reconcile read it, took a slot, created the Job in dev and wrote status).
async fn measure_reconcile(p: kube::Client, ns: String, stop: Arc<AtomicBool>) -> Vec<f64> {
    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &ns);
    let mut latencies = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let t = Instant::now();
        let name = format!("r{}-{i}", rand_token());
        if create_loadtest(&p, &ns, &preset_loadtest(&name, "dev", "light-load"))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        while t.elapsed() < Duration::from_secs(60) {
            if lts.get(&name).await.is_ok_and(|lt| job_name(&lt).is_some()) {
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn show(counts: &BTreeMap<String, usize>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    eprintln!("starting a platform control plane and the operator...");
    let platform = platform().await?;
    let dev = target("dev").await?;
    let p = platform.client().await?;
    let port = free_port()?;
    let mut command = operator_command(&bin, &platform, port, "warn", "json");
    // Every created test gets its runner at once: no queue in the measurement.
    command
        .args(["--max-tests-per-cluster", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let operator = Running::spawn(&mut command)?;
    let pid = operator.pid();
    let token = api_admin_token(&p).await?;
    register(&p, "dev", &dev).await?;
    let ns = platform.namespace("abuse").await?;
    let base = format!("http://127.0.0.1:{port}");
    let clusters = format!("{base}/api/v1/clusters");
    let valid = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !valid
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        if Instant::now() > deadline {
            bail!("the operator was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_before = rss_mib(pid);

    let mut rows: Vec<(String, String, f64, f64, usize, f64, f64)> = Vec::new();
    let phases = [
        "baseline (no attack, 5 s)",
        "1000 bad tokens, one IP",
        "1000 bad tokens, 250 IPs",
        "200 slowloris connections",
        "100 oversized bodies (8 MiB)",
        "500 malformed bodies",
        "100 event streams, one token",
    ];
    for phase in phases {
        let stop = Arc::new(AtomicBool::new(false));
        let meter = tokio::spawn(measure_valid(
            valid.clone(),
            clusters.clone(),
            token.clone(),
            stop.clone(),
        ));
        let reconciles = tokio::spawn(measure_reconcile(p.clone(), ns.clone(), stop.clone()));
        let attacked = match phase {
            p if p.starts_with("baseline") => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                String::from("-")
            }
            p if p.contains("one IP") => {
                let attacker = client_from(attacker_ip(0))?;
                show(
                    &flood(1000, |i| {
                        attacker
                            .get(&clusters)
                            .bearer_auth(format!("bad-{i}-{}", rand_token()))
                            .send()
                    })
                    .await,
                )
            }
            p if p.contains("250 IPs") => {
                let attackers: Vec<reqwest::Client> = (1..=250)
                    .map(|i| client_from(attacker_ip(i)))
                    .collect::<Result<_>>()?;
                show(
                    &flood(1000, |i| {
                        attackers[i % 250]
                            .get(&clusters)
                            .bearer_auth(format!("bad-{i}-{}", rand_token()))
                            .send()
                    })
                    .await,
                )
            }
            p if p.contains("slowloris") => {
                show(&slowloris(port, 200, Duration::from_secs(30)).await)
            }
            p if p.contains("oversized") => {
                let attacker = client_from(attacker_ip(7))?;
                let body = vec![b'{'; 8 << 20];
                show(
                    &flood(100, |_| {
                        attacker
                            .post(format!("{base}/api/v1/tests"))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                    })
                    .await,
                )
            }
            p if p.contains("malformed") => {
                let attacker = client_from(attacker_ip(8))?;
                show(
                    &flood(500, |i| {
                        attacker
                            .post(format!("{base}/api/v1/tests"))
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(format!("{{\"spec\": {i}, \"x\": [[[[[[[["))
                            .send()
                    })
                    .await,
                )
            }
            _ => {
                // Streams are held open until the phase ends.
                let attacker = client_from(attacker_ip(9))?;
                let mut held = Vec::new();
                let mut counts = BTreeMap::<String, usize>::new();
                for _ in 0..100 {
                    let r = attacker
                        .get(format!("{base}/api/v1/events"))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    *counts.entry(r.status().as_u16().to_string()).or_default() += 1;
                    held.push(r);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                drop(held);
                show(&counts)
            }
        };
        stop.store(true, Ordering::Relaxed);
        let (latencies, failures) = meter.await?;
        let reconciled = reconciles.await?;
        rows.push((
            phase.to_owned(),
            attacked,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            failures,
            percentile(&reconciled, 0.5),
            percentile(&reconciled, 0.99),
        ));
        eprintln!("done: {phase}");
    }
    let rss_after = rss_mib(pid);

    println!(
        "\nabuse of the operator's API (valid client: GET /api/v1/clusters from 127.0.0.1 every 20 ms)\n"
    );
    println!(
        "{:<32} {:>9} {:>9} {:>8} {:>13} {:>13}  attackers got",
        "phase", "p50 ms", "p99 ms", "failed", "runner p50 ms", "runner p99 ms"
    );
    for (phase, attacked, p50, p99, failures, r50, r99) in &rows {
        println!(
            "{phase:<32} {p50:>9.1} {p99:>9.1} {failures:>8} {r50:>13.0} {r99:>13.0}  {attacked}"
        );
    }
    println!(
        "(runner: a LoadTest created on dev until its status names its runner Job, one after another)"
    );
    println!("\noperator RSS: {rss_before:.1} MiB before, {rss_after:.1} MiB after");
    drop(operator);
    Ok(())
}

/// 16 random hex digits, so no two bad tokens are equal (no cache can answer them).
fn rand_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!("{:016x}", RandomState::new().hash_one(Instant::now()))
}
