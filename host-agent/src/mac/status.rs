//! `tart-infra status`: the VM API, every VM of the file, each cluster (the platform through
//! its kubeconfig, the others through their ManagedCluster's status on the platform), the
//! merged kubeconfig's contexts and the platform's service URLs with the command that
//! reveals each generated credential (never the credential). Observed by IO, rendered by
//! pure functions; exit 1 unless everything runs.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use crds::managed_cluster::Tier;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, ListParams};
use serde::Serialize;
use vm_api::{VmBackend as _, VmState};

use super::{MacError, MacOptions, StateDir, agent, handoff, kubeconfigs};
use crate::config;

/// What status observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub serve: ServeStatus,
    pub vms: Vec<VmStatus>,
    pub clusters: Vec<ClusterStatus>,
    pub kubeconfig: Option<String>,
    pub contexts: Vec<String>,
    pub services: Vec<ServiceLink>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServeStatus {
    pub running: bool,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmStatus {
    pub name: String,
    pub cluster: String,
    /// `running`, `stopped`, `suspended`, `missing` or `unknown`.
    pub state: String,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub name: String,
    pub reachable: bool,
    /// Ready nodes over all nodes, e.g. `2/2`.
    pub ready_nodes: Option<String>,
    /// Where it was observed: `kubeconfig` or `ManagedCluster`.
    pub via: String,
    pub detail: String,
}

/// A platform service reachable on a NodePort.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLink {
    pub name: String,
    pub url: String,
    /// The command that prints the generated credential, when there is one.
    pub credential: Option<String>,
}

/// The services `status` looks for: (title, service name, credential command template with
/// `{ns}` and `{ctx}`).
const SERVICES: [(&str, &str, Option<&str>); 5] = [
    (
        "Grafana",
        "grafana",
        Some(
            "kubectl --context {ctx} -n {ns} get secret grafana -o jsonpath='{.data.admin-password}' | base64 -d",
        ),
    ),
    (
        "ArgoCD",
        "argocd-server",
        Some(
            "kubectl --context {ctx} -n {ns} get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d",
        ),
    ),
    (
        "Jenkins",
        "jenkins",
        Some(
            "kubectl --context {ctx} -n {ns} get secret jenkins -o jsonpath='{.data.jenkins-admin-password}' | base64 -d",
        ),
    ),
    ("AlertManager", "alertmanager", None),
    ("Hubble UI", "hubble-ui", None),
];

/// The links of the known services among `(namespace, name, nodePort)` (pure).
pub fn service_links(
    found: &[(String, String, i32)],
    host: IpAddr,
    context: &str,
) -> Vec<ServiceLink> {
    let mut links = Vec::new();
    for (title, wanted, credential) in SERVICES {
        let hit = found
            .iter()
            .find(|(_, name, _)| name == wanted || name.ends_with(&format!("-{wanted}")));
        if let Some((ns, _, port)) = hit {
            links.push(ServiceLink {
                name: title.to_owned(),
                url: format!("http://{host}:{port}"),
                credential: credential.map(|c| c.replace("{ns}", ns).replace("{ctx}", context)),
            });
        }
    }
    links
}

/// Whether everything runs (pure).
pub fn healthy(report: &Report) -> bool {
    report.serve.running
        && !report.vms.is_empty()
        && report.vms.iter().all(|v| v.state == "running")
        && !report.clusters.is_empty()
        && report
            .clusters
            .iter()
            .all(|c| c.reachable && ready(c.ready_nodes.as_deref()))
}

fn ready(nodes: Option<&str>) -> bool {
    nodes
        .and_then(|n| n.split_once('/'))
        .is_some_and(|(a, b)| a == b && a != "0")
}

