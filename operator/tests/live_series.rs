//! A test's live series against real parts: Debian's Prometheus (remote-write receiver,
//! native histograms) fed with series in k6's exact metric names and labels, and the
//! operator's API on a real API server serving `GET /api/v1/tests/{ns}/{name}/series` and
//! `testSeries` events from it.
//!
//! k6 itself cannot run here (it is AGPL and not built in this project), so the test writes
//! what k6's `experimental-prometheus-rw` output writes with
//! `K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true`: `k6_http_reqs_total` per
//! status/expected_response, `k6_http_req_duration_seconds` as native histograms and
//! `k6_vus`, tagged `testid` and, per runner, `instance_id` (k6-operator's tags). Two runners
//! with different latencies make the merged percentiles differ from any per-runner one.
//!
//! The operators here follow a Lease another replica holds, so their controllers never
//! touch the LoadTest whose status the test writes; followers serve the API like a leader.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

/// One simulated k6 runner: requests per second (ok and failed), the latency of every
/// request in seconds, and its VUs.
struct RunnerFeed {
    instance: &'static str,
    ok_per_s: u64,
    failed_per_s: u64,
    latency: f64,
    vus: f64,
}

/// 20 req/s at 1 s (10 % failing) and 30 req/s at 0.1 s: together 50 req/s, 4 % failed,
/// and a merged p95 in the slow runner's bucket (the mean of the runners' p95s, 0.55 s, is
/// not).
const RUNNERS: [RunnerFeed; 2] = [
    RunnerFeed {
        instance: "0",
        ok_per_s: 18,
        failed_per_s: 2,
        latency: 1.0,
        vus: 4.0,
    },
    RunnerFeed {
        instance: "1",
        ok_per_s: 30,
        failed_per_s: 0,
        latency: 0.1,
        vus: 6.0,
    },
];
const URL: &str = "http://web.demo.svc/";

/// k6's series of every runner, `elapsed` seconds into the test, at `at` (unix seconds).
fn k6_write(testid: &str, elapsed: u64, at: i64) -> WriteRequest {
    let ms = at * 1000;
    let mut timeseries = Vec::new();
    for r in &RUNNERS {
        for (count_per_s, status, expected) in [
            (r.ok_per_s, "200", "true"),
            (r.failed_per_s, "503", "false"),
        ] {
            if count_per_s == 0 {
                continue;
            }
            let count = count_per_s * elapsed;
            let request_tags = |name: &'static str| {
                labels(&[
                    ("__name__", name),
                    ("testid", testid),
                    ("instance_id", r.instance),
                    ("scenario", "default"),
                    ("method", "GET"),
                    ("url", URL),
                    ("name", URL),
                    ("status", status),
                    ("expected_response", expected),
                    ("proto", "HTTP/1.1"),
                ])
            };
            timeseries.push(TimeSeries {
                labels: request_tags("k6_http_reqs_total"),
                samples: vec![Sample {
                    value: count as f64,
                    timestamp: ms,
                }],
                histograms: vec![],
            });
            timeseries.push(TimeSeries {
                labels: request_tags("k6_http_req_duration_seconds"),
                samples: vec![],
                histograms: vec![histogram_of(r.latency, count, ms)],
            });
        }
        timeseries.push(TimeSeries {
            labels: labels(&[
                ("__name__", "k6_vus"),
                ("testid", testid),
                ("instance_id", r.instance),
            ]),
            samples: vec![Sample {
                value: r.vus,
                timestamp: ms,
            }],
            histograms: vec![],
        });
    }
    WriteRequest { timeseries }
}

/// The bounds (milliseconds) of the bucket that holds quantile `q` of all runners'
/// requests together, computed from the fed numbers alone.
fn merged_quantile_bucket(q: f64) -> (f64, f64) {
    let mut observations: Vec<(f64, u64)> = RUNNERS
        .iter()
        .map(|r| (r.latency, r.ok_per_s + r.failed_per_s))
        .collect();
    observations.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: u64 = observations.iter().map(|o| o.1).sum();
    let rank = q * total as f64;
    let mut seen = 0;
    for (latency, count) in observations {
        seen += count;
        if seen as f64 >= rank {
            let (lo, hi) = bucket_bounds(bucket_index(latency));
            return (lo * 1000.0, hi * 1000.0);
        }
    }
    (f64::NAN, f64::NAN)
}

