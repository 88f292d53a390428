//! Istio's control plane as gitops/root installs it on the clusters with Istio (dev), and
//! Cilium chained with it there:
//!
//! - gitops/root's `istio` ApplicationSet, generated for dev as ArgoCD's cluster generator
//!   would, renders gitops/istio into the four Applications (base, cni, istiod, gateway) in
//!   sync waves 0-3, each with the pinned release of its chart;
//! - each of Istio's charts is rendered with exactly the values of its Application. The
//!   charts come from the istio.io/istio Go module (`scripts/fetch-upstream.sh`), a snapshot
//!   of master, not the pinned release (Istio publishes no release as a Go module). Only the
//!   gateway chart has a `values.schema.json` (helm rejects its unknown keys and wrong
//!   types); base, cni and istiod ignore unknown keys, so every key we set must also exist in
//!   the chart's `values.yaml` with a value of the same type ([`unknown_or_mistyped`]);
//! - everything rendered (the Applications, the charts' objects, and Cilium's chart with
//!   dev's values) passes a server-side dry run (`fieldValidation=Strict`) against a real
//!   API server with Istio's, Cilium's and Argo CD's CRDs installed, and the rendered
//!   objects show that the values took effect.

mod support;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use conformance::documents::{self, Document};
use conformance::helm::{self, Release};
use conformance::{Applier, Verdict};
use serde_json::{Value, json};
use support::{ESTABLISHED, find, listed};

const WHO: &str = "the Istio chart tests";
/// What the cluster generator gives the template for dev's ArgoCD cluster Secret.
const DEV_SERVER: &str = "https://api.dev.tart-infra.internal:6443";

/// Where the Go module keeps the chart an Application names (its Chart.yaml `name` must be
/// that chart's).
fn chart_dir(upstream: &Path, chart: &str) -> Result<PathBuf> {
    let dir = match chart {
        "base" => "base",
        "cni" => "istio-cni",
        "istiod" => "istio-control/istio-discovery",
        "gateway" => "gateway",
        other => bail!("no Istio chart {other} in the module"),
    };
    let dir = upstream.join("istio/charts").join(dir);
    let chart_yaml = std::fs::read_to_string(dir.join("Chart.yaml"))
        .with_context(|| format!("{}", dir.display()))?;
    ensure!(
        chart_yaml
            .lines()
            .any(|l| l.trim() == format!("name: {chart}")),
        "{} is not the {chart} chart",
        dir.display()
    );
    Ok(dir)
}

/// The defaults a chart starts from: its values.yaml, with Istio's
/// `_internal_defaults_do_not_set` (the real defaults, merged in by the chart's
/// zzz_profile.yaml) lifted to the top.
fn chart_defaults(dir: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join("values.yaml"))?;
    let mut values: Value = serde_yaml::from_str(&text)?;
    let map = values.as_object_mut().context("values.yaml is no map")?;
    if let Some(Value::Object(internal)) = map.remove("_internal_defaults_do_not_set") {
        for (k, v) in internal {
            map.entry(k).or_insert(v);
        }
    }
    Ok(values)
}

