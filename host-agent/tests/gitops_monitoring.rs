//! The observability ApplicationSets of `gitops/root` (templates/monitoring.yaml), rendered
//! by the real helm. Their charts (kube-prometheus-stack, Loki, Fluent Bit) cannot be
//! rendered here (chart repositories, not Go modules; Loki is AGPL and only referenced), so
//! this test checks the values that carry the design: the original's ports, one default
//! Grafana datasource (Loki's `isDefault: false`), no password in Git (Grafana reads the
//! Secret the monitoring-extras Job generates), the alert rules loaded, the AlertManager
//! routing to the webhook logger's real Service, Loki's persistence, the log shipper writing
//! to Loki, the agents of the other clusters remote-writing to the platform by its stable
//! name. (That every chart is pinned to an exact version is checked in gitops_root.rs.)

mod support;

use host_agent::lab::demo_credentials;
use kube::api::DynamicObject;
use serde_json::Value;
use support::gitops::{self, platform, selected};

fn rendered() -> Option<Vec<Value>> {
    gitops::rendered("the gitops monitoring test")
}

fn set<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    gitops::application_set(docs, name)
}

fn source(set: &Value) -> &Value {
    &set["spec"]["template"]["spec"]["source"]
}

fn values(set: &Value) -> &Value {
    &source(set)["helm"]["valuesObject"]
}

