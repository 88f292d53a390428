//! The sampled flows of the simulated load: how many per second, spread over the runners
//! by VUs, each an HTTP request to a backend pod (round robin) or a drop at a Service
//! without backends.

use std::collections::HashMap;

use hubble_api as pb;

use super::peer::{Peer, reserved};
use super::targets::{Backends, LoadSource, Target};
use super::{
    FLOWS_PER_VU_SECOND, MAX_LOAD_FLOWS_PER_SECOND, SERVICE_BACKEND_NOT_FOUND, WORLD_IDENTITY,
    source_port, tcp, timestamp,
};

/// Hubble's L7 flow type of a request.
const L7_REQUEST: u32 = 1;

/// Load flows per second for this many VUs in a cluster.
pub fn load_rate(vus: f64) -> f64 {
    (vus.max(0.0) * FLOWS_PER_VU_SECOND).min(MAX_LOAD_FLOWS_PER_SECOND)
}

/// The HTTP request flow from a runner to a backend pod.
pub fn request_flow(
    source: &LoadSource,
    target: &Target,
    backend: &Peer,
    port: u16,
    at_ms: i64,
) -> pb::Flow {
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Forwarded as i32,
        ip: Some(pb::Ip {
            source: source.pod.ip.clone(),
            destination: backend.ip.clone(),
        }),
        l4: tcp(
            source_port(&[&source.pod.pod, &backend.pod], at_ms),
            u32::from(port),
        ),
        source: Some(source.pod.endpoint()),
        destination: Some(backend.endpoint()),
        r#type: pb::FlowType::L7 as i32,
        node_name: backend.node.clone(),
        l7: Some(pb::Layer7 {
            r#type: L7_REQUEST,
            latency_ns: 0,
            record: Some(pb::layer7::Record::Http(pb::Http {
                code: 200,
                method: source.method.clone(),
                url: target.url.clone(),
                protocol: "HTTP/1.1".to_owned(),
            })),
        }),
        destination_service: Some(pb::Service {
            name: target.service.1.clone(),
            namespace: target.service.0.clone(),
        }),
        ..Default::default()
    }
}

/// A connection from a runner to a Service without backends, dropped.
pub fn no_backend_flow(
    source: &LoadSource,
    target: &Target,
    cluster_ip: &str,
    port: u16,
    at_ms: i64,
) -> pb::Flow {
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Dropped as i32,
        drop_reason_desc: SERVICE_BACKEND_NOT_FOUND,
        ip: Some(pb::Ip {
            source: source.pod.ip.clone(),
            destination: cluster_ip.to_owned(),
        }),
        l4: tcp(
            source_port(&[&source.pod.pod, cluster_ip], at_ms),
            u32::from(port),
        ),
        source: Some(source.pod.endpoint()),
        destination: Some(reserved(WORLD_IDENTITY, "world")),
        r#type: pb::FlowType::L3L4 as i32,
        node_name: source.pod.node.clone(),
        destination_service: Some(pb::Service {
            name: target.service.1.clone(),
            namespace: target.service.0.clone(),
        }),
        ..Default::default()
    }
}

/// Where the load flows of a cluster left off: fractions of a flow not sent yet per runner,
/// and the next URL per runner and backend per Service (round robin).
#[derive(Debug, Default)]
pub struct LoadCursor {
    owed: HashMap<String, f64>,
    next_url: HashMap<String, usize>,
    next_backend: HashMap<(String, String), usize>,
}

fn next(counter: &mut usize, len: usize) -> usize {
    let i = *counter % len;
    *counter = counter.wrapping_add(1);
    i
}

