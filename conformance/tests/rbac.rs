//! The namespace-admin / cluster-readonly RBAC (`gitops/addons/tenancy/rbac`, on every
//! cluster) and the developers' RoleBinding (`gitops/addons/tenancy/demo-<tier>`), against a
//! real kube-apiserver:
//! - the every-cluster addon applies on a cluster without namespace demo (platform), where
//!   the original's install aborted: it holds only cluster-scoped objects;
//! - SubjectAccessReviews show what each group may do: readonly-users read workloads
//!   everywhere but change nothing and read no Secret; developers run apps in demo, not in
//!   kube-system or any other namespace, and cannot read Secrets or grant themselves more.

use anyhow::{Context, Result, ensure};
use conformance::Applier;
use conformance::documents::{self, Document};
use conformance::repo;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::Value;

/// The documents of `gitops/addons/tenancy/<dir>`.
fn tenancy(dir: &str) -> Result<Vec<Document>> {
    Ok(documents::addon(&format!("tenancy/{dir}"))?)
}

/// `group` may `verb` `resource` (`resource.apigroup/subresource`, as kubectl names them) in
/// `namespace` (cluster-wide when empty): the API server's own answer.
async fn may(
    client: &Client,
    group: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (resource, None),
    };
    let (resource, api_group) = resource.split_once('.').unwrap_or((resource, ""));
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

/// What each group may do: group, verb, resource (`resource.group/subresource`, as kubectl
/// names them), namespace (`-`: cluster-wide), allowed.
const CASES: &str = "
readonly-users  list    pods                                       demo         yes
readonly-users  get     pods/log                                   demo         yes
readonly-users  watch   deployments.apps                           kube-system  yes
readonly-users  list    pods                                       -            yes
readonly-users  get     nodes                                      -            yes
readonly-users  list    pods.metrics.k8s.io                        demo         yes
readonly-users  list    networkpolicies.networking.k8s.io          demo         yes
readonly-users  delete  pods                                       demo         no
readonly-users  create  pods                                       demo         no
readonly-users  update  deployments.apps                           demo         no
readonly-users  get     secrets                                    demo         no
readonly-users  list    secrets                                    -            no
readonly-users  watch   secrets                                    kube-system  no
readonly-users  create  pods/exec                                  demo         no
readonly-users  get     pods/exec                                  demo         no
readonly-users  create  pods/portforward                           demo         no
developers      create  deployments.apps                           demo         yes
developers      delete  deployments.apps                           demo         yes
developers      patch   deployments.apps/scale                     demo         yes
developers      create  horizontalpodautoscalers.autoscaling       demo         yes
developers      create  networkpolicies.networking.k8s.io          demo         yes
developers      create  pods/exec                                  demo         yes
developers      get     pods/log                                   demo         yes
developers      list    events                                     demo         yes
developers      create  deployments.apps                           kube-system  no
developers      list    pods                                       default      no
developers      get     secrets                                    demo         no
developers      list    secrets                                    demo         no
developers      create  rolebindings.rbac.authorization.k8s.io     demo         no
developers      update  resourcequotas                             demo         no
developers      delete  limitranges                                demo         no
developers      list    nodes                                      -            no
developers      delete  namespaces                                 -            no
contractors     list    pods                                       demo         no
";

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

    let mut wrong = Vec::new();
    for line in CASES.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [group, verb, resource, namespace, allowed] = words[..] else {
            anyhow::bail!("a case of five words: {line:?}");
        };
        let namespace = if namespace == "-" { "" } else { namespace };
        let allowed = match allowed {
            "yes" => true,
            "no" => false,
            other => anyhow::bail!("allowed is yes or no, not {other:?}: {line:?}"),
        };
        let answer = may(&client, group, verb, resource, namespace).await?;
        if answer != allowed {
            wrong.push(format!(
                "{group} {verb} {resource} in {namespace:?}: allowed={answer}, expected {allowed}"
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
