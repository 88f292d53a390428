//! Flows as the traffic view shows them, and their aggregation into service-to-service
//! edges (seed inventory §6.3, §7.4), as pure functions.
//!
//! Flows come from Hubble Relay over gRPC ([`super::hubble`]) and, in tests and tools, as
//! `hubble observe -o json` lines; both become a [`FlowRecord`] first. Flows the local lab's
//! simulated relay made up carry [`pb::SIMULATED_NODE_LABEL`] and are shown as simulated.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::hubble_api as pb;
use crate::model::{EdgeView, FlowView, PeerView};

/// A flow in Hubble's JSON shape (proto field names).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct FlowRecord {
    /// RFC 3339.
    pub time: Option<String>,
    /// FORWARDED, DROPPED, ...
    pub verdict: String,
    /// Addresses.
    #[serde(rename = "IP")]
    pub ip: Option<IpRecord>,
    /// Layer 4.
    pub l4: Option<L4Record>,
    /// Sender.
    pub source: Option<EndpointRecord>,
    /// Receiver.
    pub destination: Option<EndpointRecord>,
    /// Observing node.
    pub node_name: String,
    /// The observing node's labels, `key=value`.
    pub node_labels: Vec<String>,
    /// Layer 7.
    pub l7: Option<L7Record>,
}

/// IP addresses.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpRecord {
    /// Source address.
    pub source: String,
    /// Destination address.
    pub destination: String,
}

/// Ports.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Ports {
    /// Destination port.
    pub destination_port: u32,
}

/// Layer 4: one of the protocols.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct L4Record {
    /// TCP.
    #[serde(rename = "TCP")]
    pub tcp: Option<Ports>,
    /// UDP.
    #[serde(rename = "UDP")]
    pub udp: Option<Ports>,
    /// SCTP.
    #[serde(rename = "SCTP")]
    pub sctp: Option<Ports>,
    /// ICMPv4.
    #[serde(rename = "ICMPv4")]
    pub icmpv4: Option<serde_json::Value>,
    /// ICMPv6.
    #[serde(rename = "ICMPv6")]
    pub icmpv6: Option<serde_json::Value>,
}

/// A workload of an endpoint.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WorkloadRecord {
    /// Its name, e.g. the Deployment's.
    pub name: String,
}

/// One side of a flow.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointRecord {
    /// Security identity.
    pub identity: u32,
    /// Namespace (empty for reserved identities).
    pub namespace: String,
    /// Pod name.
    pub pod_name: String,
    /// Workloads.
    pub workloads: Vec<WorkloadRecord>,
}

/// Layer 7.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct L7Record {
    /// HTTP.
    pub http: Option<HttpRecord>,
    /// DNS.
    pub dns: Option<DnsRecord>,
    /// Kafka.
    pub kafka: Option<serde_json::Value>,
}

/// HTTP details.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HttpRecord {
    /// Status code.
    pub code: u32,
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
}

/// DNS details.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DnsRecord {
    /// Query.
    pub query: String,
}

#[derive(Deserialize)]
struct ObserveLine {
    flow: Option<FlowRecord>,
}

