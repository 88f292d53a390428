//! The operator's Helm chart (`charts/tart-operator`) with the real helm binary
//! (`$TART_INFRA_HELM`, see `support/helm.rs`): it lints clean in strict mode, renders a
//! locked-down Deployment, rejects a mistyped value naming the field, grants exactly the
//! RBAC the lab applies (`host_agent::rbac`, built from the same rules file), and installs
//! into a real kube-apiserver, CRDs included, without warnings.
//!
//! Here rather than in the operator's tests because host-agent is what installs the
//! operator: the lab and `tart-infra up` apply the chart's RBAC rules.

#[path = "support/helm.rs"]
mod helm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use host_agent::rbac;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use local_control_plane::{ControlPlane, Options, parse_yaml_documents};
use serde::de::DeserializeOwned;

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tart-operator")
        .display()
        .to_string()
}

/// The objects of a rendering, by `Kind namespace/name`.
fn rendered(yaml: &str) -> BTreeMap<String, DynamicObject> {
    parse_yaml_documents(yaml)
        .expect("helm's output is YAML")
        .into_iter()
        .map(|o| {
            let key = format!(
                "{} {}/{}",
                o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                o.metadata.namespace.as_deref().unwrap_or("-"),
                o.metadata.name.as_deref().unwrap_or("?")
            );
            (key, o)
        })
        .collect()
}

fn typed<T: DeserializeOwned>(objects: &BTreeMap<String, DynamicObject>, key: &str) -> T {
    let obj = objects
        .get(key)
        .unwrap_or_else(|| panic!("{key} not rendered; have {:?}", objects.keys()));
    serde_json::from_value(serde_json::to_value(obj).expect("encode")).expect("decode")
}

/// `helm template tart-operator <chart> -n tart-system <extra>`, as the lab names things.
fn template(helm: &helm::Helm, extra: &[&str]) -> BTreeMap<String, DynamicObject> {
    let chart = chart();
    let mut args = vec!["template", "tart-operator", &chart, "-n", "tart-system"];
    args.extend_from_slice(extra);
    rendered(&helm.ok(&args, None))
}

