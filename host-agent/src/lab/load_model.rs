//! The lab's simulated load model (pure). Simulated pods do no work, so while a k6 runner
//! "runs" in a lab cluster the lab sets the CPU usage kwok reports for the pods behind the
//! Services it targets:
//!
//! ```text
//! usage per ready pod = min(limit, BASE + Σ VUs(t) × PER_VU / ready pods)
//! ```
//!
//! `VUs(t)` follows the runner's own parameters (`params.json`, the data the k6 script would
//! read): a constant number of VUs, or k6 stages ramping linearly from 0. Every URL of an
//! iteration is requested by every VU, so each targeted Service carries all of the runner's
//! VUs. Pods behind a Service without load use BASE. The real HPA controller then reacts
//! through metrics-server, as it would to real traffic. The runner ends after its duration
//! (the lab writes the container's exit as a kubelet would) without a result: the LoadTest
//! ends Completed with reason RunnerSimulated, never with invented latencies.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Idle CPU of a pod behind a Service, in millicores.
pub const BASE_MILLICORES: u64 = 5;
/// CPU one virtual user costs the Service it targets, in millicores, shared by its pods.
pub const PER_VU_MILLICORES: u64 = 10;

/// The parts of a runner's `params.json` the model reads.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunnerParams {
    /// The URLs each iteration requests.
    pub urls: Vec<String>,
    /// The HTTP method of every request (GET when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Constant VUs.
    #[serde(default)]
    pub vus: Option<u64>,
    /// With `vus`: how long.
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// Or ramps.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Runners sharing these VUs (a parallel test; absent: one).
    #[serde(default)]
    pub parallelism: Option<u64>,
}

/// One k6 stage.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// Seconds.
    pub duration_seconds: u64,
    /// VUs at the end of the stage.
    pub target: u64,
}

/// Why a runner's `params.json` gives no load.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// Not JSON of the expected shape.
    #[error("params.json is not the operator's runner parameters: {0}")]
    Format(#[from] serde_json::Error),
    /// Neither constant VUs nor stages.
    #[error("params.json sets neither vus nor stages, so the runner has no virtual users")]
    NoLoad,
}

impl RunnerParams {
    /// Parses `params.json`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, ParamsError> {
        let params: Self = serde_json::from_str(text)?;
        if params.vus.is_none() && params.stages.is_empty() {
            return Err(ParamsError::NoLoad);
        }
        Ok(params)
    }

    /// Seconds the run lasts.
    pub fn duration_secs(&self) -> u64 {
        if self.stages.is_empty() {
            self.duration_seconds.unwrap_or(0)
        } else {
            self.stages.iter().map(|s| s.duration_seconds).sum()
        }
    }

    /// This runner's virtual users `elapsed` seconds after the start (0 outside the run):
    /// the runners of a parallel test share the test's VUs (k6's execution segments split
    /// them), so each carries its share.
    pub fn vus_at(&self, elapsed: f64) -> f64 {
        self.test_vus_at(elapsed) / self.parallelism.unwrap_or(1).max(1) as f64
    }

    fn test_vus_at(&self, elapsed: f64) -> f64 {
        if elapsed < 0.0 || elapsed >= self.duration_secs() as f64 {
            return 0.0;
        }
        if self.stages.is_empty() {
            return self.vus.unwrap_or(0) as f64;
        }
        let mut from = 0.0;
        let mut start = 0.0;
        for stage in &self.stages {
            let length = stage.duration_seconds as f64;
            let to = stage.target as f64;
            if elapsed < start + length {
                return from + (to - from) * (elapsed - start) / length;
            }
            from = to;
            start += length;
        }
        from
    }
}

/// The Service a URL names inside a cluster, as `(namespace, name)`: the host must be
/// `<service>.<namespace>`, optionally followed by `.svc` and `.svc.cluster.local`.
pub fn service_of(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.trim_end_matches('.');
    let host = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(host);
    let (service, namespace) = host.split_once('.')?;
    (!service.is_empty() && !namespace.is_empty() && !namespace.contains('.'))
        .then(|| (namespace.to_owned(), service.to_owned()))
}

/// The port a URL connects to: the one it names, else 80 for http and 443 for https.
pub fn port_of(url: &str) -> Option<u16> {
    let (default, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (80, rest)
    } else {
        (443, url.strip_prefix("https://")?)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.split_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => Some(default),
    }
}

/// VUs per Service from the runners running now: `(params, elapsed seconds)` each.
pub fn service_load<'a>(
    runners: impl IntoIterator<Item = (&'a RunnerParams, f64)>,
) -> BTreeMap<(String, String), f64> {
    let mut load = BTreeMap::new();
    for (params, elapsed) in runners {
        let vus = params.vus_at(elapsed);
        if vus <= 0.0 {
            continue;
        }
        let mut services: Vec<_> = params.urls.iter().filter_map(|u| service_of(u)).collect();
        services.sort();
        services.dedup();
        for service in services {
            *load.entry(service).or_insert(0.0) += vus;
        }
    }
    load
}

/// The CPU usage of each ready pod behind a Service carrying `vus`, in millicores.
pub fn pod_millicores(vus: f64, ready_pods: usize, limit_millicores: Option<u64>) -> u64 {
    let share = if ready_pods == 0 {
        0.0
    } else {
        vus * PER_VU_MILLICORES as f64 / ready_pods as f64
    };
    let usage = BASE_MILLICORES + share.round() as u64;
    limit_millicores.map_or(usage, |limit| usage.min(limit))
}