fn now() -> i64 {
    Timestamp::now().as_second()
}

fn rfc3339(unix: i64) -> Result<String> {
    Ok(Timestamp::from_second(unix)?.to_string())
}

/// Starts an operator on `platform` that follows the Lease another replica holds, with its
/// API on a free port and `prometheus` as its Prometheus.
async fn follower(
    platform: &local_control_plane::ControlPlane,
    identity: &str,
    prometheus: Option<&str>,
) -> Result<(Operator, Http)> {
    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, HashMap::new())?;
    config.api.prometheus_url = prometheus.map(reqwest::Url::parse).transpose()?;
    config.leader_election = Some(operator::leader::LeaderConfig {
        lease: "tart-operator".into(),
        namespace: SECRETS_NS.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(15),
    });
    let operator = Operator::run(platform.client().await?, config).await?;
    Ok((operator, Http::new(port)))
}

/// Reads the event stream until a `testSeries` event of `ns/name` passes `check`.
async fn series_event(
    http: &Http,
    token: &str,
    ns: &str,
    name: &str,
    check: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let mut events = http.events(token).await?;
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, events.next())
            .await
            .context("no matching testSeries event in time")?
            .context("the event stream ended")??;
        buffer.push_str(&chunk);
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if !event.lines().any(|l| l == "event: testSeries") {
                continue;
            }
            let data = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .context("an event without data")?;
            let value: Value = serde_json::from_str(data)?;
            if value["namespace"] == ns && value["name"] == name && check(&value["point"]) {
                return Ok(value);
            }
        }
    }
}

fn near(value: &Value, want: f64, within: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - want).abs() <= within)
}