#[test]
fn the_chart_lints_clean_in_strict_mode_with_every_option() {
    let Some(helm) = helm::helm() else { return };
    let chart = chart();
    let out = helm.ok(&["lint", "--strict", &chart], None);
    assert!(out.contains("0 chart(s) failed"), "{out}");
    let out = helm.ok(
        &[
            "lint",
            "--strict",
            &chart,
            "--set",
            "replicaCount=2,monitoring.serviceMonitor.enabled=true,operator.anonymousRead=true",
            "--set",
            "monitoring.prometheusRule.enabled=true,monitoring.prometheusRule.labels.release=kps",
            "--set",
            "monitoring.dashboard.enabled=true,monitoring.dashboard.labels.team=sre,podDisruptionBudget.maxUnavailable=50%",
            "--set",
            "rbac.userRoles.aggregateToDefaultRoles=true,operator.k6Image=grafana/k6:1.7.1",
            "--set",
            "networkPolicy.namespaceSelectors[0].matchLabels.team=sre",
            "--set",
            "operator.hubbleRelayAddresses.dev=10.0.0.5:4245,operator.extraArgs[0]=--dashboard-dir=/dashboard",
            "--set",
            "tls.secretName=tart-operator-tls,operator.limits.authFailureBurst=0",
            "--set",
            "prometheus.url=http://prometheus-operated.monitoring:9090,prometheus.remoteWriteUrl=https://prom.example/api/v1/write",
        ],
        None,
    );
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[test]
fn a_mistyped_value_is_rejected_naming_the_field() {
    let Some(helm) = helm::helm() else { return };
    let chart = chart();
    for (set, names) in [
        ("replica=2", "additional properties 'replica' not allowed"),
        (
            "monitoring.serviceMonitor.enable=true",
            "/monitoring/serviceMonitor",
        ),
        (
            "operator.maxTestsPerCluster=0",
            "/operator/maxTestsPerCluster",
        ),
        ("operator.k6Image=grafana/k6:latest", "/operator/k6Image"),
        (
            "operator.argocdNamespace=Argo_CD",
            "/operator/argocdNamespace",
        ),
        ("image.tag=latest", "/image/tag"),
        (
            "operator.limits.trustedProxies[0]=10.244.0.0",
            "/operator/limits/trustedProxies/0",
        ),
        ("service.port=0", "/service/port"),
        (
            "leaderElection.leaseDurationSeconds=1",
            "/leaderElection/leaseDurationSeconds",
        ),
        (
            "monitoring.prometheusRule.enable=true",
            "/monitoring/prometheusRule",
        ),
        ("prometheus.url=https://prom:9090", "/prometheus/url"),
        (
            "prometheus.remoteWriteUrl=prom:9090",
            "/prometheus/remoteWriteUrl",
        ),
        (
            "prometheus.nodeExporterLabels.cluster=k8s-cluster",
            "/prometheus/nodeExporterLabels/cluster",
        ),
        (
            "monitoring.dashboard.enabled=yes",
            "/monitoring/dashboard/enabled",
        ),
        (
            "monitoring.dashboard.labels.team=null",
            "/monitoring/dashboard/labels",
        ),
        (
            "podDisruptionBudget.maxUnavailable=0",
            "/podDisruptionBudget/maxUnavailable",
        ),
        (
            "podDisruptionBudget.maxUnavailable=150%",
            "/podDisruptionBudget/maxUnavailable",
        ),
        (
            "podDisruptionBudget.enabled=1",
            "/podDisruptionBudget/enabled",
        ),
        ("tls.secretName=Tart_TLS", "/tls/secretName"),
        ("tls.reloadSeconds=0", "/tls/reloadSeconds"),
        (
            "operator.limits.maxConnections=0",
            "/operator/limits/maxConnections",
        ),
        (
            "operator.limits.idleTimeoutSeconds=5",
            "/operator/limits/idleTimeoutSeconds",
        ),
    ] {
        for command in ["template", "lint", "install"] {
            let mut args = vec![command];
            if command != "lint" {
                args.push("tart-operator");
            }
            args.extend([chart.as_str(), "--set", set]);
            if command == "install" {
                // Values are checked before anything is sent; no cluster is needed.
                args.push("--dry-run=client");
            }
            let out = helm.run(&args, None);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "helm {command} accepted {set}");
            assert!(text.contains(names), "helm {command} --set {set}: {text}");
        }
    }
}

