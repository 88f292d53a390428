//! Pure functions from Kubernetes objects to the API's views: pod status as `kubectl get
//! pods` shows it, nodes with capacity, Services with their endpoints, namespace counts.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::{
    EndpointView, NamespaceCount, NodeView, PodView, ServicePort, ServiceView, Usage,
};

/// A Kubernetes quantity (`100m`, `2Gi`, `1.5`, `12345n`, `1e3`) in base units.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let (number, multiplier) = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ]
    .iter()
    .find_map(|(suffix, m)| q.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((q, 1.0));
    let value: f64 = number.parse().ok()?;
    let v = value * multiplier;
    (v.is_finite() && v >= 0.0).then_some(v)
}

fn millis(q: Option<&Quantity>) -> Option<u64> {
    q.and_then(|q| parse_quantity(&q.0))
        .map(|v| (v * 1000.0).round() as u64)
}

fn units(q: Option<&Quantity>) -> Option<u64> {
    q.and_then(|q| parse_quantity(&q.0))
        .map(|v| v.round() as u64)
}

/// What `kubectl get pods` prints in the STATUS column, following its rules: a deleted pod
/// is Terminating; a failing init container shows `Init:<reason>`; otherwise the last
/// container reason that is set (waiting, or terminated without a running one) wins over the
/// phase.
pub fn pod_status(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut reason = status
        .reason
        .clone()
        .unwrap_or_else(|| status.phase.clone().unwrap_or_else(|| "Unknown".into()));
    let mut initializing = false;
    let init_total = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(0, Vec::len);
    for (i, c) in status.init_container_statuses.iter().flatten().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match &t.reason {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(w) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in status.container_statuses.iter().flatten().rev() {
            let state = c.state.clone().unwrap_or_default();
            if let Some(w) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = w;
            } else if let Some(t) = &state.terminated {
                reason = match &t.reason {
                    Some(r) if !r.is_empty() => r.clone(),
                    _ if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
                    _ => format!("ExitCode:{}", t.exit_code),
                };
            } else if state.running.is_some() && c.ready {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

fn sum_requests(pod: &Pod, resource: &str) -> Option<f64> {
    let containers = &pod.spec.as_ref()?.containers;
    let values: Vec<f64> = containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(resource))
        .filter_map(|q| parse_quantity(&q.0))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// `part` as a percentage of `whole` to one decimal; unknown when `whole` is unknown or 0.
pub fn percent(part: u64, whole: Option<u64>) -> Option<f64> {
    whole
        .filter(|w| *w > 0)
        .map(|w| (part as f64 * 1000.0 / w as f64).round() / 10.0)
}

/// A pod's view; `usage` is (cpu millicores, memory bytes) from the metrics API.
pub fn pod_view(pod: &Pod, usage: Option<(u64, u64)>) -> PodView {
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.container_statuses.clone().unwrap_or_default();
    let total = pod
        .spec
        .as_ref()
        .map_or(containers.len(), |s| s.containers.len());
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let cpu_request = sum_requests(pod, "cpu").map(|v| (v * 1000.0).round() as u64);
    let memory_request = sum_requests(pod, "memory").map(|v| v.round() as u64);
    PodView {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: status.phase.clone().unwrap_or_else(|| "Unknown".into()),
        status: pod_status(pod),
        ready: format!("{}/{total}", containers.iter().filter(|c| c.ready).count()),
        restarts: containers
            .iter()
            .map(|c| c.restart_count.max(0) as u32)
            .sum(),
        created_at: created.map(|t| t.to_string()),
        cpu_request_millis: cpu_request,
        memory_request_bytes: memory_request,
        usage: usage.map(|(cpu, memory)| Usage {
            cpu_millis: cpu,
            memory_bytes: memory,
            cpu_percent: percent(cpu, cpu_request),
            memory_percent: percent(memory, memory_request),
        }),
    }
}

/// A node's view; `usage` as for pods, `pod_count` the pods bound to it.
pub fn node_view(node: &Node, usage: Option<(u64, u64)>, pod_count: usize) -> NodeView {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let mut roles: Vec<String> = labels
        .keys()
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if roles.is_empty() {
        roles.push("worker".into());
    }
    let status = node.status.clone().unwrap_or_default();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready");
    let capacity = status.capacity.clone().unwrap_or_default();
    let allocatable = status.allocatable.clone().unwrap_or_default();
    let cpu_allocatable = millis(allocatable.get("cpu"));
    let memory_allocatable = units(allocatable.get("memory"));
    NodeView {
        name: node.metadata.name.clone().unwrap_or_default(),
        roles,
        status: match ready.map(|c| c.status.as_str()) {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        }
        .into(),
        kubelet_version: status.node_info.as_ref().map(|i| i.kubelet_version.clone()),
        internal_ip: status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone()),
        cpu_capacity_millis: millis(capacity.get("cpu")),
        memory_capacity_bytes: units(capacity.get("memory")),
        cpu_allocatable_millis: cpu_allocatable,
        memory_allocatable_bytes: memory_allocatable,
        pod_capacity: units(capacity.get("pods")),
        pod_count,
        usage: usage.map(|(cpu, memory)| Usage {
            cpu_millis: cpu,
            memory_bytes: memory,
            cpu_percent: percent(cpu, cpu_allocatable),
            memory_percent: percent(memory, memory_allocatable),
        }),
        figures: None,
        figures_missing: None,
    }
}

/// Pods per namespace by state, largest first.
pub fn namespace_counts(pods: &[PodView]) -> Vec<NamespaceCount> {
    let mut by_ns: BTreeMap<&str, NamespaceCount> = BTreeMap::new();
    for p in pods {
        let c = by_ns.entry(&p.namespace).or_insert_with(|| NamespaceCount {
            namespace: p.namespace.clone(),
            ..NamespaceCount::default()
        });
        c.total += 1;
        match p.status.as_str() {
            "Running" | "Completed" | "Succeeded" => c.running += 1,
            s if s == "Pending"
                || s == "ContainerCreating"
                || s == "PodInitializing"
                || s.starts_with("Init:") && !s.contains("Err") && !s.contains("BackOff") =>
            {
                c.pending += 1
            }
            "Terminating" => {}
            s => {
                c.failed += 1;
                c.crash_looping += usize::from(s == "CrashLoopBackOff");
            }
        }
    }
    let mut counts: Vec<NamespaceCount> = by_ns.into_values().collect();
    counts.sort_by(|a, b| {
        b.total
            .cmp(&a.total)
            .then_with(|| a.namespace.cmp(&b.namespace))
    });
    counts
}

/// A Service with the endpoints of its EndpointSlices.
pub fn service_view(service: &Service, slices: &[&EndpointSlice]) -> ServiceView {
    let spec = service.spec.clone().unwrap_or_default();
    let endpoints = slices
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .flat_map(|e| {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let pod = e
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .and_then(|r| r.name.clone());
            e.addresses.iter().map(move |a| EndpointView {
                address: a.clone(),
                ready,
                pod: pod.clone(),
                node: e.node_name.clone(),
            })
        })
        .collect();
    ServiceView {
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        name: service.metadata.name.clone().unwrap_or_default(),
        type_: spec.type_.clone().unwrap_or_else(|| "ClusterIP".into()),
        cluster_ip: spec.cluster_ip.clone(),
        ports: spec
            .ports
            .iter()
            .flatten()
            .map(|p| ServicePort {
                name: p.name.clone(),
                port: p.port,
                target_port: p.target_port.as_ref().map(|t| match t {
                    IntOrString::Int(i) => i.to_string(),
                    IntOrString::String(s) => s.clone(),
                }),
                node_port: p.node_port.filter(|n| *n != 0),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            })
            .collect(),
        endpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    fn with_state(state: serde_json::Value, ready: bool) -> Pod {
        pod(json!({
            "metadata": { "name": "web-7d9f8b6c5d-x2x9q", "namespace": "demo", "creationTimestamp": "2026-11-28T10:00:00Z" },
            "spec": { "nodeName": "dev-worker1", "containers": [{ "name": "web", "resources": { "requests": { "cpu": "50m", "memory": "64Mi" } } }] },
            "status": { "phase": "Running", "containerStatuses": [{ "name": "web", "image": "nginx", "imageID": "", "ready": ready, "restartCount": 7, "state": state }] },
        }))
    }

    #[test]
    fn quantities_parse_in_every_notation() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("64Mi"), Some(67_108_864.0));
        assert_eq!(parse_quantity("1.5Gi"), Some(1_610_612_736.0));
        assert_eq!(
            parse_quantity("12345678n").map(|v| (v * 1000.0).round()),
            Some(12.0)
        );
        assert_eq!(parse_quantity("1k"), Some(1000.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("lots"), None);
        assert_eq!(parse_quantity("-1"), None);
    }

    #[test]
    fn container_reasons_beat_the_phase_as_kubectl_shows_them() {
        let crash = with_state(
            json!({ "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 5m0s" } }),
            false,
        );
        assert_eq!(pod_status(&crash), "CrashLoopBackOff");
        assert_eq!(
            pod_status(&with_state(
                json!({ "waiting": { "reason": "ImagePullBackOff" } }),
                false
            )),
            "ImagePullBackOff"
        );
        assert_eq!(
            pod_status(&with_state(
                json!({ "terminated": { "exitCode": 137, "reason": "OOMKilled" } }),
                false
            )),
            "OOMKilled"
        );
        assert_eq!(
            pod_status(&with_state(
                json!({ "terminated": { "exitCode": 0, "reason": "Completed" } }),
                false
            )),
            "Completed"
        );
        assert_eq!(
            pod_status(&with_state(
                json!({ "terminated": { "exitCode": 3 } }),
                false
            )),
            "ExitCode:3"
        );
        assert_eq!(
            pod_status(&with_state(json!({ "running": {} }), true)),
            "Running"
        );
        let mut deleting = with_state(json!({ "running": {} }), true);
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
        );
        assert_eq!(pod_status(&deleting), "Terminating");
        let init = pod(json!({
            "metadata": { "name": "p" },
            "spec": { "initContainers": [{ "name": "i" }], "containers": [{ "name": "c" }] },
            "status": { "phase": "Pending", "initContainerStatuses": [{ "name": "i", "image": "", "imageID": "", "ready": false, "restartCount": 2,
                        "state": { "waiting": { "reason": "CrashLoopBackOff" } } }] },
        }));
        assert_eq!(pod_status(&init), "Init:CrashLoopBackOff");
    }

    #[test]
    fn a_pod_view_carries_restarts_requests_creation_and_usage() {
        let v = pod_view(
            &with_state(
                json!({ "waiting": { "reason": "CrashLoopBackOff" } }),
                false,
            ),
            Some((25, 32 * 1024 * 1024)),
        );
        assert_eq!(
            (v.status.as_str(), v.ready.as_str(), v.restarts),
            ("CrashLoopBackOff", "0/1", 7)
        );
        assert_eq!(
            (v.cpu_request_millis, v.memory_request_bytes),
            (Some(50), Some(64 * 1024 * 1024))
        );
        assert_eq!(
            v.created_at.as_deref(),
            Some("2026-11-28T10:00:00Z"),
            "the creation time, not an age: a pod's view does not change with the clock"
        );
        let u = v.usage.expect("usage");
        assert_eq!((u.cpu_percent, u.memory_percent), (Some(50.0), Some(50.0)));
        assert_eq!(
            pod_view(&with_state(json!({}), false), None).usage,
            None,
            "unknown usage stays unknown"
        );
    }

    #[test]
    fn nodes_show_roles_capacity_and_usage() {
        let node: Node = serde_json::from_value(json!({
            "metadata": { "name": "dev-master", "labels": { "node-role.kubernetes.io/control-plane": "" } },
            "status": {
                "capacity": { "cpu": "2", "memory": "4Gi", "pods": "110" },
                "allocatable": { "cpu": "2", "memory": "4Gi", "pods": "110" },
                "conditions": [{ "type": "Ready", "status": "True" }],
                "addresses": [{ "type": "InternalIP", "address": "192.168.64.2" }],
                "nodeInfo": { "kubeletVersion": "v1.33.4", "architecture": "", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "",
                              "kubeProxyVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": "" },
            },
        }))
        .expect("node");
        let v = node_view(&node, Some((500, 1024 * 1024 * 1024)), 9);
        assert_eq!(v.roles, ["control-plane"]);
        assert_eq!(
            (
                v.status.as_str(),
                v.cpu_capacity_millis,
                v.pod_capacity,
                v.pod_count
            ),
            ("Ready", Some(2000), Some(110), 9)
        );
        assert_eq!(v.usage.and_then(|u| u.cpu_percent), Some(25.0));
        assert_eq!(v.internal_ip.as_deref(), Some("192.168.64.2"));
    }

    #[test]
    fn namespaces_count_by_state_largest_first() {
        let p = |ns: &str, status: &str| PodView {
            namespace: ns.into(),
            status: status.into(),
            ..PodView::default()
        };
        let counts = namespace_counts(&[
            p("demo", "Running"),
            p("demo", "CrashLoopBackOff"),
            p("demo", "Pending"),
            p("kube-system", "Running"),
            p("demo", "Completed"),
        ]);
        assert_eq!(
            counts[0],
            NamespaceCount {
                namespace: "demo".into(),
                total: 4,
                running: 2,
                pending: 1,
                failed: 1,
                crash_looping: 1,
            }
        );
        assert_eq!(counts[1].namespace, "kube-system");
    }

    #[test]
    fn services_list_their_slice_endpoints_with_readiness() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": { "name": "nginx-web", "namespace": "demo" },
            "spec": { "type": "NodePort", "clusterIP": "10.97.0.10", "ports": [{ "port": 80, "targetPort": 80, "nodePort": 30080, "protocol": "TCP" }] },
        }))
        .expect("svc");
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": { "name": "nginx-web-abc", "namespace": "demo", "labels": { "kubernetes.io/service-name": "nginx-web" } },
            "addressType": "IPv4",
            "endpoints": [
                { "addresses": ["10.20.1.5"], "conditions": { "ready": true }, "targetRef": { "kind": "Pod", "name": "nginx-web-1" }, "nodeName": "dev-worker1" },
                { "addresses": ["10.20.1.6"], "conditions": { "ready": false }, "targetRef": { "kind": "Pod", "name": "nginx-web-2" } },
            ],
        }))
        .expect("slice");
        let v = service_view(&svc, &[&slice]);
        assert_eq!(v.type_, "NodePort");
        assert_eq!(v.ports[0].node_port, Some(30080));
        assert_eq!(v.endpoints.len(), 2);
        assert!(v.endpoints[0].ready && !v.endpoints[1].ready);
        assert_eq!(v.endpoints[0].pod.as_deref(), Some("nginx-web-1"));
    }
}