/// Parses a Kubernetes CPU quantity (`200m`, `1`, `0.5`) into millicores.
pub fn millicores(quantity: &str) -> Option<u64> {
    let q = quantity.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let cores: f64 = q.parse().ok()?;
    (cores.is_finite() && cores >= 0.0).then(|| (cores * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(vus: u64, secs: u64, urls: &[&str]) -> RunnerParams {
        RunnerParams {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            method: None,
            vus: Some(vus),
            duration_seconds: Some(secs),
            stages: Vec::new(),
            parallelism: None,
        }
    }

    #[test]
    fn parses_the_operators_params() {
        let p = RunnerParams::parse(
            r#"{"version":1,"urls":["http://nginx-web.demo.svc.cluster.local"],"method":"GET","headers":{},
                "thresholds":{"p95Ms":500,"errorRate":0.01},"sleepSeconds":0.3,"vus":30,"durationSeconds":60}"#,
        )
        .expect("params");
        assert_eq!(p.duration_secs(), 60);
        assert_eq!(p.vus_at(10.0), 30.0);
        assert_eq!(p.method.as_deref(), Some("GET"));
        let ramp = RunnerParams::parse(
            r#"{"urls":["http://a.b"],"stages":[{"durationSeconds":10,"target":100},{"durationSeconds":30,"target":100},{"durationSeconds":10,"target":0}]}"#,
        )
        .expect("stages");
        assert_eq!(ramp.duration_secs(), 50);
        assert!(matches!(
            RunnerParams::parse(r#"{"urls":[]}"#),
            Err(ParamsError::NoLoad)
        ));
        assert!(matches!(
            RunnerParams::parse("{"),
            Err(ParamsError::Format(_))
        ));
    }

    #[test]
    fn stages_ramp_linearly_from_zero() {
        let p = RunnerParams {
            urls: vec![],
            method: None,
            vus: None,
            duration_seconds: None,
            parallelism: None,
            stages: vec![
                Stage {
                    duration_seconds: 10,
                    target: 100,
                },
                Stage {
                    duration_seconds: 30,
                    target: 100,
                },
                Stage {
                    duration_seconds: 10,
                    target: 0,
                },
            ],
        };
        assert_eq!(p.vus_at(0.0), 0.0);
        assert_eq!(p.vus_at(5.0), 50.0);
        assert_eq!(p.vus_at(20.0), 100.0);
        assert_eq!(p.vus_at(45.0), 50.0);
        assert_eq!(p.vus_at(50.0), 0.0);
        assert_eq!(p.vus_at(-1.0), 0.0);
        let shared = RunnerParams {
            parallelism: Some(4),
            ..p.clone()
        };
        assert_eq!(shared.vus_at(20.0), 25.0, "four runners share the VUs");
    }

    #[test]
    fn urls_name_services_in_the_cluster() {
        let s = |ns: &str, n: &str| Some((ns.to_owned(), n.to_owned()));
        assert_eq!(
            service_of("http://nginx-web.demo.svc.cluster.local"),
            s("demo", "nginx-web")
        );
        assert_eq!(
            service_of("http://httpbin.demo.svc.cluster.local/get?x=1"),
            s("demo", "httpbin")
        );
        assert_eq!(
            service_of("https://httpbin.demo:8443/"),
            s("demo", "httpbin")
        );
        assert_eq!(service_of("http://httpbin.demo.svc"), s("demo", "httpbin"));
        assert_eq!(service_of("http://example.com.au/"), None);
        assert_eq!(service_of("http://localhost/"), None);
        assert_eq!(service_of("ftp://a.b/"), None);
        assert_eq!(port_of("http://nginx-web.demo.svc.cluster.local"), Some(80));
        assert_eq!(port_of("https://httpbin.demo/get"), Some(443));
        assert_eq!(port_of("http://u:p@httpbin.demo:8080/x?y"), Some(8080));
        assert_eq!(port_of("http://httpbin.demo:http/"), None);
        assert_eq!(port_of("ftp://a.b/"), None);
    }

    #[test]
    fn every_url_of_a_runner_carries_all_its_vus_and_runners_add_up() {
        let cascade = constant(
            30,
            60,
            &[
                "http://nginx-web.demo.svc.cluster.local",
                "http://httpbin.demo.svc.cluster.local/get",
                "http://httpbin.demo.svc.cluster.local/headers",
            ],
        );
        let light = constant(10, 15, &["http://nginx-web.demo.svc.cluster.local"]);
        let load = service_load([(&cascade, 5.0), (&light, 5.0)]);
        assert_eq!(load[&("demo".to_owned(), "nginx-web".to_owned())], 40.0);
        assert_eq!(load[&("demo".to_owned(), "httpbin".to_owned())], 30.0);
        // A finished runner adds nothing.
        let load = service_load([(&light, 20.0)]);
        assert!(load.is_empty());
    }

    #[test]
    fn usage_is_shared_by_ready_pods_and_capped_at_the_limit() {
        // scale-light on nginx-web: 30 VUs over 3 pods = 100m + 5m, above the 50% of 50m.
        assert_eq!(pod_millicores(30.0, 3, Some(200)), 105);
        assert_eq!(pod_millicores(30.0, 10, Some(200)), 35);
        assert_eq!(pod_millicores(200.0, 3, Some(200)), 200);
        assert_eq!(pod_millicores(0.0, 3, None), BASE_MILLICORES);
        assert_eq!(pod_millicores(30.0, 0, None), BASE_MILLICORES);
    }

    #[test]
    fn cpu_quantities() {
        assert_eq!(millicores("200m"), Some(200));
        assert_eq!(millicores("1"), Some(1000));
        assert_eq!(millicores("0.5"), Some(500));
        assert_eq!(millicores("x"), None);
        assert_eq!(millicores("-1"), None);
    }
}