#[test]
fn the_deployment_runs_locked_down_with_probes_and_flags_from_values() {
    let Some(helm) = helm::helm() else { return };
    let objects = template(&helm, &[]);
    let deployment: Deployment = typed(&objects, "Deployment tart-system/tart-operator");
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("tart-operator"));
    let psc = pod.security_context.clone().expect("pod securityContext");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(
        psc.seccomp_profile.map(|p| p.type_).as_deref(),
        Some("RuntimeDefault")
    );
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some(
            format!(
                "ghcr.io/tart-infra/tart-operator:{}",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );
    let sc = c
        .security_context
        .clone()
        .expect("container securityContext");
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(65532));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.and_then(|c| c.drop),
        Some(vec!["ALL".to_owned()])
    );
    assert_eq!(
        sc.seccomp_profile.map(|p| p.type_).as_deref(),
        Some("RuntimeDefault")
    );
    let probe_path = |p: Option<&k8s_openapi::api::core::v1::Probe>| {
        p.and_then(|p| p.http_get.as_ref())
            .map(|h| (h.path.clone().unwrap_or_default(), h.port.clone()))
    };
    let http = k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into());
    assert_eq!(
        probe_path(c.liveness_probe.as_ref()),
        Some(("/healthz".to_owned(), http.clone()))
    );
    assert_eq!(
        probe_path(c.readiness_probe.as_ref()),
        Some(("/readyz".to_owned(), http))
    );
    let ports: Vec<_> = c
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
        .collect();
    assert_eq!(
        ports,
        [("http".to_owned(), 8080), ("metrics".to_owned(), 9090)]
    );
    let resources = c.resources.clone().expect("resources");
    assert!(
        resources
            .requests
            .is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory"))
    );
    assert!(resources.limits.is_some_and(|l| l.contains_key("memory")));
    let spread = pod.topology_spread_constraints.clone().expect("spread");
    assert_eq!(spread[0].topology_key, "kubernetes.io/hostname");
    assert_eq!(
        spread[0]
            .label_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .map(|l| l.get("app.kubernetes.io/instance").cloned()),
        Some(Some("tart-operator".to_owned()))
    );
    let args = c.args.clone().expect("args");
    assert!(
        args.contains(&"--http-addr=0.0.0.0:8080".to_owned())
            && args.contains(&"--metrics-listen=0.0.0.0:9090".to_owned()),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|a| a.starts_with("--prometheus")),
        "no Prometheus unless given: {args:?}"
    );
    let with = template(
        &helm,
        &[
            "--set",
            "prometheus.url=http://prometheus-operated.monitoring:9090,prometheus.remoteWriteUrl=http://prom.example:9090/api/v1/write",
            "--set",
            "prometheus.nodeExporterLabels.cluster=k8s_cluster",
        ],
    );
    let deployment: Deployment = typed(&with, "Deployment tart-system/tart-operator");
    let args = deployment
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers[0].args.clone())
        .expect("args");
    assert!(
        args.contains(&"--prometheus-url=http://prometheus-operated.monitoring:9090".to_owned())
            && args.contains(
                &"--prometheus-remote-write-url=http://prom.example:9090/api/v1/write".to_owned()
            )
            && args.contains(&"--node-exporter-cluster-label=k8s_cluster".to_owned())
            && args.contains(&"--node-exporter-node-label=instance".to_owned()),
        "{args:?}"
    );

    let service: Service = typed(&objects, "Service tart-system/tart-operator");
    let ports = service.spec.and_then(|s| s.ports).expect("ports");
    let ports: Vec<_> = ports
        .iter()
        .map(|p| (p.port, p.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        ports,
        [(8080, "http".to_owned()), (9090, "metrics".to_owned())],
        "/metrics has a port of its own"
    );

    let policy: NetworkPolicy = typed(&objects, "NetworkPolicy tart-system/tart-operator");
    let ingress = policy.spec.and_then(|s| s.ingress).expect("ingress");
    let named = |name: &str| {
        Some(Some(
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name.into()),
        ))
    };
    assert_eq!(ingress.len(), 2);
    assert_eq!(
        ingress[0].ports.as_ref().map(|p| p[0].port.clone()),
        named("http")
    );
    assert_eq!(
        ingress[1].ports.as_ref().map(|p| p[0].port.clone()),
        named("metrics")
    );
    assert!(ingress[0].from.is_none() && ingress[1].from.is_none());

    assert!(
        !objects.keys().any(|k| k.starts_with("ServiceMonitor")),
        "ServiceMonitor is off by default"
    );
    let with = template(
        &helm,
        &[
            "--set",
            "monitoring.serviceMonitor.enabled=true,networkPolicy.namespaceSelectors[0].matchLabels.team=sre",
        ],
    );
    assert!(with.contains_key("ServiceMonitor tart-system/tart-operator"));
    let monitor = &with["ServiceMonitor tart-system/tart-operator"];
    assert_eq!(
        monitor.data["spec"]["endpoints"][0]["port"], "metrics",
        "Prometheus scrapes the metrics port"
    );
    let policy: NetworkPolicy = typed(&with, "NetworkPolicy tart-system/tart-operator");
    let from = policy
        .spec
        .and_then(|s| s.ingress)
        .and_then(|i| i[0].from.clone())
        .expect("from");
    assert_eq!(
        from[0]
            .namespace_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("sre")
    );
}

