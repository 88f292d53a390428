//! Every manifest of the repository (`manifests/` and the addons under `gitops/addons/`), the
//! gitops/root and tart-operator charts, and the Cilium chart rendered with the values
//! `tart-infra up` gives it,
//! checked by a real kube-apiserver with the upstream CRDs (Cilium, Istio,
//! prometheus-operator, Argo CD) and ours installed: server-side apply, `dryRun=All`,
//! `fieldValidation=Strict`. Plus the checks that show the helper can fail: a document the
//! server rejects is reported with its file, kind/name and message, and warnings are kept.

mod support;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use conformance::documents::{self, Document};
use conformance::helm::{self, Release};
use conformance::{Applier, Verdict, repo};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::{ESTABLISHED, listed};

/// The upstream CRDs, as `scripts/fetch-upstream.sh` lays them out.
const UPSTREAM_CRDS: [&str; 7] = [
    "cilium/crds",
    "istio/crds",
    "prometheus-operator/crds",
    "argo-cd/crds",
    "sealed-secrets/crds",
    "velero/crds",
    "gatekeeper/crds",
];

/// Cilium as `tart-infra up` installs it on the shipped platform cluster (the values the
/// gitops/root ApplicationSet gives every cluster; a host-agent test compares the two).
fn cilium_values() -> Result<String> {
    let config = host_agent::config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )?;
    let platform = config.cluster("platform").context("no platform cluster")?;
    Ok(host_agent::mac::cilium::values(platform).to_string())
}

/// An addon's upstream chart (`<upstream>/<addon>/chart`) rendered with the `valuesObject`
/// of its ApplicationSet in gitops/root, whose `targetRevision` must be the chart's version.
fn addon_chart(
    helm: &Path,
    upstream: &Path,
    gitops: &[Document],
    addon: &str,
    kube_version: &str,
) -> Result<Vec<Document>> {
    let set = helm::application_set(gitops, addon)?;
    let source = &set.object.data["spec"]["template"]["spec"]["source"];
    let chart = upstream.join(addon).join("chart");
    let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml"))?;
    let pinned = source["targetRevision"].as_str().unwrap_or_default();
    ensure!(
        chart_yaml
            .lines()
            .any(|l| l.trim() == format!("version: {pinned}")),
        "the {addon} ApplicationSet pins chart {pinned}, and {} is another version",
        chart.display()
    );
    let values = source["helm"]["valuesObject"].to_string();
    Ok(helm::render(
        helm,
        &Release {
            name: addon,
            chart: &chart,
            namespace: "kube-system",
            values: &values,
            kube_version,
        },
    )?)
}

#[tokio::test]
async fn every_manifest_and_the_cilium_chart_pass_a_server_side_dry_run() -> Result<()> {
    let Some((helm, upstream)) = support::helm_and_upstream("the manifest dry-run test") else {
        return Ok(());
    };
    let started = Instant::now();
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let mut applier = Applier::new(client.clone());
    eprintln!("control plane up after {:.1?}", started.elapsed());

    let mut crds = Vec::new();
    for dir in UPSTREAM_CRDS {
        crds.extend(documents::read_tree(&upstream.join(dir), &upstream)?);
    }
    crds.extend(documents::read_tree(
        &repo().join("charts/tart-operator/crds"),
        &repo(),
    )?);
    applier
        .install_crds(&crds, ESTABLISHED)
        .await
        .context("installing the upstream CRDs and ours")?;
    // The constraint kinds Gatekeeper generates from the ConstraintTemplates under
    // gitops/addons/gatekeeper (conformance/tests/gatekeeper.rs checks them further).
    let match_schema = conformance::gatekeeper::match_schema(&std::fs::read_to_string(
        upstream.join("gatekeeper/match/matchcrd_constant.go"),
    )?)?;
    let constraint_crds =
        conformance::gatekeeper::constraint_crds(&documents::addons()?, &match_schema)?;
    applier
        .install_crds(&constraint_crds, ESTABLISHED)
        .await
        .context("installing the constraint CRDs of the ConstraintTemplates")?;
    eprintln!(
        "{} CRDs Established after {:.1?}",
        crds.len(),
        started.elapsed()
    );

    let ours = documents::read_tree(&repo().join("manifests"), &repo())?;
    ensure!(!ours.is_empty(), "no documents under manifests/");
    let addons = documents::addons()?;
    ensure!(!addons.is_empty(), "no documents under gitops/addons/");
    let version = client.apiserver_version().await?.git_version;
    let cilium = helm::render(
        &helm,
        &Release {
            name: "cilium",
            chart: &upstream.join("cilium/chart"),
            namespace: "kube-system",
            values: &cilium_values()?,
            kube_version: &version,
        },
    )?;
    ensure!(
        cilium.len() > 10,
        "the Cilium chart rendered only {} objects",
        cilium.len()
    );

    // The app-of-apps `up` points ArgoCD at: its Applications and ApplicationSets.
    let gitops = helm::gitops_root(&helm)?;
    ensure!(!gitops.is_empty(), "gitops/root rendered nothing");
    // metrics-server's pinned chart with the values its ApplicationSet gives it.
    let metrics_server = addon_chart(&helm, &upstream, &gitops, "metrics-server", &version)?;
    // The operator's chart as ArgoCD installs it, with its ServiceMonitor, PrometheusRule,
    // Grafana dashboard and (two replicas) PodDisruptionBudget on.
    let operator = helm::ours(
        &helm,
        "charts/tart-operator",
        "tart-system",
        &json!({
            "monitoring": {
                "serviceMonitor": {"enabled": true},
                "prometheusRule": {"enabled": true},
                "dashboard": {"enabled": true},
            },
            "replicaCount": 2,
        }),
    )?;
    for kind in ["PrometheusRule", "ConfigMap", "PodDisruptionBudget"] {
        ensure!(
            operator.iter().any(|d| d.kind() == kind),
            "charts/tart-operator rendered no {kind}"
        );
    }
    ensure!(
        !operator.is_empty(),
        "charts/tart-operator rendered nothing"
    );

    applier.create_namespaces(&ours, "default").await?;
    applier.create_namespaces(&addons, "default").await?;
    applier.create_namespaces(&cilium, "kube-system").await?;
    applier.create_namespaces(&gitops, "argocd").await?;
    applier.create_namespaces(&operator, "tart-system").await?;
    let mut ours = applier.dry_run_all(&ours, "default").await;
    ours.extend(applier.dry_run_all(&addons, "default").await);
    ours.extend(applier.dry_run_all(&gitops, "argocd").await);
    ours.extend(applier.dry_run_all(&operator, "tart-system").await);
    let mut cilium = applier.dry_run_all(&cilium, "kube-system").await;
    cilium.extend(applier.dry_run_all(&metrics_server, "kube-system").await);

    eprintln!("dry runs done after {:.1?}", started.elapsed());
    for verdict in ours.iter().chain(&cilium) {
        eprintln!("{verdict}");
    }
    // Every rejection fails the test; so does any warning about our own manifests (upstream
    // charts' warnings are printed above, but they are not ours to fix).
    let failures: Vec<&Verdict> = ours
        .iter()
        .filter(|v| v.rejected.is_some() || !v.warnings.is_empty())
        .chain(cilium.iter().filter(|v| v.rejected.is_some()))
        .collect();
    ensure!(
        failures.is_empty(),
        "{} of {} documents failed the server-side dry run:\n{}",
        failures.len(),
        ours.len() + cilium.len(),
        listed(&failures)
    );
    Ok(())
}