/// The report for people (pure).
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "serve: {}",
        match (&report.serve.running, &report.serve.url) {
            (true, Some(url)) => format!("running at {url}"),
            _ => "not running (tart-infra up starts it)".to_owned(),
        }
    );
    let _ = writeln!(s, "VMs:");
    for v in &report.vms {
        let _ = writeln!(
            s,
            "  {:<20} {:<10} {:<9} {}",
            v.name,
            v.cluster,
            v.state,
            v.ip.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(s, "clusters:");
    for c in &report.clusters {
        let _ = writeln!(
            s,
            "  {:<10} {:<13} nodes {:<6} via {} {}",
            c.name,
            if c.reachable {
                "reachable"
            } else {
                "unreachable"
            },
            c.ready_nodes.as_deref().unwrap_or("-"),
            c.via,
            c.detail
        );
    }
    match &report.kubeconfig {
        Some(k) => {
            let _ = writeln!(
                s,
                "kubeconfig: {k} (contexts: {})",
                report.contexts.join(", ")
            );
        }
        None => {
            let _ = writeln!(s, "kubeconfig: none yet (tart-infra up writes it)");
        }
    }
    if !report.services.is_empty() {
        let _ = writeln!(s, "services:");
        for l in &report.services {
            let _ = writeln!(s, "  {:<13} {}", l.name, l.url);
            if let Some(c) = &l.credential {
                let _ = writeln!(s, "                credential: {c}");
            }
        }
    }
    s
}

/// Observes everything.
pub async fn observe(mac: &MacOptions) -> Result<Report, MacError> {
    let config = config::load(&mac.config)?;
    let state = StateDir::new(&mac.state_dir);
    let mut report = Report::default();
    let agent = agent::running(&state).await;
    report.serve = ServeStatus {
        running: agent.is_some(),
        url: agent.as_ref().map(|a| a.record.url.clone()),
    };
    for cluster in &config.clusters {
        for node in &cluster.nodes {
            let name = node.name.as_str();
            let (state, ip) = match &agent {
                None => ("unknown".to_owned(), None),
                Some(a) => match a.client.get(name).await {
                    Ok(None) => ("missing".to_owned(), None),
                    Ok(Some(vm)) => {
                        let ip = if vm.state == VmState::Running {
                            a.client
                                .ip(name, Duration::from_secs(1))
                                .await
                                .ok()
                                .map(|i| i.to_string())
                        } else {
                            None
                        };
                        (
                            serde_json::to_value(vm.state)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            ip,
                        )
                    }
                    Err(_) => ("unknown".to_owned(), None),
                },
            };
            report.vms.push(VmStatus {
                name: name.to_owned(),
                cluster: cluster.name.clone(),
                state,
                ip,
            });
        }
    }
    let platform = config.clusters.iter().find(|c| c.tier == Tier::Platform);
    let mut platform_client = None;
    if let Some(p) = platform {
        let (status, client) = observe_platform(&state, p).await;
        report.clusters.push(status);
        platform_client = client;
        if let (Some(client), Some(text)) = (
            &platform_client,
            std::fs::read_to_string(state.cluster_kubeconfig(&p.name)).ok(),
        ) {
            let services: Api<Service> = Api::all(client.clone());
            if let (Ok(list), Some(host)) = (
                services.list(&ListParams::default()).await,
                kubeconfigs::server_ip(&text),
            ) {
                let found: Vec<(String, String, i32)> = list
                    .items
                    .iter()
                    .filter_map(|s| {
                        let spec = s.spec.as_ref()?;
                        if spec.type_.as_deref() != Some("NodePort") {
                            return None;
                        }
                        let port = spec.ports.as_ref()?.first()?.node_port?;
                        Some((
                            s.metadata.namespace.clone()?,
                            s.metadata.name.clone()?,
                            port,
                        ))
                    })
                    .collect();
                report.services = service_links(
                    &found,
                    host,
                    &node_bootstrap::kubeconfig::context_name(&p.name),
                );
            }
        }
    }
    for c in handoff::managed(&config) {
        report
            .clusters
            .push(observe_managed(platform_client.as_ref(), &c.name).await);
    }
    let merged = state.merged_kubeconfig();
    if let Ok(text) = std::fs::read_to_string(&merged) {
        report.kubeconfig = Some(merged.display().to_string());
        report.contexts = kubeconfigs::contexts(&text);
    }
    Ok(report)
}

async fn observe_platform(
    state: &StateDir,
    cluster: &config::ClusterConfig,
) -> (ClusterStatus, Option<kube::Client>) {
    let mut status = ClusterStatus {
        name: cluster.name.clone(),
        reachable: false,
        ready_nodes: None,
        via: "kubeconfig".to_owned(),
        detail: String::new(),
    };
    let Ok(text) = std::fs::read_to_string(state.cluster_kubeconfig(&cluster.name)) else {
        status.detail = "no kubeconfig yet (tart-infra up)".to_owned();
        return (status, None);
    };
    let client = match handoff::client(&text, &cluster.name).await {
        Ok(c) => c,
        Err(e) => {
            status.detail = e.to_string();
            return (status, None);
        }
    };
    let nodes: Api<Node> = Api::all(client.clone());
    match tokio::time::timeout(Duration::from_secs(15), nodes.list(&ListParams::default())).await {
        Ok(Ok(list)) => {
            let ready = list
                .items
                .iter()
                .filter(|n| super::cilium::node_ready(n))
                .count();
            status.reachable = true;
            status.ready_nodes = Some(format!("{ready}/{}", list.items.len()));
            (status, Some(client))
        }
        Ok(Err(e)) => {
            status.detail = format!("{e}; is the control plane VM running? (tart-infra boot)");
            (status, None)
        }
        Err(_) => {
            status.detail =
                "no answer within 15s; is the control plane VM running? (tart-infra boot)"
                    .to_owned();
            (status, None)
        }
    }
}

async fn observe_managed(platform: Option<&kube::Client>, name: &str) -> ClusterStatus {
    let mut status = ClusterStatus {
        name: name.to_owned(),
        reachable: false,
        ready_nodes: None,
        via: "ManagedCluster".to_owned(),
        detail: String::new(),
    };
    let Some(client) = platform else {
        status.detail = "the platform cluster is not reachable".to_owned();
        return status;
    };
    let api: Api<crds::ManagedCluster> = Api::all(client.clone());
    match api.get_opt(name).await {
        Ok(Some(mc)) => {
            let s = mc.status.unwrap_or_default();
            status.ready_nodes = s.ready_nodes.clone();
            status.reachable = s
                .conditions
                .iter()
                .any(|c| c.type_ == "Reachable" && c.status == "True");
            status.detail = s
                .phase
                .and_then(|p| serde_json::to_value(p).ok())
                .and_then(|v| v.as_str().map(|s| format!("phase {s}")))
                .unwrap_or_else(|| "no status yet (is the operator running?)".to_owned());
        }
        Ok(None) => status.detail = "no ManagedCluster (tart-infra up creates it)".to_owned(),
        Err(e) => status.detail = e.to_string(),
    }
    status
}

/// `tart-infra status`.
pub async fn status(mac: &MacOptions) -> Result<bool, MacError> {
    let report = observe(mac).await?;
    if mac.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| MacError::step("status", "json", e))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(healthy(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_linked_by_node_port_with_the_credential_command() {
        let found = vec![
            (
                "monitoring".to_owned(),
                "kube-prometheus-grafana".to_owned(),
                30080,
            ),
            ("argocd".to_owned(), "argocd-server".to_owned(), 30443),
            ("x".to_owned(), "unrelated".to_owned(), 30000),
        ];
        let links = service_links(&found, "192.168.64.5".parse().expect("ip"), "tart-platform");
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].name, "Grafana");
        assert_eq!(links[0].url, "http://192.168.64.5:30080");
        let cmd = links[0].credential.as_deref().expect("cmd");
        assert!(
            cmd.contains("-n monitoring") && cmd.contains("--context tart-platform"),
            "{cmd}"
        );
        assert!(
            links[1]
                .credential
                .as_deref()
                .is_some_and(|c| c.contains("argocd-initial-admin-secret"))
        );
    }

    #[test]
    fn healthy_only_when_everything_runs() {
        let mut r = Report {
            serve: ServeStatus {
                running: true,
                url: Some("u".into()),
            },
            vms: vec![VmStatus {
                name: "a".into(),
                cluster: "p".into(),
                state: "running".into(),
                ip: None,
            }],
            clusters: vec![ClusterStatus {
                name: "p".into(),
                reachable: true,
                ready_nodes: Some("2/2".into()),
                via: "kubeconfig".into(),
                detail: String::new(),
            }],
            ..Report::default()
        };
        assert!(healthy(&r));
        r.clusters[0].ready_nodes = Some("1/2".into());
        assert!(!healthy(&r));
        r.clusters[0].ready_nodes = Some("2/2".into());
        r.vms[0].state = "stopped".into();
        assert!(!healthy(&r));
        let text = render(&r);
        assert!(
            text.contains("serve: running at u") && text.contains("stopped"),
            "{text}"
        );
    }
}
