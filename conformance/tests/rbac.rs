//! The namespace-admin / cluster-readonly RBAC (`gitops/addons/tenancy/rbac`, on every
//! cluster) and the developers' RoleBinding (`gitops/addons/tenancy/demo-<tier>`), against a
//! real kube-apiserver:
//! - the every-cluster addon applies on a cluster without namespace demo (platform), where
//!   the original's install aborted: it holds only cluster-scoped objects;
//! - SubjectAccessReviews show what each group may do: readonly-users read workloads
//!   everywhere but change nothing and read no Secret; developers run apps in demo, not in
//!   kube-system or any other namespace, and cannot read Secrets or grant themselves more.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use conformance::Applier;
use conformance::documents::{self, Document};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tenancy(dir: &str) -> Result<Vec<Document>> {
    Ok(documents::read_tree(
        &repo().join("gitops/addons/tenancy").join(dir),
        &repo(),
    )?)
}

/// `group` may `verb` `resource` (`resource/subresource`, in API group `api_group`) in
/// `namespace` (cluster-wide when empty): the API server's own answer.
async fn may(
    client: &Client,
    group: &str,
    verb: &str,
    api_group: &str,
    resource: &str,
    namespace: &str,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (resource, None),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("someone-in-{group}")),
            groups: Some(vec![group.to_owned(), "system:authenticated".to_owned()]),
            resource_attributes: Some(ResourceAttributes {
                namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
                verb: Some(verb.to_owned()),
                group: Some(api_group.to_owned()),
                resource: Some(resource.to_owned()),
                subresource,
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.context("no status")?.allowed)
}