/// A Deployment with `field` added to its container.
fn deployment(name: &str, field: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  \
         template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      \
         - name: app\n        image: registry.k8s.io/pause:3.10\n        {field}\n"
    )
}

#[tokio::test]
async fn rejected_documents_are_reported_with_file_kind_name_and_the_servers_message() -> Result<()>
{
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let ns = cp.namespace("rejected").await?;
    let text = [
        deployment("misspelt", "imagePullPolcy: Always"),
        deployment("fine", "imagePullPolicy: Always"),
        "apiVersion: example.invalid/v1\nkind: Unserved\nmetadata: {name: nobody}\n".to_owned(),
    ]
    .join("---\n");
    let docs = documents::parse("fixtures/bad.yaml", &text)?;
    let verdicts = Applier::new(client.clone()).dry_run_all(&docs, &ns).await;
    let shown: Vec<String> = verdicts.iter().map(ToString::to_string).collect();

    // Strict field validation: an unknown field is an error, not a silently dropped field.
    ensure!(
        shown[0].starts_with("fixtures/bad.yaml#1 Deployment misspelt: rejected: "),
        "{shown:?}"
    );
    ensure!(shown[0].contains("imagePullPolcy"), "{}", shown[0]);
    ensure!(verdicts[1].rejected.is_none(), "{}", shown[1]);
    ensure!(
        shown[2].starts_with("fixtures/bad.yaml#3 Unserved nobody: rejected: the API server does not serve example.invalid/v1"),
        "{}",
        shown[2]
    );
    // A dry run stores nothing.
    let stored = Api::<Deployment>::namespaced(client, &ns)
        .get_opt("fine")
        .await?;
    ensure!(stored.is_none(), "the dry run created deployment {ns}/fine");
    Ok(())
}

#[tokio::test]
async fn the_servers_warnings_are_kept() -> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let ns = cp.namespace("warned").await?;
    // Pod Security admission warns (without rejecting) about workloads in a namespace
    // labelled to warn at the restricted level.
    let label = serde_json::json!({
        "metadata": {"labels": {"pod-security.kubernetes.io/warn": "restricted"}}
    });
    Api::<Namespace>::all(client.clone())
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&label))
        .await?;
    let docs = documents::parse(
        "fixtures/privileged.yaml",
        &deployment("privileged", "securityContext: {privileged: true}"),
    )?;
    // Pod Security admission reads namespaces from its informer's cache, which sees the
    // label a moment after the patch: ask again until it does (a fresh CI machine lost
    // that race once).
    let mut applier = Applier::new(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let verdict = applier.dry_run(&docs[0], &ns).await;
        ensure!(verdict.rejected.is_none(), "{verdict}");
        let warned = verdict
            .warnings
            .iter()
            .any(|w| w.contains("would violate PodSecurity \"restricted:latest\""));
        if warned {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no Pod Security warning after 20 s: {verdict}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[test]
fn every_manifest_file_holds_documents() -> Result<()> {
    // An empty or comment-only file under manifests/ or gitops/addons/ would be checked by
    // nothing.
    let addons = documents::addon_files()?;
    ensure!(
        addons
            .iter()
            .any(|f| f.ends_with("monitoring/rules/tart-infra-rules.yaml")),
        "{addons:?}"
    );
    ensure!(
        !addons
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".test.yaml")),
        "promtool's tests are not manifests: {addons:?}"
    );
    for file in documents::yaml_files(&repo().join("manifests"))?
        .into_iter()
        .chain(addons)
    {
        let text = std::fs::read_to_string(&file)?;
        let docs: Vec<Document> = documents::parse(&file.display().to_string(), &text)?;
        ensure!(
            !docs.is_empty(),
            "{} holds no Kubernetes object",
            file.display()
        );
    }
    Ok(())
}
