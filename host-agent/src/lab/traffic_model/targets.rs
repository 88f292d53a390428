//! Where a runner's requests go: each URL resolved to its Service's ready pods (or to the
//! Service's cluster IP when it has none), as the load model loads them.

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::peer::Peer;
use super::probes::container_port;
use crate::lab::load_model;
use crate::lab::simulator::{self, RunningRunner};

/// Where one URL of a runner goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Backends {
    /// The Service's ready pods, each with its target port.
    Ready(Vec<(Peer, u16)>),
    /// The Service has no ready pod: connections to its cluster IP are dropped.
    None {
        /// The Service's cluster IP.
        cluster_ip: String,
        /// The Service port.
        port: u16,
    },
}

/// One URL a runner requests, resolved in its cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// As in the runner's parameters.
    pub url: String,
    /// `(namespace, name)` of the Service.
    pub service: (String, String),
    /// Where requests go.
    pub backends: Backends,
}

/// A runner sending requests now.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSource {
    /// Its pod.
    pub pod: Peer,
    /// Virtual users now.
    pub vus: f64,
    /// The HTTP method.
    pub method: String,
    /// Its URLs that reach a Service, in the order an iteration requests them.
    pub targets: Vec<Target>,
}

/// The Service port a URL connects to: the one with the URL's port, else (as the load model,
/// which loads a Service whatever the port) the first.
fn service_port<'a>(ports: &'a [ServicePort], url: &str) -> Option<&'a ServicePort> {
    let wanted = load_model::port_of(url).map(i32::from);
    ports
        .iter()
        .find(|p| Some(p.port) == wanted)
        .or_else(|| ports.first())
}

fn target_port(port: &ServicePort, pod: &Pod) -> Option<u16> {
    let Some(target) = &port.target_port else {
        return u16::try_from(port.port).ok();
    };
    let containers = &pod.spec.as_ref()?.containers;
    containers.iter().find_map(|c| match target {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(_) => container_port(target, c),
    })
}

/// Where a URL goes in a cluster with these pods and Services; none when it names no
/// Service there, a Service without a selector, or a headless one without ready pods.
pub fn resolve(url: &str, pods: &[Pod], services: &[Service]) -> Option<Target> {
    let (namespace, name) = load_model::service_of(url)?;
    let svc = services
        .iter()
        .find(|s| s.namespace().as_deref() == Some(namespace.as_str()) && s.name_any() == name)?;
    let spec = svc.spec.as_ref()?;
    let selector = spec.selector.as_ref()?;
    let port = service_port(spec.ports.as_deref().unwrap_or_default(), url)?;
    let ready: Vec<(Peer, u16)> = pods
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|p| simulator::selects(selector, p) && simulator::ready(p))
        .filter_map(|p| Some((Peer::of(p)?, target_port(port, p)?)))
        .collect();
    let backends = if ready.is_empty() {
        let cluster_ip = spec.cluster_ip.clone().filter(|ip| ip != "None")?;
        Backends::None {
            cluster_ip,
            port: u16::try_from(port.port).ok()?,
        }
    } else {
        Backends::Ready(ready)
    };
    Some(Target {
        url: url.to_owned(),
        service: (namespace, name),
        backends,
    })
}