/// Parses `hubble observe -o json` output: one `{"flow": …}` object per line; other lines
/// (lost events, node status, noise) are skipped.
pub fn parse_observe_json(text: &str) -> Vec<FlowRecord> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<ObserveLine>(l).ok()?.flow)
        .collect()
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A gRPC flow as a record.
pub fn record_from_proto(f: &pb::Flow) -> FlowRecord {
    let endpoint = |e: &Option<pb::Endpoint>| {
        e.as_ref().map(|e| EndpointRecord {
            identity: e.identity,
            namespace: e.namespace.clone(),
            pod_name: e.pod_name.clone(),
            workloads: e
                .workloads
                .iter()
                .map(|w| WorkloadRecord {
                    name: w.name.clone(),
                })
                .collect(),
        })
    };
    let ports = |p: u32| {
        Some(Ports {
            destination_port: p,
        })
    };
    let l4 = f.l4.as_ref().and_then(|l| l.protocol.as_ref()).map(|p| {
        use pb::layer4::Protocol;
        let mut r = L4Record::default();
        match p {
            Protocol::Tcp(t) => r.tcp = ports(t.destination_port),
            Protocol::Udp(u) => r.udp = ports(u.destination_port),
            Protocol::Sctp(s) => r.sctp = ports(s.destination_port),
            Protocol::IcmPv4(_) => r.icmpv4 = Some(serde_json::Value::Null),
            Protocol::IcmPv6(_) => r.icmpv6 = Some(serde_json::Value::Null),
        }
        r
    });
    let l7 = f.l7.as_ref().and_then(|l| l.record.as_ref()).map(|r| {
        use pb::layer7::Record;
        let mut out = L7Record::default();
        match r {
            Record::Http(h) => {
                out.http = Some(HttpRecord {
                    code: h.code,
                    method: h.method.clone(),
                    url: h.url.clone(),
                })
            }
            Record::Dns(d) => {
                out.dns = Some(DnsRecord {
                    query: d.query.clone(),
                })
            }
            Record::Kafka(_) => out.kafka = Some(serde_json::Value::Null),
        }
        out
    });
    FlowRecord {
        time: f.time.as_ref().and_then(|t| {
            k8s_openapi::jiff::Timestamp::new(t.seconds, t.nanos)
                .ok()
                .map(|t| t.to_string())
        }),
        verdict: pb::Verdict::try_from(f.verdict).map_or_else(
            |_| "VERDICT_UNKNOWN".to_owned(),
            |v| v.as_str_name().to_owned(),
        ),
        ip: f.ip.as_ref().map(|ip| IpRecord {
            source: ip.source.clone(),
            destination: ip.destination.clone(),
        }),
        l4,
        source: endpoint(&f.source),
        destination: endpoint(&f.destination),
        node_name: f.node_name.clone(),
        node_labels: f.node_labels.clone(),
        l7,
    }
}

/// The name of a Cilium reserved identity.
pub fn reserved_identity(identity: u32) -> String {
    match identity {
        1 => "host".into(),
        2 => "world".into(),
        3 => "unmanaged".into(),
        4 => "health".into(),
        5 => "init".into(),
        6 => "kube-apiserver".into(),
        7 => "remote-node".into(),
        8 => "ingress".into(),
        n => format!("id:{n}"),
    }
}

fn alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A pod name without the suffixes its controller added: `web-5d8f9c7b6d-x2x9q` → `web`
/// (ReplicaSet hash and pod suffix), else a trailing 7-10 digit hex hash.
pub fn strip_pod_suffix(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    if parts.len() >= 3 {
        let (hash, suffix) = (parts[parts.len() - 2], parts[parts.len() - 1]);
        if (8..=10).contains(&hash.len())
            && alnum(hash)
            && (4..=5).contains(&suffix.len())
            && alnum(suffix)
        {
            return parts[..parts.len() - 2].join("-");
        }
    }
    if parts.len() >= 2 {
        let last = parts[parts.len() - 1];
        if (7..=10).contains(&last.len())
            && last
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return parts[..parts.len() - 1].join("-");
        }
    }
    pod.to_owned()
}

fn peer(e: Option<&EndpointRecord>, ip: Option<&str>) -> PeerView {
    let e = e.cloned().unwrap_or_default();
    let ip = ip.and_then(opt);
    if e.namespace.is_empty() {
        return PeerView {
            namespace: "cluster".into(),
            service: reserved_identity(e.identity),
            pod: None,
            identity: e.identity,
            ip,
        };
    }
    let service = match (e.workloads.first(), e.pod_name.as_str()) {
        (Some(w), _) if !w.name.is_empty() => w.name.clone(),
        (_, "") => "unknown".into(),
        (_, pod) => strip_pod_suffix(pod),
    };
    PeerView {
        namespace: e.namespace,
        service,
        pod: opt(&e.pod_name),
        identity: e.identity,
        ip,
    }
}