/// The load flows of `(from_ms, to_ms]`, spread evenly over it, oldest first.
pub fn load_flows(
    cursor: &mut LoadCursor,
    sources: &[LoadSource],
    from_ms: i64,
    to_ms: i64,
) -> Vec<pb::Flow> {
    let key = |s: &LoadSource| format!("{}/{}", s.pod.namespace, s.pod.pod);
    let sources: Vec<&LoadSource> = sources.iter().filter(|s| !s.targets.is_empty()).collect();
    cursor
        .owed
        .retain(|k, _| sources.iter().any(|s| key(s) == *k));
    let total: f64 = sources.iter().map(|s| s.vus).sum();
    let span = (to_ms - from_ms).max(0);
    if total <= 0.0 || span == 0 {
        return Vec::new();
    }
    let per_vu = load_rate(total) / total * span as f64 / 1000.0;
    let mut flows = Vec::new();
    for source in sources {
        let owed = cursor.owed.entry(key(source)).or_insert(0.0);
        *owed += source.vus * per_vu;
        let n = owed.floor();
        *owed -= n;
        let n = n as i64;
        for i in 0..n {
            let at = from_ms + (2 * i + 1) * span / (2 * n);
            let url = next(
                cursor.next_url.entry(key(source)).or_default(),
                source.targets.len(),
            );
            let target = &source.targets[url];
            flows.push(match &target.backends {
                Backends::Ready(pods) => {
                    let b = next(
                        cursor
                            .next_backend
                            .entry(target.service.clone())
                            .or_default(),
                        pods.len(),
                    );
                    let (backend, port) = &pods[b];
                    request_flow(source, target, backend, *port, at)
                }
                Backends::None { cluster_ip, port } => {
                    no_backend_flow(source, target, cluster_ip, *port, at)
                }
            });
        }
    }
    flows.sort_by_key(|f| f.time.map(|t| (t.seconds, t.nanos)));
    flows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::traffic_model::fixtures::{
        NGINX_URL, nginx, redis, runner, runner_pod, service,
    };
    use crate::lab::traffic_model::targets::load_source;

    #[test]
    fn a_runner_loads_the_ready_pods_behind_its_services_on_the_target_port() {
        let mut not_ready = nginx("nginx-web-5d8f9c7b6d-nrdy1", "10.20.1.8");
        not_ready.status.as_mut().expect("status").conditions = None;
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            nginx("nginx-web-5d8f9c7b6d-bbbbb", "10.20.1.6"),
            not_ready,
            redis(),
            runner_pod(),
        ];
        let services = vec![
            service("nginx-web", "{app: nginx-web}", "http"),
            service("httpbin", "{app: httpbin}", "8080"),
        ];
        let r = runner(
            30,
            &[NGINX_URL, "http://httpbin.demo/get", "http://missing.demo/"],
        );
        let source = load_source(&r, 10.0, &pods, &services).expect("source");
        assert_eq!(source.vus, 30.0);
        assert_eq!(source.pod.pod, "lt-light-abc12-x7k2p");
        assert_eq!(
            source.targets.len(),
            2,
            "a URL naming no Service has no flows"
        );
        let Backends::Ready(backends) = &source.targets[0].backends else {
            panic!("nginx-web has ready pods");
        };
        let names: Vec<(&str, u16)> = backends
            .iter()
            .map(|(p, port)| (p.pod.as_str(), *port))
            .collect();
        assert_eq!(
            names,
            [
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080),
                ("nginx-web-5d8f9c7b6d-bbbbb", 8080)
            ],
            "only ready pods, on the named target port"
        );
        assert_eq!(
            source.targets[1].backends,
            Backends::None {
                cluster_ip: "10.97.0.20".into(),
                port: 80
            }
        );
        assert!(
            load_source(&r, 60.0, &pods, &services).is_none(),
            "a runner whose time is up sends nothing"
        );

        let mut cursor = LoadCursor::default();
        let flows = load_flows(&mut cursor, &[source], 0, 2000);
        assert_eq!(flows.len(), 30, "30 VUs × 0.5 flows/s × 2 s");
        let forwarded: Vec<&pb::Flow> = flows
            .iter()
            .filter(|f| f.verdict == pb::Verdict::Forwarded as i32)
            .collect();
        assert_eq!(forwarded.len(), 15, "URLs alternate as in a k6 iteration");
        let f = forwarded[0];
        assert_eq!(f.r#type, pb::FlowType::L7 as i32);
        let src = f.source.as_ref().expect("source");
        assert_eq!(
            (src.namespace.as_str(), src.pod_name.as_str()),
            ("tart-loadtest", "lt-light-abc12-x7k2p")
        );
        assert_eq!(f.node_name, "dev-worker1");
        match f.l7.as_ref().and_then(|l| l.record.as_ref()) {
            Some(pb::layer7::Record::Http(h)) => {
                assert_eq!(
                    (h.code, h.method.as_str(), h.url.as_str()),
                    (200, "GET", NGINX_URL)
                );
            }
            other => panic!("not HTTP: {other:?}"),
        }
        assert_eq!(
            f.l7.as_ref().map(|l| l.latency_ns),
            Some(0),
            "no invented latency"
        );
        let per_backend = |pod: &str| {
            forwarded
                .iter()
                .filter(|f| f.destination.as_ref().is_some_and(|d| d.pod_name == pod))
                .count()
        };
        assert_eq!(
            (
                per_backend("nginx-web-5d8f9c7b6d-aaaaa"),
                per_backend("nginx-web-5d8f9c7b6d-bbbbb")
            ),
            (8, 7),
            "round robin over the ready pods"
        );

        let dropped = flows
            .iter()
            .find(|f| f.verdict == pb::Verdict::Dropped as i32)
            .expect("dropped");
        assert_eq!(dropped.drop_reason_desc, SERVICE_BACKEND_NOT_FOUND);
        let dst = dropped.destination.as_ref().expect("destination");
        assert_eq!((dst.identity, dst.namespace.as_str()), (WORLD_IDENTITY, ""));
        assert_eq!(
            dropped.ip.as_ref().map(|i| i.destination.as_str()),
            Some("10.97.0.20")
        );
        assert_eq!(
            dropped
                .destination_service
                .as_ref()
                .map(|s| (s.namespace.as_str(), s.name.as_str())),
            Some(("demo", "httpbin"))
        );
        assert!(dropped.l7.is_none(), "dropped before any proxy saw HTTP");
        let times: Vec<i64> = flows
            .iter()
            .filter_map(|f| {
                f.time
                    .map(|t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]) && times[0] > 0 && times[29] < 2000);
    }

    #[test]
    fn the_load_rate_is_proportional_to_vus_and_capped_per_cluster() {
        assert_eq!(load_rate(0.0), 0.0);
        assert_eq!(load_rate(10.0), 5.0);
        assert_eq!(load_rate(30.0), MAX_LOAD_FLOWS_PER_SECOND);
        assert_eq!(load_rate(200.0), MAX_LOAD_FLOWS_PER_SECOND);
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            runner_pod(),
        ];
        let services = vec![service("nginx-web", "{app: nginx-web}", "http")];
        let heavy = load_source(&runner(200, &[NGINX_URL]), 5.0, &pods, &services).expect("source");
        let mut light = heavy.clone();
        light.vus = 100.0;
        light.pod.pod = "lt-other-x".into();
        let mut cursor = LoadCursor::default();
        let flows = load_flows(&mut cursor, &[heavy, light], 0, 10_000);
        assert_eq!(
            flows.len(),
            150,
            "two runners share the cap: 15 flows/s × 10 s"
        );
        let heavy_flows = flows
            .iter()
            .filter(|f| {
                f.source
                    .as_ref()
                    .is_some_and(|s| s.pod_name == "lt-light-abc12-x7k2p")
            })
            .count();
        assert_eq!(heavy_flows, 100, "shared by VUs");
    }

    #[test]
    fn fractions_of_a_flow_carry_over_between_steps() {
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            runner_pod(),
        ];
        let services = vec![service("nginx-web", "{app: nginx-web}", "http")];
        let source = load_source(&runner(3, &[NGINX_URL]), 1.0, &pods, &services).expect("source");
        let mut cursor = LoadCursor::default();
        // 1.5 flows/s in steps of 250 ms: 0.375 per step.
        let total: usize = (0..24)
            .map(|i| {
                load_flows(
                    &mut cursor,
                    std::slice::from_ref(&source),
                    i * 250,
                    (i + 1) * 250,
                )
                .len()
            })
            .sum();
        assert_eq!(total, 9, "1.5 flows/s over 6 s");
        assert!(load_flows(&mut cursor, &[], 6000, 7000).is_empty());
        assert!(
            cursor.owed.is_empty(),
            "a gone runner's fraction is dropped"
        );
    }
}