#[test]
fn tls_comes_from_a_mounted_secret_with_probes_over_https() {
    let Some(helm) = helm::helm() else { return };
    let container = |objects: &BTreeMap<String, DynamicObject>| {
        let deployment: Deployment = typed(objects, "Deployment tart-system/tart-operator");
        deployment
            .spec
            .and_then(|s| s.template.spec)
            .expect("pod spec")
    };
    let schemes = |c: &k8s_openapi::api::core::v1::Container| {
        [c.liveness_probe.as_ref(), c.readiness_probe.as_ref()].map(|p| {
            p.and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.scheme.clone())
        })
    };

    let plain = container(&template(&helm, &[]));
    let c = &plain.containers[0];
    let args = c.args.clone().expect("args");
    assert!(!args.iter().any(|a| a.starts_with("--tls-")), "{args:?}");
    for flag in [
        "--header-read-timeout-seconds=10",
        "--request-timeout-seconds=60",
        "--max-connections=1024",
        "--max-event-streams-per-client=8",
        "--auth-failure-burst=20",
    ] {
        assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--trusted-proxies")),
        "{args:?}"
    );
    assert_eq!(schemes(c), [Some("HTTP".into()), Some("HTTP".into())]);
    let proxied = container(&template(
        &helm,
        &[
            "--set-json",
            r#"operator.limits.trustedProxies=["10.244.0.0/16","fd00::/8"]"#,
        ],
    ));
    let args = proxied.containers[0].args.clone().expect("args");
    assert!(
        args.contains(&"--trusted-proxies=10.244.0.0/16,fd00::/8".to_owned()),
        "{args:?}"
    );

    let tls = container(&template(
        &helm,
        &["--set", "tls.secretName=tart-operator-tls"],
    ));
    let c = &tls.containers[0];
    let args = c.args.clone().expect("args");
    for flag in [
        "--tls-cert-file=/tls/tls.crt",
        "--tls-key-file=/tls/tls.key",
        "--tls-reload-seconds=10",
    ] {
        assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
    }
    assert_eq!(schemes(c), [Some("HTTPS".into()), Some("HTTPS".into())]);
    let mount = c
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "tls")
        .expect("tls mount");
    // No subPath: the kubelet must be able to swap a renewed certificate in.
    assert_eq!(
        (
            mount.mount_path.as_str(),
            mount.read_only,
            mount.sub_path.as_deref()
        ),
        ("/tls", Some(true), None)
    );
    let volume = tls
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "tls")
        .expect("tls volume");
    assert_eq!(
        volume
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref()),
        Some("tart-operator-tls")
    );
}

fn operator_bin() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tart-infra")).with_file_name("tart-operator");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p operator` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// The operator process started from the chart's container; killed when dropped.
struct OperatorProcess(std::process::Child);

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the lab applies and what the chart renders, by `Kind namespace/name`: the rules and
/// the subjects, which are what grant rights.
fn grants(objects: &BTreeMap<String, DynamicObject>) -> BTreeMap<String, serde_json::Value> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("ClusterRole") || k.starts_with("Role"))
        .map(|(k, o)| {
            let mut grant = serde_json::Map::new();
            for field in ["rules", "subjects", "roleRef"] {
                if let Some(v) = o.data.get(field) {
                    grant.insert(field.to_owned(), v.clone());
                }
            }
            (k.clone(), serde_json::Value::Object(grant))
        })
        .collect()
}

#[test]
fn the_charts_rbac_is_what_the_lab_applies() {
    let Some(helm) = helm::helm() else { return };
    // The lab runs one operator, without leader election.
    let chart = grants(&template(
        &helm,
        &[
            "--set",
            "leaderElection.enabled=false,replicaCount=1",
            "--kube-version",
            LAB_KUBE_VERSION,
        ],
    ));
    let mut lab = rbac::operator_objects("tart-system").expect("lab RBAC");
    lab.extend(rbac::user_role_objects().expect("user roles"));
    let lab = grants(&rendered(
        &lab.iter()
            .map(|o| serde_json::to_string(o).expect("json"))
            .collect::<Vec<_>>()
            .join("\n---\n"),
    ));
    assert_eq!(chart, lab);
    assert_eq!(chart.len(), 10, "{:?}", chart.keys());

    // With leader election (the chart's default) the namespace Role also has the Lease.
    let rules = rbac::rules().expect("rules");
    let role: Role = typed(&template(&helm, &[]), "Role tart-system/tart-operator");
    let mut want = rules.namespace.clone();
    want.extend(rules.leader_election.clone());
    assert_eq!(role.rules, Some(want));
}