/// A flow as the API shows it.
pub fn flow_view(r: &FlowRecord) -> FlowView {
    let verdict = match r.verdict.as_str() {
        "DROPPED" => "DROPPED",
        "ERROR" => "ERROR",
        _ => "FORWARDED",
    };
    let l4 = r.l4.clone().unwrap_or_default();
    let (protocol, port) = if let Some(p) = &l4.tcp {
        ("TCP", Some(p.destination_port))
    } else if let Some(p) = &l4.udp {
        ("UDP", Some(p.destination_port))
    } else if let Some(p) = &l4.sctp {
        ("SCTP", Some(p.destination_port))
    } else if l4.icmpv4.is_some() || l4.icmpv6.is_some() {
        ("ICMP", None)
    } else {
        ("UNKNOWN", None)
    };
    let l7 = r.l7.clone().unwrap_or_default();
    let ip = r.ip.clone().unwrap_or_default();
    FlowView {
        time: r.time.clone(),
        node: r.node_name.clone(),
        verdict: verdict.into(),
        source: peer(r.source.as_ref(), Some(&ip.source)),
        destination: peer(r.destination.as_ref(), Some(&ip.destination)),
        protocol: protocol.into(),
        port,
        l7: if l7.http.is_some() {
            Some("HTTP".into())
        } else if l7.dns.is_some() {
            Some("DNS".into())
        } else if l7.kafka.is_some() {
            Some("Kafka".into())
        } else {
            None
        },
        http_status: l7.http.as_ref().map(|h| h.code).filter(|c| *c != 0),
        http_method: l7.http.as_ref().and_then(|h| opt(&h.method)),
        http_url: l7.http.as_ref().and_then(|h| opt(&h.url)),
        dns_query: l7.dns.as_ref().and_then(|d| opt(&d.query)),
        simulated: pb::is_simulated(&r.node_labels),
    }
}