/// A running k6 runner as a source of load `elapsed` seconds after it started; none when it
/// has no VUs now or no pod IP.
pub fn load_source(
    runner: &RunningRunner,
    elapsed: f64,
    pods: &[Pod],
    services: &[Service],
) -> Option<LoadSource> {
    let vus = runner.params.vus_at(elapsed);
    if vus <= 0.0 {
        return None;
    }
    Some(LoadSource {
        pod: Peer::of(&runner.pod)?,
        vus,
        method: runner
            .params
            .method
            .clone()
            .unwrap_or_else(|| "GET".to_owned()),
        targets: runner
            .params
            .urls
            .iter()
            .filter_map(|u| resolve(u, pods, services))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::traffic_model::fixtures::{NGINX_URL, runner, runner_pod};
    use crate::lab::traffic_model::probes::probe_targets;
    use serde_json::json;

    /// The shipped demo apps as the lab runs them: one Running, Ready pod per Deployment
    /// (from its pod template) and the Services.
    fn demo() -> (Vec<Pod>, Vec<Service>) {
        let (mut pods, mut services) = (Vec::new(), Vec::new());
        for (file, text) in crate::lab::platform::DEMO {
            for (i, obj) in local_control_plane::parse_yaml_documents(text)
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .into_iter()
                .enumerate()
            {
                let kind = obj
                    .types
                    .as_ref()
                    .map(|t| t.kind.clone())
                    .unwrap_or_default();
                let name = obj.metadata.name.clone().unwrap_or_default();
                let value = serde_json::to_value(&obj).expect("json");
                match kind.as_str() {
                    "Service" => services.push(serde_json::from_value(value).expect("service")),
                    "Deployment" => {
                        let mut pod = value["spec"]["template"].clone();
                        pod["metadata"]["name"] = json!(format!("{name}-5d8f9c7b6d-x2x9q"));
                        pod["metadata"]["namespace"] = json!("demo");
                        pod["metadata"]["labels"]["pod-template-hash"] = json!("5d8f9c7b6d");
                        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                            "kind": "ReplicaSet", "name": format!("{name}-5d8f9c7b6d"), "uid": "u", "controller": true}]);
                        pod["spec"]["nodeName"] = json!("dev-worker1");
                        pod["status"] = json!({"phase": "Running", "podIP": format!("10.20.1.{}", 10 + i),
                            "hostIP": "192.168.1.11", "conditions": [{"type": "Ready", "status": "True"}]});
                        pods.push(serde_json::from_value(pod).expect("pod"));
                    }
                    _ => {}
                }
            }
        }
        (pods, services)
    }

    #[test]
    fn the_shipped_demo_apps_are_probed_and_reached_on_their_container_ports() {
        let (mut pods, services) = demo();
        let mut probes: Vec<(String, u16)> = probe_targets(&pods)
            .into_iter()
            .map(|t| (t.pod.pod, t.port))
            .collect();
        probes.sort();
        assert_eq!(
            probes,
            // postgres has exec probes only (pg_isready): no traffic.
            [
                ("httpbin-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("httpbin-v2-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("keycloak-5d8f9c7b6d-x2x9q".to_owned(), 9000),
                ("keycloak-5d8f9c7b6d-x2x9q".to_owned(), 9000),
                ("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("rabbitmq-5d8f9c7b6d-x2x9q".to_owned(), 5672),
                ("rabbitmq-5d8f9c7b6d-x2x9q".to_owned(), 5672),
                ("redis-5d8f9c7b6d-x2x9q".to_owned(), 6379),
            ]
        );
        pods.push(runner_pod());
        // cascade-light's URLs.
        let r = runner(
            30,
            &[
                NGINX_URL,
                "http://httpbin.demo.svc.cluster.local/get",
                "http://httpbin.demo.svc.cluster.local/headers",
            ],
        );
        let source = load_source(&r, 1.0, &pods, &services).expect("source");
        let backends: Vec<Vec<(String, u16)>> = source
            .targets
            .iter()
            .map(|t| match &t.backends {
                Backends::Ready(b) => b.iter().map(|(p, port)| (p.pod.clone(), *port)).collect(),
                Backends::None { .. } => Vec::new(),
            })
            .collect();
        let httpbin = vec![
            ("httpbin-5d8f9c7b6d-x2x9q".to_owned(), 8080),
            ("httpbin-v2-5d8f9c7b6d-x2x9q".to_owned(), 8080),
        ];
        assert_eq!(
            backends,
            [
                vec![("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080)],
                httpbin.clone(),
                httpbin
            ],
            "httpbin's one Service selects v1 and v2"
        );
    }
}
