//! The lab's simulated Hubble flows (pure). A lab cluster has no Cilium, so the simulated
//! Hubble Relay ([`super::hubble`]) shows the traffic the lab itself plays, built from the
//! cluster's objects as the load simulator last saw them ([`Observed`]):
//!
//! - **Probes.** The kubelet probes every Running pod's readiness and liveness probes that
//!   name a port (HTTP, TCP or gRPC; exec probes use no network) once per `periodSeconds`
//!   (default 10): a TCP flow from Cilium's reserved identity `host` (1) to the pod's
//!   resolved port, FORWARDED, observed on the pod's node. kwok marks the pods Ready as if
//!   these probes passed. Startup probes are left out (they stop once a container started).
//! - **Load.** While a k6 runner runs, its requests go to the ready pods behind the Service
//!   each of its URLs names, as in the load model ([`super::load_model`]): the same runners,
//!   parameters, VUs over time, Services and ready pods. A flow is an HTTP request (L7, the
//!   runner's method, the URL, status 200; latency left at 0, nothing measured it) from the
//!   runner pod to one backend pod (round robin) on the Service's target port, observed on
//!   the backend's node. The flows are a *sample*: [`FLOWS_PER_VU_SECOND`] per VU, at most
//!   [`MAX_LOAD_FLOWS_PER_SECOND`] per cluster, shared by the runners by VUs, so the
//!   operator's 200-flow window still shows the probes beside the load.
//! - **No backend.** A URL whose Service exists, has a cluster IP and has no ready pod gives
//!   DROPPED flows to that cluster IP (reserved identity `world`, as Hubble shows an address
//!   that is no endpoint) with drop reason SERVICE_BACKEND_NOT_FOUND (158), which is what
//!   Cilium's kube-proxy replacement reports for a Service without backends. URLs naming no
//!   Service of the cluster give no flows (the DNS lookup would fail first; the lab has no
//!   DNS server to show that).
//!
//! Security identities are a stand-in for Cilium's allocation: a number in Cilium's
//! cluster-local range, equal for pods with the same namespace and identity labels.

mod load;
mod peer;
mod probes;
mod targets;

#[cfg(test)]
mod fixtures;

use hubble_api as pb;
use k8s_openapi::jiff::Timestamp;

use load::{LoadCursor, load_flows};
use probes::{probe_flow, probe_targets, probe_times};
use targets::{LoadSource, load_source};

use super::simulator::Observed;

/// Cilium's reserved identity of the node itself (the kubelet).
pub const HOST_IDENTITY: u32 = 1;
/// Cilium's reserved identity of anything outside the cluster's endpoints.
pub const WORLD_IDENTITY: u32 = 2;
/// Cilium's drop reason "Service backend not found".
pub const SERVICE_BACKEND_NOT_FOUND: i32 = 158;
/// Sampled load flows per virtual user per second.
pub const FLOWS_PER_VU_SECOND: f64 = 0.5;
/// At most this many load flows per second per cluster.
pub const MAX_LOAD_FLOWS_PER_SECOND: f64 = 15.0;
/// The longest gap one step fills; after a stall the flows resume instead of bursting.
const MAX_STEP_MS: i64 = 5_000;

/// FNV-1a: stable across runs and Rust versions, unlike std's hasher.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Milliseconds since the epoch as a protobuf timestamp.
fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A client's ephemeral port, stable for the same flow.
fn source_port(parts: &[&str], at_ms: i64) -> u32 {
    let at = at_ms.to_string();
    let mut all = parts.to_vec();
    all.push(&at);
    32768 + (fnv(&all) % 28232) as u32
}

fn tcp(source_port: u32, destination_port: u32) -> Option<pb::Layer4> {
    Some(pb::Layer4 {
        protocol: Some(pb::layer4::Protocol::Tcp(pb::Tcp {
            source_port,
            destination_port,
        })),
    })
}

/// The flows of one cluster over time: each [`Flows::step`] gives those since the last one.
#[derive(Debug, Default)]
pub struct Flows {
    load: LoadCursor,
    last_ms: Option<i64>,
}

impl Flows {
    /// The flows of the cluster `observed` describes between the last step and `now`,
    /// oldest first (none on the first step: it only sets the start).
    pub fn step(&mut self, observed: &Observed, now: Timestamp) -> Vec<pb::Flow> {
        let to = now.as_millisecond();
        let Some(last) = self.last_ms.replace(to) else {
            return Vec::new();
        };
        let from = last.max(to - MAX_STEP_MS);
        if to <= from {
            return Vec::new();
        }
        let mut flows: Vec<pb::Flow> = probe_targets(&observed.pods)
            .iter()
            .flat_map(|t| {
                probe_times(t, from, to)
                    .into_iter()
                    .map(|at| probe_flow(t, at))
            })
            .collect();
        let sources: Vec<LoadSource> = observed
            .runners
            .iter()
            .filter_map(|r| {
                let elapsed = now.duration_since(r.started).as_secs_f64();
                load_source(r, elapsed, &observed.pods, &observed.services)
            })
            .collect();
        flows.extend(load_flows(&mut self.load, &sources, from, to));
        flows.sort_by_key(|f| f.time.map(|t| (t.seconds, t.nanos)));
        flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixtures::{NGINX_URL, nginx, runner, runner_pod, service};

    #[test]
    fn steps_follow_the_observed_cluster() {
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        let secs = |n: u64| now + std::time::Duration::from_secs(n);
        let mut r = runner(30, &[NGINX_URL]);
        r.params.duration_seconds = Some(600);
        r.started = now - std::time::Duration::from_secs(10);
        let observed = Observed {
            pods: vec![
                nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
                runner_pod(),
            ],
            services: vec![service("nginx-web", "{app: nginx-web}", "http")],
            runners: vec![r],
        };
        let from_host = |flows: &[pb::Flow]| {
            flows
                .iter()
                .filter(|f| {
                    f.source
                        .as_ref()
                        .is_some_and(|s| s.identity == HOST_IDENTITY)
                })
                .count()
        };
        let mut flows = Flows::default();
        assert!(
            flows.step(&observed, now).is_empty(),
            "the first step sets the start"
        );
        let out: Vec<pb::Flow> = (1..=4)
            .flat_map(|i| flows.step(&observed, secs(5 * i)))
            .collect();
        assert_eq!(
            from_host(&out),
            6,
            "readiness every 5 s and liveness every 10 s, for 20 s"
        );
        assert_eq!(out.len() - 6, 300, "15 load flows/s for 20 s");
        let after_a_stall = flows.step(&observed, secs(80));
        assert_eq!(
            after_a_stall.len() - from_host(&after_a_stall),
            75,
            "a 60 s gap is filled with 5 s of flows, not a burst"
        );
        assert!(
            after_a_stall
                .windows(2)
                .all(|w| w[0].time.map(|t| (t.seconds, t.nanos))
                    <= w[1].time.map(|t| (t.seconds, t.nanos)))
        );
    }
}