/// The Kubernetes version of the lab's and the tests' API servers.
const LAB_KUBE_VERSION: &str = "1.36.3";

#[test]
fn clusters_before_1_36_get_plain_impersonation_and_newer_ones_only_the_constrained_kind() {
    let Some(helm) = helm::helm() else { return };
    let rules = rbac::rules().expect("rules");
    let role = |version: &str| -> ClusterRole {
        typed(
            &template(&helm, &["--kube-version", version]),
            "ClusterRole -/tart-operator",
        )
    };
    let mut old = rules.cluster.clone();
    old.extend(rules.impersonation_before_136.clone());
    assert_eq!(role("1.33.4").rules, Some(old));
    assert_eq!(role(LAB_KUBE_VERSION).rules, Some(rules.cluster.clone()));
    assert!(
        rules
            .impersonation_before_136
            .iter()
            .all(|r| r.verbs == ["impersonate"]),
        "only impersonation is added"
    );
}

#[test]
fn nodes_proxy_is_granted_only_when_asked_for() {
    let Some(helm) = helm::helm() else { return };
    let rules = rbac::rules().expect("rules");
    let role = |set: &[&str]| -> ClusterRole {
        let mut args = vec!["--kube-version", LAB_KUBE_VERSION];
        args.extend(set);
        typed(&template(&helm, &args), "ClusterRole -/tart-operator")
    };
    let mut with = rules.cluster.clone();
    with.extend(rules.kubelet_summary.clone());
    assert_eq!(
        role(&["--set", "rbac.kubeletSummary=true"]).rules,
        Some(with)
    );
    assert_eq!(role(&[]).rules, Some(rules.cluster.clone()));
    let granted: Vec<_> = rules
        .kubelet_summary
        .iter()
        .map(|r| (r.resources.clone(), r.verbs.clone()))
        .collect();
    assert_eq!(
        granted,
        vec![(Some(vec!["nodes/proxy".to_owned()]), vec!["get".to_owned()])]
    );
}

#[test]
fn the_app_version_is_the_workspace_version_and_the_default_tag() {
    let Some(helm) = helm::helm() else { return };
    let chart_yaml: serde_json::Value =
        serde_yaml::from_str(&helm.ok(&["show", "chart", &chart()], None)).expect("Chart.yaml");
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart_yaml["apiVersion"], "v2");
}