#[tokio::test(flavor = "multi_thread")]
async fn series_come_from_prometheus_merged_across_runners() -> Result<()> {
    let Some(prom) = PrometheusServer::start().await? else {
        return Ok(());
    };
    let platform = platform().await?;
    let p = platform.client().await?;
    // Another replica leads, for an hour.
    let lease = Lease {
        metadata: kube::core::ObjectMeta {
            name: Some("tart-operator".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("elsewhere".into()),
            lease_duration_seconds: Some(3600),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..Default::default()
        }),
    };
    Api::<Lease>::namespaced(p.clone(), SECRETS_NS)
        .create(&PostParams::default(), &lease)
        .await?;
    let token = api_admin_token(&p).await?;

    let ns = platform.namespace("live").await?;
    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &ns);
    create_loadtest(
        &p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: web}\n\
         spec: {cluster: prod, http: {targetUrl: 'http://web.demo.svc/', vus: 10, duration: 2m}}\n",
    )
    .await?;
    // On cluster prod, which is never registered here: its runners count as real.
    let lt = lts.get("web").await?;
    let testid = operator::controllers::load_test::runner::test_id(&lt);

    // The runners started a minute ago and have pushed every 5 s since; they keep pushing
    // while the test runs.
    let t0 = now() / 5 * 5 - 60;
    let mut pushed = 0;
    while t0 + pushed + 5 <= now() {
        pushed += 5;
        prom.write(&k6_write(&testid, pushed as u64, t0 + pushed))
            .await?;
    }
    lts.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Running", "startedAt": rfc3339(t0)? } })),
    )
    .await?;
    let prom = std::sync::Arc::new(prom);
    let live = tokio::spawn({
        let (prom, testid) = (prom.clone(), testid.clone());
        async move {
            let mut at = t0 + pushed;
            loop {
                at += 5;
                let wait = (at - now()).max(0) as u64;
                tokio::time::sleep(Duration::from_secs(wait)).await;
                if let Err(e) = prom.write(&k6_write(&testid, (at - t0) as u64, at)).await {
                    eprintln!("live push failed: {e:#}");
                }
            }
        }
    });

    let (with, http) = follower(&platform, "live-a", Some(&prom.url)).await?;
    let path = format!("/api/v1/tests/{ns}/web/series");
    let series = http
        .eventually(&path, &token, "points from Prometheus", |s| {
            s["points"].as_array().is_some_and(|p| p.len() >= 8)
        })
        .await?;
    ensure!(
        series["source"] == "prometheus"
            && series["reason"].is_null()
            && series["percentiles"] == "merged"
            && series["stepSeconds"] == 5
            && series["startedAt"] == rfc3339(t0)?
            && series["load"]
                == json!([{ "offsetSeconds": 0, "vus": 10 }, { "offsetSeconds": 120, "vus": 10 }]),
        "{series:#}"
    );
    let (p95_lo, p95_hi) = merged_quantile_bucket(0.95);
    let (p99_lo, p99_hi) = merged_quantile_bucket(0.99);
    ensure!(
        p95_lo > 550.0,
        "the fixture must tell merged from averaged percentiles"
    );
    // Points whose whole rate window (15 s) lies in the fed minute.
    let full: Vec<&Value> = series["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pt| {
            pt["time"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .is_some_and(|t| t.as_second() >= t0 + 20 && t.as_second() <= t0 + 60)
        })
        .collect();
    ensure!(full.len() >= 8, "{series:#}");
    for pt in full {
        ensure!(near(&pt["rps"], 50.0, 0.01), "rps: {pt}");
        ensure!(near(&pt["errorRate"], 0.04, 0.0001), "error rate: {pt}");
        ensure!(near(&pt["vus"], 10.0, 0.0), "vus: {pt}");
        let p95 = pt["p95Ms"].as_f64().context("p95")?;
        let p99 = pt["p99Ms"].as_f64().context("p99")?;
        ensure!(
            p95 > p95_lo && p95 <= p95_hi + 1e-6,
            "p95 {p95} not in ({p95_lo}, {p95_hi}]: {pt}"
        );
        ensure!(
            p99 > p99_lo && p99 <= p99_hi + 1e-6,
            "p99 {p99} not in ({p99_lo}, {p99_hi}]: {pt}"
        );
    }

    // The route is authorized like the test's GET.
    let nobody = sa_token(&p, &ns, "nobody", Some(API_AUDIENCE)).await?;
    let (status, _) = http.get(&path, Some(&nobody)).await?;
    ensure!(status == 403, "a token without get loadtests got {status}");

    // While the test runs, new points arrive as events: the first ones the poller sends are
    // the last few steps, then points of pushes made after the backfill.
    let event = series_event(&http, &token, &ns, "web", |pt| {
        let live = pt["time"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .is_some_and(|t| t.as_second() > t0 + pushed + 5);
        live && near(&pt["rps"], 50.0, 0.01) && pt["p95Ms"].as_f64().is_some_and(|p| p > p95_lo)
    })
    .await?;
    ensure!(
        near(&event["point"]["errorRate"], 0.04, 0.0001) && near(&event["point"]["vus"], 10.0, 0.0),
        "{event}"
    );

    // Finished: the series ends at the finish.
    live.abort();
    let finished = now() / 5 * 5;
    lts.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(
            json!({ "status": { "phase": "Succeeded", "finishedAt": rfc3339(finished)? } }),
        ),
    )
    .await?;
    let done = http
        .eventually(&path, &token, "the finished series", |s| {
            s["finishedAt"] == rfc3339(finished).unwrap_or_default()
        })
        .await?;
    let last = done["points"]
        .as_array()
        .and_then(|p| p.last())
        .and_then(|p| p["time"].as_str())
        .context("points")?
        .parse::<Timestamp>()?;
    ensure!(last.as_second() <= finished, "{done:#}");
    // The whole run's percentiles, as a finished parallel test records them: from the
    // runners' merged histograms over the run, in the buckets the fed data implies.
    let whole = operator::prometheus::Prometheus::new(
        operator::prometheus::base_url(&prom.url).map_err(anyhow::Error::msg)?,
    )
    .run_percentiles(&testid, t0, finished)
    .await?;
    let p95 = whole.p95.context("a whole-run p95")?;
    let p99 = whole.p99.context("a whole-run p99")?;
    ensure!(
        p95 > p95_lo && p95 <= p95_hi + 1e-6 && p99 > p99_lo && p99 <= p99_hi + 1e-6,
        "whole run: {whole:?}, want p95 in ({p95_lo}, {p95_hi}], p99 in ({p99_lo}, {p99_hi}]"
    );

    // The lab: a test on a cluster of kwok nodes is looked up too, and without samples (nothing
    // there writes any) the reason is the lab's.
    let dev = target("dev").await?;
    register_kubeconfig(&p, "dev", dev.kubeconfig()).await?;
    create_loadtest(
        &p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: lab}\n\
         spec: {cluster: dev, preset: light-load}\n",
    )
    .await?;
    lts.patch_status(
        "lab",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Running", "startedAt": rfc3339(t0)? } })),
    )
    .await?;
    let lab = http
        .eventually(
            &format!("/api/v1/tests/{ns}/lab/series"),
            &token,
            "the lab's reason",
            |s| {
                s["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("simulated"))
            },
        )
        .await?;
    ensure!(
        lab["source"] == "prometheus"
            && lab["reason"].as_str().is_some_and(|r| r
                .starts_with("the lab's runners are simulated (node dev-")
                && r.ends_with("nothing was measured"))
            && lab["points"] == json!([])
            && lab["load"]
                == json!([{ "offsetSeconds": 0, "vus": 10 }, { "offsetSeconds": 15, "vus": 10 }]),
        "{lab:#}"
    );
    with.stop().await?;

    // Without Prometheus, and with one that is not there.
    let (without, http) = follower(&platform, "live-b", None).await?;
    let answer = http
        .eventually(&path, &token, "an answer", |s| s["source"].is_string())
        .await?;
    ensure!(
        answer["source"] == "unavailable"
            && answer["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("no Prometheus configured (--prometheus-url)"))
            && answer["points"] == json!([])
            && answer["percentiles"].is_null()
            && answer["load"].as_array().is_some_and(|l| l.len() == 2),
        "{answer:#}"
    );
    without.stop().await?;
    let closed = format!("http://127.0.0.1:{}", free_port()?);
    let (unreachable, http) = follower(&platform, "live-c", Some(&closed)).await?;
    let answer = http
        .eventually(&path, &token, "an answer", |s| s["source"].is_string())
        .await?;
    let reason = answer["reason"].as_str().unwrap_or_default();
    ensure!(
        answer["source"] == "unavailable"
            && reason.starts_with(&format!("Prometheus at {closed} is unreachable")),
        "{answer:#}"
    );
    unreachable.stop().await?;
    Ok(())
}

/// With --prometheus-remote-write-url, the runner Job a real API server accepts runs k6
/// with its remote-write output, native histograms and the test's tags; its pod's
/// environment resolves the runner's own name for `instance_id`.
#[tokio::test(flavor = "multi_thread")]
async fn runners_remote_write_to_the_platform_prometheus() -> Result<()> {
    let write_url = "http://prometheus.platform.example:9090/api/v1/write";
    let settings = operator::context::Settings {
        prometheus_remote_write_url: Some(write_url.into()),
        ..fast_settings()
    };
    let env = Env::start(settings).await?;
    let (ns, lts) = env.loadtests("rw").await?;
    let name = create_loadtest(&env.p, &ns, &preset_loadtest("web", "dev", "light-load")).await?;
    let job = runner_job(&lts, &name, &env.d).await?;
    let lt = lts.get(&name).await?;
    let container = job
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .context("container")?;
    let args = container.args.unwrap_or_default();
    let testid = format!(
        "testid={}",
        operator::controllers::load_test::runner::test_id(&lt)
    );
    ensure!(
        args.windows(2)
            .any(|w| w == ["--out", "experimental-prometheus-rw"])
            && args.windows(2).any(|w| w[0] == "--tag" && w[1] == testid)
            && args
                .windows(2)
                .any(|w| w == ["--tag", "instance_id=$(TART_RUNNER_POD)"]),
        "{args:?}"
    );
    let env_vars: HashMap<String, String> = container
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let value = e.value.unwrap_or_else(|| {
                e.value_from
                    .and_then(|f| f.field_ref)
                    .map(|f| format!("fieldRef:{}", f.field_path))
                    .unwrap_or_default()
            });
            (e.name, value)
        })
        .collect();
    ensure!(
        env_vars
            .get("K6_PROMETHEUS_RW_SERVER_URL")
            .map(String::as_str)
            == Some(write_url)
            && env_vars
                .get("K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM")
                .map(String::as_str)
                == Some("true")
            && env_vars.get("TART_RUNNER_POD").map(String::as_str)
                == Some("fieldRef:metadata.name"),
        "{env_vars:?}"
    );
    Ok(())
}