#[tokio::test]
async fn the_roles_install_without_demo_and_grant_exactly_what_they_say() -> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let mut applier = Applier::new(client.clone());

    // Platform: no namespace demo. The every-cluster addon has nothing namespaced.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    ensure!(namespaces.get_opt("demo").await?.is_none());
    let roles = tenancy("rbac")?;
    ensure!(roles.len() == 3, "{} objects in tenancy/rbac", roles.len());
    for doc in &roles {
        ensure!(
            matches!(doc.kind(), "ClusterRole" | "ClusterRoleBinding")
                && doc.object.metadata.namespace.is_none(),
            "{doc}: the every-cluster addon must hold only cluster-scoped objects"
        );
        let verdict = applier.apply(doc, "default").await;
        ensure!(
            verdict.rejected.is_none() && verdict.warnings.is_empty(),
            "{verdict}"
        );
    }

    // dev: namespace demo and the developers' binding that ships with it (the same file on
    // every tier).
    let binding = tenancy("demo-dev")?
        .into_iter()
        .find(|d| d.kind() == "RoleBinding")
        .context("no RoleBinding in tenancy/demo-dev")?;
    for tier in ["staging", "prod"] {
        let other = std::fs::read_to_string(
            repo().join(format!("gitops/addons/tenancy/demo-{tier}/developers.yaml")),
        )?;
        let dev =
            std::fs::read_to_string(repo().join("gitops/addons/tenancy/demo-dev/developers.yaml"))?;
        ensure!(
            other.replace(tier, "dev") == dev,
            "demo-{tier}/developers.yaml differs from dev's"
        );
    }
    let demo: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "demo"}}))?;
    namespaces.create(&PostParams::default(), &demo).await?;
    let verdict = applier.apply(&binding, "demo").await;
    ensure!(verdict.rejected.is_none(), "{verdict}");

    // (group, verb, API group, resource, namespace, allowed)
    let cases: &[(&str, &str, &str, &str, &str, bool)] = &[
        // readonly-users: read workloads anywhere, change nothing, no Secrets, no exec.
        ("readonly-users", "list", "", "pods", "demo", true),
        ("readonly-users", "get", "", "pods/log", "demo", true),
        (
            "readonly-users",
            "watch",
            "apps",
            "deployments",
            "kube-system",
            true,
        ),
        ("readonly-users", "list", "", "pods", "", true),
        ("readonly-users", "get", "", "nodes", "", true),
        (
            "readonly-users",
            "list",
            "metrics.k8s.io",
            "pods",
            "demo",
            true,
        ),
        (
            "readonly-users",
            "list",
            "networking.k8s.io",
            "networkpolicies",
            "demo",
            true,
        ),
        ("readonly-users", "delete", "", "pods", "demo", false),
        ("readonly-users", "create", "", "pods", "demo", false),
        (
            "readonly-users",
            "update",
            "apps",
            "deployments",
            "demo",
            false,
        ),
        ("readonly-users", "get", "", "secrets", "demo", false),
        ("readonly-users", "list", "", "secrets", "", false),
        (
            "readonly-users",
            "watch",
            "",
            "secrets",
            "kube-system",
            false,
        ),
        ("readonly-users", "create", "", "pods/exec", "demo", false),
        ("readonly-users", "get", "", "pods/exec", "demo", false),
        (
            "readonly-users",
            "create",
            "",
            "pods/portforward",
            "demo",
            false,
        ),
        // developers: run apps in demo.
        ("developers", "create", "apps", "deployments", "demo", true),
        ("developers", "delete", "apps", "deployments", "demo", true),
        (
            "developers",
            "patch",
            "apps",
            "deployments/scale",
            "demo",
            true,
        ),
        (
            "developers",
            "create",
            "autoscaling",
            "horizontalpodautoscalers",
            "demo",
            true,
        ),
        (
            "developers",
            "create",
            "networking.k8s.io",
            "networkpolicies",
            "demo",
            true,
        ),
        ("developers", "create", "", "pods/exec", "demo", true),
        ("developers", "get", "", "pods/log", "demo", true),
        ("developers", "list", "", "events", "demo", true),
        // ... and nowhere else, and no more.
        (
            "developers",
            "create",
            "apps",
            "deployments",
            "kube-system",
            false,
        ),
        ("developers", "list", "", "pods", "default", false),
        ("developers", "get", "", "secrets", "demo", false),
        ("developers", "list", "", "secrets", "demo", false),
        (
            "developers",
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            "demo",
            false,
        ),
        ("developers", "update", "", "resourcequotas", "demo", false),
        ("developers", "delete", "", "limitranges", "demo", false),
        ("developers", "list", "", "nodes", "", false),
        ("developers", "delete", "", "namespaces", "", false),
        // Someone in neither group.
        ("contractors", "list", "", "pods", "demo", false),
    ];
    let mut wrong = Vec::new();
    for &(group, verb, api_group, resource, namespace, allowed) in cases {
        let answer = may(&client, group, verb, api_group, resource, namespace).await?;
        if answer != allowed {
            wrong.push(format!(
                "{group} {verb} {api_group}/{resource} in {:?}: allowed={answer}, expected {allowed}",
                namespace
            ));
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

#[test]
fn rbac_goes_to_every_cluster_and_each_tiers_demo_limits_to_that_tier() -> Result<()> {
    let values: Value = serde_yaml::from_str(&std::fs::read_to_string(
        repo().join("gitops/root/values.yaml"),
    )?)?;
    let addons = values["directoryAddons"]
        .as_array()
        .context("directoryAddons")?;
    let find = |name: &str| {
        addons
            .iter()
            .find(|a| a["name"] == name)
            .with_context(|| format!("no directory addon {name}"))
    };
    let rbac = find("rbac")?;
    ensure!(
        rbac["selector"]
            == serde_json::json!({"matchExpressions": [{"key": "tartinfra.dev/tier", "operator": "Exists"}]}),
        "{}",
        rbac["selector"]
    );
    // Every cluster's ArgoCD Secret carries the tier label the selector asks for.
    let config = host_agent::config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )?;
    for c in &config.clusters {
        let labels = crds::argocd::argocd_labels(&c.name, c.tier, &c.addons);
        ensure!(
            labels.contains_key("tartinfra.dev/tier"),
            "{}: {labels:?}",
            c.name
        );
    }
    for tier in ["dev", "staging", "prod"] {
        let addon = find(&format!("demo-limits-{tier}"))?;
        ensure!(
            addon["selector"] == serde_json::json!({"matchLabels": {"tartinfra.dev/tier": tier}}),
            "{}",
            addon["selector"]
        );
        ensure!(addon["path"] == format!("gitops/addons/tenancy/demo-{tier}"));
        ensure!(addon["namespace"] == "demo");
    }
    Ok(())
}