/// The maps whose keys are free: ours are checked by what reads them, not by values.yaml.
/// istiod's `meshConfig` is Istio's MeshConfig (istio.mesh.v1alpha1), which values.yaml
/// only samples; the gateway's `labels` are labels (and that chart has a schema).
fn free_form(chart: &str) -> &'static [&'static str] {
    match chart {
        "istiod" => &["meshConfig"],
        "gateway" => &["labels"],
        _ => &[],
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Every key of `values` that `defaults` does not have, and every value whose type differs
/// from the default's, as `path: what is wrong`. A default that is null or an empty map
/// takes anything (a map the user fills, e.g. `nodeSelector`); lists are not looked into.
/// A `resources` map is a container's resource requirements (`requests` and `limits` of
/// quantities), whatever the default shows of it. istiod copies `pilot.*` to the top
/// (zzy_descope_legacy.yaml), so `pilot` is checked against the top level.
fn unknown_or_mistyped(chart: &str, values: &Value, defaults: &Value) -> Vec<String> {
    fn walk(path: &str, v: &Value, d: Option<&Value>, free: &[&str], out: &mut Vec<String>) {
        if free.contains(&path) {
            return;
        }
        if d.is_some() && (path == "resources" || path.ends_with(".resources")) {
            for (k, q) in v.as_object().into_iter().flatten() {
                let quantities = q
                    .as_object()
                    .is_some_and(|m| m.values().all(|x| x.is_string() || x.is_number()));
                if !["requests", "limits"].contains(&k.as_str()) || !quantities {
                    out.push(format!("{path}.{k}: not requests or limits of quantities"));
                }
            }
            if !v.is_object() {
                out.push(format!(
                    "{path}: {} where resource requirements go",
                    kind(v)
                ));
            }
            return;
        }
        let Some(d) = d else {
            out.push(format!("{path}: no such key in the chart's values.yaml"));
            return;
        };
        match (v, d) {
            (_, Value::Null) => {}
            (_, Value::Object(dm)) if dm.is_empty() => {}
            (Value::Object(vm), Value::Object(dm)) => {
                for (k, vv) in vm {
                    walk(&format!("{path}.{k}"), vv, dm.get(k), free, out);
                }
            }
            _ if kind(v) != kind(d) => out.push(format!(
                "{path}: {} where the chart's default is {} ({d})",
                kind(v),
                kind(d)
            )),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let free = free_form(chart);
    for (k, v) in values.as_object().into_iter().flatten() {
        let d = if chart == "istiod" && k == "pilot" {
            Some(defaults)
        } else {
            defaults.get(k)
        };
        walk(k, v, d, free, &mut out);
    }
    out
}

/// The four Applications of dev: gitops/root's istio ApplicationSet generated for dev (its
/// `{{ .name }}` and `{{ .server }}` replaced as the cluster generator does), then
/// gitops/istio rendered with the values it passes.
fn dev_applications(helm: &Path) -> Result<(Vec<Document>, Value)> {
    let root = helm::gitops_root(helm)?;
    let set = helm::application_set(&root, "istio")?;
    let spec = &set.object.data["spec"];
    ensure!(
        spec["generators"][0]["clusters"]["selector"]["matchLabels"]["addons.tartinfra.dev/istio"]
            == "true",
        "the istio ApplicationSet selects {}",
        spec["generators"][0]
    );
    let source = &spec["template"]["spec"]["source"];
    ensure!(source["path"] == "gitops/istio", "{source}");
    let generated = source["helm"]["valuesObject"]
        .to_string()
        .replace("{{ .name }}", "dev")
        .replace("{{ .server }}", DEV_SERVER);
    ensure!(!generated.contains("{{"), "{generated}");
    let values: Value = serde_json::from_str(&generated)?;
    let apps = helm::ours(helm, "gitops/istio", "argocd", &values)?;
    Ok((apps, values))
}

#[test]
fn the_key_check_catches_an_unknown_key_a_wrong_type_and_the_originals_stale_key() -> Result<()> {
    let Some((_, upstream)) = support::helm_and_upstream(WHO) else {
        return Ok(());
    };
    let defaults = chart_defaults(&chart_dir(&upstream, "istiod")?)?;
    let fine = json!({
        "pilot": {"cni": {"enabled": true}, "resources": {"limits": {"cpu": "500m"}}},
        "meshConfig": {"accessLogFile": "/dev/stdout"},
    });
    ensure!(unknown_or_mistyped("istiod", &fine, &defaults).is_empty());
    let wrong = json!({
        "pilot": {
            "cni": {"enabeld": true},
            "autoscaleEnabled": "false",
            "resources": {"limit": {"cpu": "500m"}},
        },
        // The original's istio-values.yaml set this; the chart has no such key any more.
        "global": {"proxy_init": {"resources": {"requests": {"cpu": "10m"}}}},
    });
    let found = unknown_or_mistyped("istiod", &wrong, &defaults);
    ensure!(found.len() == 4, "{found:#?}");
    ensure!(
        found.contains(&"pilot.resources.limit: not requests or limits of quantities".to_owned()),
        "{found:#?}"
    );
    ensure!(
        found.contains(&"pilot.cni.enabeld: no such key in the chart's values.yaml".to_owned()),
        "{found:#?}"
    );
    ensure!(
        found.iter().any(|f| f.starts_with(
            "pilot.autoscaleEnabled: a string where the chart's default is a boolean"
        )),
        "{found:#?}"
    );
    ensure!(
        found
            .iter()
            .any(|f| f.starts_with("global.proxy_init.resources: no such key")),
        "{found:#?}"
    );
    Ok(())
}

/// The gateway chart's schema forbids unknown keys at the top only (`service` and the rest
/// allow any key), so the key check runs on the gateway's values too.
#[test]
fn the_gateway_charts_schema_rejects_an_unknown_key_and_a_wrong_type() -> Result<()> {
    let Some((helm, upstream)) = support::helm_and_upstream(WHO) else {
        return Ok(());
    };
    let chart = chart_dir(&upstream, "gateway")?;
    for (values, named) in [
        (json!({"serivce": {"type": "NodePort"}}), "serivce"),
        (json!({"service": {"type": 5}}), "type"),
    ] {
        let err = helm::template(
            &helm,
            &Release {
                name: "istio-ingressgateway",
                chart: &chart,
                namespace: "istio-ingress",
                values: &values.to_string(),
                kube_version: helm::KUBE_VERSION,
            },
        )
        .err()
        .with_context(|| format!("helm accepted {values}"))?;
        ensure!(err.to_string().contains(named), "{err}");
    }
    let nested = json!({"service": {"tpye": "NodePort"}});
    let found = unknown_or_mistyped("gateway", &nested, &chart_defaults(&chart)?);
    ensure!(
        found == ["service.tpye: no such key in the chart's values.yaml"],
        "{found:?}"
    );
    Ok(())
}

/// Which of Istio's charts a rendered object came from, and the Application.
struct Rendered {
    app: String,
    docs: Vec<Document>,
}

#[tokio::test]
async fn istio_charts_render_with_exactly_our_values_in_order_and_pass_a_dry_run() -> Result<()> {
    let Some((helm, upstream)) = support::helm_and_upstream(WHO) else {
        return Ok(());
    };
    let (apps, values) = dev_applications(&helm)?;
    let pinned = values["istio"]["version"]
        .as_str()
        .context("istio.version")?;
    ensure!(
        pinned.split('.').count() == 3 && pinned.split('.').all(|p| p.parse::<u32>().is_ok()),
        "istio.version {pinned} is not an exact release"
    );

    // The order: base, cni, istiod, gateway in waves 0..3, each pinned.
    let order: Vec<(String, String)> = apps
        .iter()
        .map(|a| {
            let d = &a.object.data;
            (
                a.object.metadata.annotations.clone().unwrap_or_default()
                    ["argocd.argoproj.io/sync-wave"]
                    .clone(),
                d["spec"]["source"]["chart"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = ["base", "cni", "istiod", "gateway"]
        .iter()
        .enumerate()
        .map(|(i, c)| (i.to_string(), (*c).to_owned()))
        .collect();
    ensure!(order == want, "{order:?}");
    for a in &apps {
        let spec = &a.object.data["spec"];
        ensure!(spec["source"]["targetRevision"] == pinned, "{a}");
        ensure!(
            spec["source"]["repoURL"] == "https://istio-release.storage.googleapis.com/charts",
            "{a}"
        );
        ensure!(spec["destination"]["server"] == DEV_SERVER, "{a}");
        ensure!(a.name().ends_with("-dev"), "{a}");
    }

    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let version = client.apiserver_version().await?.git_version;

    // Each chart with exactly its Application's values.
    let mut rendered = Vec::new();
    let mut namespaces = Vec::new();
    for a in &apps {
        let spec = &a.object.data["spec"];
        let chart = spec["source"]["chart"].as_str().context("chart")?;
        let release = spec["source"]["helm"]["releaseName"]
            .as_str()
            .context("release")?;
        let namespace = spec["destination"]["namespace"]
            .as_str()
            .context("namespace")?;
        let chart_values = &spec["source"]["helm"]["valuesObject"];
        let dir = chart_dir(&upstream, chart)?;
        let wrong = unknown_or_mistyped(chart, chart_values, &chart_defaults(&dir)?);
        ensure!(
            wrong.is_empty(),
            "{a}: values the {chart} chart does not know:\n{}",
            wrong.join("\n")
        );
        let docs = helm::render(
            &helm,
            &Release {
                name: release,
                chart: &dir,
                namespace,
                values: &chart_values.to_string(),
                kube_version: &version,
            },
        )?;
        ensure!(!docs.is_empty(), "{chart} rendered nothing");
        // The namespace as ArgoCD creates it (CreateNamespace, managedNamespaceMetadata).
        let labels = &spec["syncPolicy"]["managedNamespaceMetadata"]["labels"];
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": if labels.is_object() { labels.clone() } else { json!({}) }}});
        namespaces.extend(documents::parse(
            &format!("{} namespace", a.name()),
            &serde_yaml::to_string(&ns)?,
        )?);
        rendered.push(Rendered {
            app: a.name().to_owned(),
            docs,
        });
    }
    let by_app = |app: &str| -> Result<&[Document]> {
        Ok(&rendered
            .iter()
            .find(|r| r.app == app)
            .with_context(|| format!("no {app}"))?
            .docs)
    };

    // The values took effect.
    let cni = by_app("istio-cni-dev")?;
    let node = find(cni, "DaemonSet", "istio-cni-node")?;
    ensure!(
        node.object.metadata.namespace.as_deref() == Some("istio-cni"),
        "{node}"
    );
    let istiod = by_app("istio-istiod-dev")?;
    let injector = find(istiod, "ConfigMap", "istio-sidecar-injector")?;
    let injector_values: Value = serde_json::from_str(
        injector.object.data["data"]["values"]
            .as_str()
            .context("the injector's values")?,
    )?;
    ensure!(
        injector_values["pilot"]["cni"]["enabled"] == true,
        "pods get istio-validation, not istio-init: {}",
        injector_values["pilot"]["cni"]
    );
    ensure!(
        injector_values["global"]["proxy"]["resources"]["limits"]["memory"] == "128Mi",
        "{}",
        injector_values["global"]["proxy"]["resources"]
    );
    ensure!(
        !istiod
            .iter()
            .any(|d| d.kind() == "HorizontalPodAutoscaler" || d.kind() == "PodDisruptionBudget"),
        "istiod has no HPA and no PDB"
    );
    let mesh = find(istiod, "ConfigMap", "istio")?.object.data["data"]["mesh"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(mesh.contains("accessLogFile: /dev/stdout"), "{mesh}");
    let pilot = find(istiod, "Deployment", "istiod")?;
    ensure!(
        pilot.object.data["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]
            == "500m",
        "{pilot}"
    );
    let gateway = by_app("istio-gateway-dev")?;
    let deployment = find(gateway, "Deployment", "istio-ingressgateway")?;
    ensure!(
        deployment.object.data["spec"]["template"]["metadata"]["labels"]["istio"]
            == "ingressgateway",
        "gitops/addons/istio/gateway.yaml selects istio=ingressgateway: {}",
        deployment.object.data["spec"]["template"]["metadata"]["labels"]
    );
    let service = find(gateway, "Service", "istio-ingressgateway")?;
    ensure!(
        service.object.data["spec"]["type"] == "NodePort"
            && service.object.data["spec"]["ports"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["nodePort"] == 31080)),
        "{}",
        service.object.data["spec"]
    );

    // Cilium with dev's values (chained with Istio's CNI): the same function gitops/root's
    // Cilium ApplicationSet is compared with.
    let config = host_agent::config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )?;
    let dev = config.cluster("dev").context("no dev cluster")?;
    ensure!(dev.addons.istio, "dev has Istio in config/clusters.yaml");
    let cilium = helm::render(
        &helm,
        &Release {
            name: "cilium",
            chart: &upstream.join("cilium/chart"),
            namespace: "kube-system",
            values: &host_agent::mac::cilium::values(dev).to_string(),
            kube_version: &version,
        },
    )?;
    let config_map = &find(&cilium, "ConfigMap", "cilium-config")?.object.data["data"];
    ensure!(
        config_map["cni-exclusive"] == "false" && config_map["bpf-lb-sock-hostns-only"] == "true",
        "cni-exclusive {} bpf-lb-sock-hostns-only {}",
        config_map["cni-exclusive"],
        config_map["bpf-lb-sock-hostns-only"]
    );
    ensure!(
        config_map["cluster-name"] == "dev" && config_map["kube-proxy-replacement"] == "true",
        "{config_map}"
    );

    // The server's verdict on all of it.
    let mut applier = Applier::new(client.clone());
    let mut crds = Vec::new();
    for dir in ["istio/crds", "argo-cd/crds", "cilium/crds"] {
        crds.extend(documents::read_tree(&upstream.join(dir), &upstream)?);
    }
    applier
        .install_crds(&crds, ESTABLISHED)
        .await
        .context("installing Istio's, Argo CD's and Cilium's CRDs")?;
    let charts: Vec<Document> = rendered.iter().flat_map(|r| r.docs.clone()).collect();
    let mut with_namespaces = namespaces.clone();
    with_namespaces.extend(charts.iter().cloned());
    applier
        .create_namespaces(&with_namespaces, "istio-system")
        .await?;
    applier.create_namespaces(&apps, "argocd").await?;
    applier.create_namespaces(&cilium, "kube-system").await?;
    let ours = applier.dry_run_all(&apps, "argocd").await;
    let mut upstream_verdicts = applier.dry_run_all(&charts, "istio-system").await;
    upstream_verdicts.extend(applier.dry_run_all(&cilium, "kube-system").await);
    for v in ours.iter().chain(&upstream_verdicts) {
        eprintln!("{v}");
    }
    let failures: Vec<&Verdict> = ours
        .iter()
        .filter(|v| v.rejected.is_some() || !v.warnings.is_empty())
        .chain(upstream_verdicts.iter().filter(|v| v.rejected.is_some()))
        .collect();
    ensure!(
        failures.is_empty(),
        "{} of {} documents failed the server-side dry run:\n{}",
        failures.len(),
        ours.len() + upstream_verdicts.len(),
        listed(&failures)
    );
    ensure!(
        charts.len() > 20,
        "only {} objects from the four charts",
        charts.len()
    );
    Ok(())
}