/// Every key path of `v` whose last key mentions a password, with its value.
fn password_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                if k.to_lowercase().contains("password") && !k.ends_with("Key") {
                    out.push(format!("{here} = {v}"));
                }
                password_keys(v, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                password_keys(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The YAML documents of a file of this repository.
fn file_documents(path: &str) -> Vec<Value> {
    gitops::documents(&std::fs::read_to_string(support::repo_file(path)).expect(path))
}

#[test]
fn kube_prometheus_stack_on_the_platform_has_the_originals_ports_and_no_password() {
    let Some(docs) = rendered() else { return };
    let platform = platform();
    let kps = set(&docs, "kube-prometheus-stack");
    assert_eq!(selected(kps), [platform]);
    assert_eq!(source(kps)["chart"], "kube-prometheus-stack");
    assert_eq!(
        kps["spec"]["template"]["spec"]["destination"]["namespace"],
        "monitoring"
    );
    let v = values(kps);

    // Grafana: NodePort 30300, its admin from the generated Secret, no password in Git.
    let grafana = &v["grafana"];
    assert_eq!(grafana["service"]["type"], "NodePort");
    assert_eq!(grafana["service"]["nodePort"], 30300);
    let mut passwords = Vec::new();
    password_keys(v, "valuesObject", &mut passwords);
    assert!(passwords.is_empty(), "passwords in Git: {passwords:?}");
    let admin = &grafana["admin"];
    let job = file_documents("gitops/addons/monitoring/extras/grafana-admin.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Job")
        .expect("the credentials Job");
    let job: DynamicObject = serde_json::from_value(job).expect("a Job");
    assert!(demo_credentials::is_hook(&job));
    let ensured = demo_credentials::ensured(demo_credentials::job_script(&job).expect("script"))
        .expect("ensure lines");
    let secret = ensured
        .iter()
        .find(|e| admin["existingSecret"] == e.name.as_str())
        .unwrap_or_else(|| panic!("no Job makes {}: {ensured:?}", admin["existingSecret"]));
    assert_eq!(
        secret
            .keys
            .get(admin["passwordKey"].as_str().expect("passwordKey")),
        Some(&demo_credentials::Value::Random),
        "the admin password is generated"
    );
    assert!(
        secret
            .keys
            .contains_key(admin["userKey"].as_str().expect("userKey"))
    );

    // One default datasource: Prometheus (the sidecar's); Loki's is not (two defaults
    // crashed the original's Grafana).
    assert_eq!(
        grafana["sidecar"]["datasources"]["isDefaultDatasource"],
        true
    );
    let extra = grafana["additionalDataSources"].as_array().expect("list");
    assert!(extra.iter().all(|d| d["isDefault"] == false), "{extra:?}");
    let loki = extra.iter().find(|d| d["type"] == "loki").expect("Loki");
    assert_eq!(loki["url"], "http://loki.monitoring.svc.cluster.local:3100");
    assert_eq!(grafana["sidecar"]["dashboards"]["searchNamespace"], "ALL");
    let dashboards = &grafana["dashboards"]["default"];
    let ids: Vec<(i64, i64)> = dashboards
        .as_object()
        .expect("dashboards")
        .values()
        .map(|d| {
            (
                d["gnetId"].as_i64().expect("id"),
                d["revision"].as_i64().expect("rev"),
            )
        })
        .collect();
    for wanted in [(7249, 1), (1860, 37), (6417, 1)] {
        assert!(ids.contains(&wanted), "{wanted:?} not in {ids:?}");
    }

    // Prometheus: NodePort 30090, 7 days on a 10Gi volume, bounded, the remote-write
    // receiver on; it loads every PrometheusRule (the alert-rules addon's and the
    // operator chart's in tart-system), whatever their labels.
    let prometheus = &v["prometheus"];
    assert_eq!(prometheus["service"]["type"], "NodePort");
    assert_eq!(prometheus["service"]["nodePort"], 30090);
    let spec = &prometheus["prometheusSpec"];
    assert_eq!(spec["retention"], "7d");
    assert_eq!(spec["enableRemoteWriteReceiver"], true);
    assert_eq!(spec["resources"]["requests"]["memory"], "512Mi");
    assert_eq!(spec["resources"]["limits"]["memory"], "2Gi");
    let claim = &spec["storageSpec"]["volumeClaimTemplate"]["spec"];
    assert_eq!(claim["resources"]["requests"]["storage"], "10Gi");
    assert!(
        claim.get("storageClassName").is_none(),
        "the default StorageClass"
    );
    for selector in [
        "ruleSelectorNilUsesHelmValues",
        "serviceMonitorSelectorNilUsesHelmValues",
    ] {
        assert_eq!(spec[selector], false, "{selector}");
    }
    for rule in std::fs::read_dir(support::repo_file("gitops/addons/monitoring/rules"))
        .expect("rules")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
    {
        for doc in gitops::documents(&std::fs::read_to_string(rule.path()).expect("read")) {
            assert_eq!(doc["kind"], "PrometheusRule");
            assert_eq!(doc["metadata"]["namespace"], "monitoring");
        }
    }
    assert_eq!(
        v["kubeProxy"]["enabled"], false,
        "Cilium replaces kube-proxy"
    );
}

#[test]
fn alertmanager_routes_every_alert_to_the_webhook_loggers_service() {
    let Some(docs) = rendered() else { return };
    let v = values(set(&docs, "kube-prometheus-stack"));
    let am = &v["alertmanager"];
    assert_eq!(am["service"]["type"], "NodePort");
    assert_eq!(am["service"]["nodePort"], 30903);
    let config = &am["config"];
    assert_eq!(config["global"]["resolve_timeout"], "5m");
    let route = &config["route"];
    assert_eq!(
        route["group_by"],
        serde_json::json!(["alertname", "namespace"])
    );
    assert_eq!(route["repeat_interval"], "12h");
    let receivers: Vec<&str> = config["receivers"]
        .as_array()
        .expect("receivers")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    let mut routed = vec![route["receiver"].as_str().expect("receiver")];
    for sub in route["routes"].as_array().expect("routes") {
        routed.push(sub["receiver"].as_str().expect("receiver"));
    }
    assert!(
        routed.iter().all(|r| receivers.contains(r)),
        "{routed:?} vs {receivers:?}"
    );
    let critical = route["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["matchers"] == serde_json::json!(["severity = critical"]))
        .expect("a critical route");
    assert_eq!(critical["group_wait"], "10s");
    let inhibit = &config["inhibit_rules"][0];
    assert_eq!(
        inhibit["source_matchers"],
        serde_json::json!(["severity = critical"])
    );
    assert_eq!(
        inhibit["target_matchers"],
        serde_json::json!(["severity = warning"])
    );

    // The webhook URL is the logger's Service, name, namespace and port.
    let url = config["receivers"][0]["webhook_configs"][0]["url"]
        .as_str()
        .expect("url");
    assert_eq!(
        config["receivers"][0]["webhook_configs"][0]["send_resolved"],
        true
    );
    let logger = file_documents("gitops/addons/monitoring/extras/webhook-logger.yaml");
    let service = logger
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("Service");
    let port = service["spec"]["ports"][0]["port"].as_i64().expect("port");
    assert_eq!(
        url,
        format!(
            "http://{}.{}.svc.cluster.local:{port}/alert",
            service["metadata"]["name"].as_str().expect("name"),
            service["metadata"]["namespace"].as_str().expect("ns")
        )
    );
    let deployment = logger
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("image");
    assert!(
        !image.ends_with(":latest") && image.rsplit('/').next().is_some_and(|l| l.contains(':')),
        "{image}"
    );
}

#[test]
fn loki_keeps_its_logs_and_fluent_bit_ships_to_it_on_the_platform() {
    let Some(docs) = rendered() else { return };
    let platform = platform();
    let loki = set(&docs, "loki");
    assert_eq!(selected(loki), std::slice::from_ref(&platform));
    let v = values(loki);
    assert_eq!(v["deploymentMode"], "SingleBinary");
    assert_eq!(v["singleBinary"]["persistence"]["enabled"], true);
    assert_eq!(v["singleBinary"]["replicas"], 1);
    assert_eq!(v["loki"]["storage"]["type"], "filesystem");

    let fluent = set(&docs, "fluent-bit");
    assert_eq!(selected(fluent), [platform]);
    let outputs = values(fluent)["config"]["outputs"]
        .as_str()
        .expect("outputs");
    assert!(outputs.contains("Name loki"), "{outputs}");
    assert!(
        outputs.contains("Host loki.monitoring.svc.cluster.local") && outputs.contains("Port 3100"),
        "{outputs}"
    );
    // The cluster label is ArgoCD's, filled per cluster.
    assert!(outputs.contains("cluster={{ .name }}"), "{outputs}");
}

#[test]
fn the_other_clusters_remote_write_to_the_platform_by_its_stable_name() {
    let Some(docs) = rendered() else { return };
    let (platform, all) = (platform(), gitops::cluster_labels());
    let agent = set(&docs, "prometheus-agent");
    let mut others: Vec<String> = all.keys().filter(|c| **c != platform).cloned().collect();
    others.sort();
    let mut got = selected(agent);
    got.sort();
    assert_eq!(got, others, "every cluster but the platform");
    assert!(!got.is_empty());
    let v = values(agent);
    assert_eq!(v["prometheus"]["agentMode"], true);
    assert_eq!(v["grafana"]["enabled"], false);
    assert_eq!(v["alertmanager"]["enabled"], false);
    let spec = &v["prometheus"]["prometheusSpec"];
    assert_eq!(spec["externalLabels"]["cluster"], "{{ .name }}");
    // The node's /etc/hosts resolves the stable names, so the agent uses its node's network.
    assert_eq!(spec["hostNetwork"], true);
    let url = spec["remoteWrite"][0]["url"].as_str().expect("url");
    let kps = values(set(&docs, "kube-prometheus-stack"));
    let port = &kps["prometheus"]["service"]["nodePort"];
    assert_eq!(
        url,
        format!(
            "http://{}:{port}/api/v1/write",
            node_bootstrap::kubeadm::stable_name(&platform)
        )
    );
    assert_eq!(
        kps["prometheus"]["prometheusSpec"]["enableRemoteWriteReceiver"],
        true
    );
}