/// Aggregates flows by service pair, busiest first; self-edges are left out.
pub fn edges(flows: &[FlowView]) -> Vec<EdgeView> {
    let mut by_pair: BTreeMap<(String, String), (EdgeView, BTreeSet<String>)> = BTreeMap::new();
    for f in flows {
        let src = format!("{}/{}", f.source.namespace, f.source.service);
        let dst = format!("{}/{}", f.destination.namespace, f.destination.service);
        if src == dst {
            continue;
        }
        let (edge, protocols) = by_pair
            .entry((src.clone(), dst.clone()))
            .or_insert_with(|| {
                (
                    EdgeView {
                        source: src,
                        destination: dst,
                        source_namespace: f.source.namespace.clone(),
                        destination_namespace: f.destination.namespace.clone(),
                        ..EdgeView::default()
                    },
                    BTreeSet::new(),
                )
            });
        edge.flow_count += 1;
        match f.verdict.as_str() {
            "FORWARDED" => edge.forwarded_count += 1,
            "DROPPED" => edge.dropped_count += 1,
            _ => {}
        }
        protocols.insert(match &f.l7 {
            Some(l7) => format!("{}/{l7}", f.protocol),
            None => f.protocol.clone(),
        });
    }
    let mut out: Vec<EdgeView> = by_pair
        .into_values()
        .map(|(mut e, p)| {
            e.protocols = p.into_iter().collect();
            e
        })
        .collect();
    out.sort_by(|a, b| {
        b.flow_count
            .cmp(&a.flow_count)
            .then_with(|| (&a.source, &a.destination).cmp(&(&b.source, &b.destination)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the shape `hubble observe -o json` prints (Cilium 1.16), trimmed to the fields
    /// that matter here, plus a lost-events line and noise.
    const OBSERVE: &str = r#"{"flow":{"time":"2026-11-28T10:00:01.123456789Z","uuid":"0b9d","verdict":"FORWARDED","ethernet":{"source":"aa","destination":"bb"},"IP":{"source":"10.20.1.15","destination":"10.20.1.7","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":43210,"destination_port":80,"flags":{"SYN":true}}},"source":{"ID":1290,"identity":52107,"namespace":"tart-loadtest","labels":["k8s:app.kubernetes.io/name=tart-loadtest"],"pod_name":"lt-light-load-x7k2p-3f9a1c2b7e-4kq2z"},"destination":{"ID":877,"identity":40001,"namespace":"demo","labels":["k8s:app=nginx-web"],"pod_name":"nginx-web-5d8f9c7b6d-x2x9q","workloads":[{"name":"nginx-web","kind":"Deployment"}]},"Type":"L3_L4","node_name":"dev-worker1","event_type":{"type":4},"traffic_direction":"INGRESS","is_reply":false,"Summary":"TCP Flags: SYN"},"node_name":"dev-worker1","time":"2026-11-28T10:00:01.123456789Z"}
{"flow":{"time":"2026-11-28T10:00:01.2Z","verdict":"FORWARDED","IP":{"source":"10.20.1.7","destination":"10.20.1.9"},"l4":{"TCP":{"source_port":51000,"destination_port":80}},"source":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-x2x9q"},"destination":{"identity":40002,"namespace":"demo","pod_name":"httpbin-7b9c5f6d8-qw3er"},"Type":"L7","node_name":"dev-worker1","l7":{"type":"REQUEST","http":{"method":"GET","url":"http://httpbin.demo/get","protocol":"HTTP/1.1"}}},"node_name":"dev-worker1"}
{"flow":{"time":"2026-11-28T10:00:01.3Z","verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","IP":{"source":"10.20.1.15","destination":"10.20.1.9"},"l4":{"TCP":{"source_port":43999,"destination_port":80}},"source":{"identity":52107,"namespace":"tart-loadtest","pod_name":"lt-httpbin-api-q2-9c1d2e3f4a-zz9kp"},"destination":{"identity":40002,"namespace":"demo","pod_name":"httpbin-7b9c5f6d8-qw3er"},"node_name":"dev-worker1"},"node_name":"dev-worker1"}
{"flow":{"time":"2026-11-28T10:00:01.4Z","verdict":"FORWARDED","IP":{"source":"10.20.1.7","destination":"10.97.0.10"},"l4":{"UDP":{"source_port":53531,"destination_port":53}},"source":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-x2x9q"},"destination":{"identity":102,"namespace":"kube-system","pod_name":"coredns-6f6b679f8f-7xk2d","workloads":[{"name":"coredns","kind":"Deployment"}]},"l7":{"type":"REQUEST","dns":{"query":"httpbin.demo.svc.cluster.local."}},"node_name":"dev-worker1"},"node_name":"dev-worker1"}
{"flow":{"time":"2026-11-28T10:00:01.5Z","verdict":"FORWARDED","IP":{"source":"192.168.64.2","destination":"10.20.1.7"},"l4":{"ICMPv4":{"type":8}},"source":{"identity":1},"destination":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-x2x9q"},"node_name":"dev-worker1"},"node_name":"dev-worker1"}
{"flow":{"time":"2026-11-28T10:00:01.6Z","verdict":"ERROR","IP":{"source":"10.20.1.15","destination":"10.20.1.7"},"l4":{"TCP":{"destination_port":80}},"source":{"identity":52107,"namespace":"tart-loadtest","pod_name":"lt-light-load-x7k2p-3f9a1c2b7e-4kq2z"},"destination":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-abcde"},"node_name":"dev-worker1"},"node_name":"dev-worker1"}
{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"3"},"node_name":"dev-worker1"}
not json at all
{"flow":{"time":"2026-11-28T10:00:01.7Z","verdict":"FORWARDED","l4":{"TCP":{"destination_port":80}},"source":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-x2x9q"},"destination":{"identity":40001,"namespace":"demo","pod_name":"nginx-web-5d8f9c7b6d-x2x9q"},"node_name":"dev-worker1"},"node_name":"dev-worker1"}
"#;

    #[test]
    fn observe_json_lines_parse_and_noise_is_skipped() {
        let records = parse_observe_json(OBSERVE);
        assert_eq!(records.len(), 7, "lost events and noise are skipped");
        assert_eq!(records[0].node_name, "dev-worker1");
    }

    #[test]
    fn flows_name_services_protocols_and_verdicts() {
        let flows: Vec<FlowView> = parse_observe_json(OBSERVE).iter().map(flow_view).collect();
        let f = &flows[0];
        assert_eq!(
            (f.source.namespace.as_str(), f.source.service.as_str()),
            ("tart-loadtest", "lt-light-load-x7k2p")
        );
        assert_eq!(f.destination.service, "nginx-web", "the workload name wins");
        assert_eq!(
            (f.protocol.as_str(), f.port, f.verdict.as_str()),
            ("TCP", Some(80), "FORWARDED")
        );
        assert_eq!(flows[1].destination.service, "httpbin");
        assert_eq!(
            (flows[1].l7.as_deref(), flows[1].http_method.as_deref()),
            (Some("HTTP"), Some("GET"))
        );
        assert_eq!(flows[2].verdict, "DROPPED");
        assert_eq!(
            (flows[3].protocol.as_str(), flows[3].l7.as_deref()),
            ("UDP", Some("DNS"))
        );
        assert_eq!(
            flows[3].dns_query.as_deref(),
            Some("httpbin.demo.svc.cluster.local.")
        );
        assert_eq!(
            (
                flows[4].source.namespace.as_str(),
                flows[4].source.service.as_str()
            ),
            ("cluster", "host")
        );
        assert_eq!((flows[4].protocol.as_str(), flows[4].port), ("ICMP", None));
        assert_eq!(flows[5].verdict, "ERROR");
    }

    #[test]
    fn edges_aggregate_by_service_and_count_verdicts() {
        let flows: Vec<FlowView> = parse_observe_json(OBSERVE).iter().map(flow_view).collect();
        let e = edges(&flows);
        let load = e
            .iter()
            .find(|e| {
                e.source == "tart-loadtest/lt-light-load-x7k2p" && e.destination == "demo/nginx-web"
            })
            .expect("edge");
        assert_eq!(
            (load.flow_count, load.forwarded_count, load.dropped_count),
            (2, 1, 0),
            "ERROR counts in neither"
        );
        let denied = e
            .iter()
            .find(|e| e.destination == "demo/httpbin" && e.source.starts_with("tart-loadtest"))
            .expect("edge");
        assert_eq!(denied.dropped_count, 1);
        let http = e
            .iter()
            .find(|e| e.source == "demo/nginx-web" && e.destination == "demo/httpbin")
            .expect("edge");
        assert_eq!(http.protocols, ["TCP/HTTP"]);
        assert!(
            e.iter().all(|e| e.source != e.destination),
            "self-edges are left out"
        );
        assert_eq!(e[0].flow_count, 2, "busiest first");
    }

    #[test]
    fn pod_suffixes_are_stripped_like_the_original() {
        assert_eq!(strip_pod_suffix("nginx-web-5d8f9c7b6d-x2x9q"), "nginx-web");
        assert_eq!(strip_pod_suffix("httpbin-7b9c5f6d8-qw3er"), "httpbin");
        assert_eq!(strip_pod_suffix("job-runner-a1b2c3d4e"), "job-runner");
        assert_eq!(strip_pod_suffix("redis-0"), "redis-0");
        assert_eq!(strip_pod_suffix("keycloak"), "keycloak");
        assert_eq!(reserved_identity(2), "world");
        assert_eq!(reserved_identity(9999), "id:9999");
    }

    #[test]
    fn only_flows_marked_by_the_lab_are_simulated() {
        let real: Vec<FlowView> = parse_observe_json(OBSERVE).iter().map(flow_view).collect();
        assert!(real.iter().all(|f| !f.simulated), "Cilium's own flows");
        let labelled = r#"{"flow":{"verdict":"FORWARDED","node_name":"n1","node_labels":["kubernetes.io/hostname=n1","tartinfra.dev/simulated=true"]}}
{"flow":{"verdict":"FORWARDED","node_name":"n1","node_labels":["kubernetes.io/hostname=n1","tartinfra.dev/simulated=false"]}}"#;
        let flows: Vec<FlowView> = parse_observe_json(labelled).iter().map(flow_view).collect();
        assert_eq!(
            flows.iter().map(|f| f.simulated).collect::<Vec<_>>(),
            [true, false]
        );
        let mut flow = pb::Flow {
            node_name: "n1".into(),
            node_labels: vec!["kubernetes.io/hostname=n1".into()],
            ..Default::default()
        };
        assert!(!flow_view(&record_from_proto(&flow)).simulated);
        flow.node_labels.push(pb::SIMULATED_NODE_LABEL.into());
        let view = flow_view(&record_from_proto(&flow));
        assert!(view.simulated);
        assert_eq!(view.node, "n1", "the rest of the flow reads as before");
    }

    #[test]
    fn grpc_flows_become_the_same_records() {
        let flow = pb::Flow {
            verdict: pb::Verdict::Dropped as i32,
            node_name: "n1".into(),
            l4: Some(pb::Layer4 {
                protocol: Some(pb::layer4::Protocol::Udp(pb::Udp {
                    source_port: 1,
                    destination_port: 53,
                })),
            }),
            source: Some(pb::Endpoint {
                identity: 2,
                ..Default::default()
            }),
            destination: Some(pb::Endpoint {
                identity: 7,
                namespace: "kube-system".into(),
                pod_name: "coredns-6f6b679f8f-7xk2d".into(),
                ..Default::default()
            }),
            time: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let v = flow_view(&record_from_proto(&flow));
        assert_eq!(
            (v.verdict.as_str(), v.protocol.as_str(), v.port),
            ("DROPPED", "UDP", Some(53))
        );
        assert_eq!(
            (v.source.service.as_str(), v.destination.service.as_str()),
            ("world", "coredns")
        );
        assert!(v.time.is_some_and(|t| t.starts_with("2027-01-15")));
    }
}
