//! The kubelet's probes: which Running pods are probed on which port, when, and the flow
//! each probe gives (from Cilium's reserved `host` identity).

use hubble_api as pb;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::peer::{Peer, reserved};
use super::{HOST_IDENTITY, fnv, source_port, tcp, timestamp};

/// The kubelet's default probe period.
const DEFAULT_PERIOD_SECONDS: i32 = 10;

fn running(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// A container port by number or name.
pub(super) fn container_port(port: &IntOrString, container: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok().filter(|p| *p > 0),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

fn probe_port(probe: &Probe, container: &Container) -> Option<u16> {
    if let Some(http) = &probe.http_get {
        return container_port(&http.port, container);
    }
    if let Some(tcp) = &probe.tcp_socket {
        return container_port(&tcp.port, container);
    }
    probe.grpc.as_ref().and_then(|g| u16::try_from(g.port).ok())
}

/// One probe the kubelet runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTarget {
    /// The probed pod.
    pub pod: Peer,
    /// The port.
    pub port: u16,
    /// Milliseconds between probes.
    pub period_ms: i64,
    /// When in the period it fires (the kubelet starts each probe worker at its own time).
    pub phase_ms: i64,
}

/// The readiness and liveness probes with a port of every Running pod.
pub fn probe_targets(pods: &[Pod]) -> Vec<ProbeTarget> {
    let mut out = Vec::new();
    for pod in pods.iter().filter(|p| running(p)) {
        let (Some(peer), Some(spec)) = (Peer::of(pod), pod.spec.as_ref()) else {
            continue;
        };
        for c in &spec.containers {
            let probes = [
                ("readiness", &c.readiness_probe),
                ("liveness", &c.liveness_probe),
            ];
            for (kind, probe) in probes {
                let Some(probe) = probe else { continue };
                let Some(port) = probe_port(probe, c) else {
                    continue;
                };
                let period_ms = i64::from(
                    probe
                        .period_seconds
                        .unwrap_or(DEFAULT_PERIOD_SECONDS)
                        .max(1),
                ) * 1000;
                let key = fnv(&[&peer.namespace, &peer.pod, &c.name, kind]);
                out.push(ProbeTarget {
                    pod: peer.clone(),
                    port,
                    period_ms,
                    phase_ms: (key % period_ms as u64) as i64,
                });
            }
        }
    }
    out
}

/// When a probe fires in `(from_ms, to_ms]` (milliseconds since the epoch).
pub fn probe_times(target: &ProbeTarget, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let first = (from_ms - target.phase_ms).div_euclid(target.period_ms) + 1;
    (first..)
        .map(|k| target.phase_ms + k * target.period_ms)
        .take_while(|t| *t <= to_ms)
        .collect()
}

/// The flow of one probe.
pub fn probe_flow(target: &ProbeTarget, at_ms: i64) -> pb::Flow {
    let pod = &target.pod;
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Forwarded as i32,
        ip: Some(pb::Ip {
            source: pod.host_ip.clone(),
            destination: pod.ip.clone(),
        }),
        l4: tcp(
            source_port(&[&pod.node, &pod.pod], at_ms),
            u32::from(target.port),
        ),
        source: Some(reserved(HOST_IDENTITY, "host")),
        destination: Some(pod.endpoint()),
        r#type: pb::FlowType::L3L4 as i32,
        node_name: pod.node.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::traffic_model::fixtures::{nginx, redis};

    #[test]
    fn probes_with_a_port_come_from_the_host_to_the_resolved_port() {
        let mut pending = nginx("nginx-web-5d8f9c7b6d-ccccc", "10.20.1.7");
        pending.status.as_mut().expect("status").phase = Some("Pending".into());
        let targets = probe_targets(&[
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            redis(),
            pending,
        ]);
        let summary: Vec<(&str, u16, i64)> = targets
            .iter()
            .map(|t| (t.pod.pod.as_str(), t.port, t.period_ms))
            .collect();
        assert_eq!(
            summary,
            [
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080, 5000),
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080, 10000),
                ("redis-0", 6379, 10000),
            ],
            "named ports resolve, exec probes and pods not Running have no flows, the default period is 10 s"
        );
        let flow = probe_flow(&targets[0], 1_800_000_000_250);
        let src = flow.source.as_ref().expect("source");
        assert_eq!(
            (src.identity, src.namespace.as_str(), src.pod_name.as_str()),
            (HOST_IDENTITY, "", ""),
            "the kubelet is Cilium's reserved host identity"
        );
        assert_eq!(src.labels, ["reserved:host"]);
        let dst = flow.destination.as_ref().expect("destination");
        assert_eq!(
            (dst.namespace.as_str(), dst.pod_name.as_str()),
            ("demo", "nginx-web-5d8f9c7b6d-aaaaa")
        );
        assert_eq!(flow.verdict, pb::Verdict::Forwarded as i32);
        assert_eq!(flow.r#type, pb::FlowType::L3L4 as i32);
        assert_eq!(flow.node_name, "dev-worker1");
        let ip = flow.ip.as_ref().expect("ip");
        assert_eq!(
            (ip.source.as_str(), ip.destination.as_str()),
            ("192.168.1.11", "10.20.1.5")
        );
        match flow.l4.and_then(|l| l.protocol) {
            Some(pb::layer4::Protocol::Tcp(t)) => {
                assert_eq!(t.destination_port, 8080);
                assert!((32768..61000).contains(&t.source_port));
            }
            other => panic!("not TCP: {other:?}"),
        }
        assert_eq!(
            flow.time,
            Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 250_000_000
            })
        );
    }

    #[test]
    fn a_probe_fires_once_per_period_at_its_own_phase() {
        let target = ProbeTarget {
            pod: Peer::default(),
            port: 80,
            period_ms: 5000,
            phase_ms: 1200,
        };
        assert_eq!(
            probe_times(&target, 0, 20_000),
            [1200, 6200, 11_200, 16_200]
        );
        assert_eq!(
            probe_times(&target, 1200, 6199),
            Vec::<i64>::new(),
            "the start is excluded"
        );
        assert_eq!(
            probe_times(&target, 1200, 6200),
            [6200],
            "the end is included"
        );
        // Consecutive steps cover every firing exactly once.
        let joined: Vec<i64> = [(0, 3000), (3000, 9000), (9000, 20_000)]
            .iter()
            .flat_map(|(a, b)| probe_times(&target, *a, *b))
            .collect();
        assert_eq!(joined, probe_times(&target, 0, 20_000));
        // Phases spread the probes of different pods over the period.
        let pods: Vec<Pod> = (0..5)
            .map(|i| nginx(&format!("nginx-web-5d8f9c7b6d-p{i:04}"), "10.20.1.5"))
            .collect();
        let phases: std::collections::BTreeSet<i64> =
            probe_targets(&pods).iter().map(|t| t.phase_ms).collect();
        assert!(phases.len() > 5, "{phases:?}");
    }
}