#[tokio::test]
async fn helm_install_into_a_real_api_server_creates_a_locked_down_operator() -> anyhow::Result<()>
{
    let Some(helm) = helm::helm() else {
        return Ok(());
    };
    let cp = ControlPlane::start(Options::apiserver("chart")).await?;
    let client = cp.client().await?;
    // The Role for ArgoCD's cluster Secrets needs ArgoCD's namespace.
    let argocd: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "argocd"}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &argocd)
        .await?;
    let chart = chart();
    let install = [
        "upgrade",
        "--install",
        "tart-operator",
        chart.as_str(),
        "--namespace",
        "tart-system",
        "--create-namespace",
        "--set",
        "replicaCount=2",
    ];
    let out = helm.run(&install, Some(cp.kubeconfig_path()));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "helm install failed:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !stderr.to_lowercase().contains("warning"),
        "helm install printed warnings:\n{stderr}"
    );

    // The CRDs from crds/ are served.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in crds::all() {
        let name = crd.metadata.name.unwrap_or_default();
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await??;
    }

    let ns = "tart-system";
    let deployment = Api::<Deployment>::namespaced(client.clone(), ns)
        .get("tart-operator")
        .await?;
    let spec = deployment.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.expect("pod spec");
    let sc = pod.containers[0]
        .security_context
        .clone()
        .expect("securityContext");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.run_as_user, Some(65532));
    assert_eq!(
        sc.capabilities.and_then(|c| c.drop),
        Some(vec!["ALL".to_owned()])
    );
    assert_eq!(
        pod.security_context.and_then(|p| p.run_as_non_root),
        Some(true)
    );

    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .get("tart-operator")
        .await?;
    Api::<Service>::namespaced(client.clone(), ns)
        .get("tart-operator")
        .await?;
    Api::<NetworkPolicy>::namespaced(client.clone(), ns)
        .get("tart-operator")
        .await?;
    let rules = rbac::rules()?;
    let cluster_role = Api::<ClusterRole>::all(client.clone())
        .get("tart-operator")
        .await?;
    assert_eq!(cluster_role.rules.unwrap_or_default(), rules.cluster);
    let binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get("tart-operator")
        .await?;
    assert_eq!(
        binding.subjects.unwrap_or_default()[0].name,
        "tart-operator"
    );
    let role = Api::<Role>::namespaced(client.clone(), ns)
        .get("tart-operator")
        .await?;
    let mut want = rules.namespace.clone();
    want.extend(rules.leader_election.clone());
    assert_eq!(role.rules.unwrap_or_default(), want);
    let role = Api::<Role>::namespaced(client.clone(), "argocd")
        .get("tart-operator")
        .await?;
    assert_eq!(role.rules.unwrap_or_default(), rules.argocd);
    Api::<RoleBinding>::namespaced(client.clone(), "argocd")
        .get("tart-operator")
        .await?;
    let viewer = Api::<ClusterRole>::all(client.clone())
        .get(rbac::VIEWER_ROLE)
        .await?;
    assert_eq!(viewer.rules.unwrap_or_default(), rules.users.viewer);

    // A second run is an upgrade that changes nothing and succeeds.
    helm.ok(&install, Some(cp.kubeconfig_path()));

    // The installed container's flags and environment, run as the chart's ServiceAccount:
    // the real flag parser takes them, and the chart's RBAC is enough for the operator to
    // pass its preflight and sync its caches (/readyz). Only the listen addresses change.
    let container = &pod.containers[0];
    let free = || -> std::io::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (port, metrics_port) = (free()?, free()?);
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            if a.starts_with("--http-addr=") {
                format!("--http-addr=127.0.0.1:{port}")
            } else if a.starts_with("--metrics-listen=") {
                format!("--metrics-listen=127.0.0.1:{metrics_port}")
            } else {
                a
            }
        })
        .collect();
    let token = host_agent::lab::platform::token(&client, "tart-operator", None).await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        host_agent::lab::platform::kubeconfig(&cp, "tart-operator", &token),
    )?;
    let log = dir.path().join("operator.log");
    let mut cmd = std::process::Command::new(operator_bin());
    cmd.args(&args)
        .env_clear()
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", ns)
        .env("POD_NAME", "tart-operator-test")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    for env in container.env.clone().unwrap_or_default() {
        if let Some(value) = env.value {
            cmd.env(env.name, value);
        }
    }
    let mut operator = OperatorProcess(cmd.spawn()?);
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = operator.0.try_wait()? {
            panic!(
                "the operator exited ({status}) with the chart's flags {args:?}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the operator was not ready within 60 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // /metrics is on the chart's metrics port, not on the API's.
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await?;
    assert!(metrics.status().is_success(), "{}", metrics.status());
    let on_api = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await?;
    assert_eq!(on_api.status().as_u16(), 404);
    // Alone, it wins the election the chart turned on, with the Role's Lease rights.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let holder = leases
            .get_opt("tart-operator")
            .await?
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity);
        if holder.as_deref() == Some("tart-operator-test") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the operator did not take Lease tart-operator (holder {holder:?}):\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !log_text.contains("forbidden"),
        "the chart's RBAC denied the operator something:\n{log_text}"
    );
    drop(operator);
    Ok(())
}
