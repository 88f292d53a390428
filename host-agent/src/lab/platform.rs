//! What `lab up` writes into the clusters: on platform the CRDs, the operator's RBAC, the
//! ManagedClusters and their kubeconfig Secrets, the tokens; on clusters that ask for demo
//! apps, the demo workloads.

use std::time::{Duration, Instant};

use base64::Engine as _;
use crds::ManagedCluster;
use crds::managed_cluster::{ManagedClusterSpec, Provider, SecretKeyRef};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use local_control_plane::{ControlPlane, apply_objects, apply_yaml, parse_yaml_documents};
use serde_json::json;

use super::demo_credentials::{self, CredentialsError};
use crate::config::{ClusterConfig, Config};
use crate::rbac::{self, RbacError};

/// Namespace of the operator, its Secrets and the lab user.
pub const SYSTEM_NAMESPACE: &str = "tart-system";
/// The label on everything the lab creates on platform.
pub const LAB_LABEL: &str = "tartinfra.dev/lab";
const FIELD_MANAGER: &str = "tart-infra-lab";
/// The ServiceAccount whose token the lab prints for the dashboard and API.
pub const USER_ACCOUNT: &str = "lab-user";
const TOKEN_SECONDS: i64 = 7 * 24 * 3600;

/// The demo workloads, in apply order: `gitops/addons/demo-apps/`, the directory ArgoCD syncs
/// to clusters with demo apps (one source for both).
pub const DEMO: [(&str, &str); 8] = [
    (
        "00-namespace.yaml",
        include_str!("../../../gitops/addons/demo-apps/00-namespace.yaml"),
    ),
    (
        "credentials.yaml",
        include_str!("../../../gitops/addons/demo-apps/credentials.yaml"),
    ),
    (
        "nginx-web.yaml",
        include_str!("../../../gitops/addons/demo-apps/nginx-web.yaml"),
    ),
    (
        "httpbin.yaml",
        include_str!("../../../gitops/addons/demo-apps/httpbin.yaml"),
    ),
    (
        "redis.yaml",
        include_str!("../../../gitops/addons/demo-apps/redis.yaml"),
    ),
    (
        "postgres.yaml",
        include_str!("../../../gitops/addons/demo-apps/postgres.yaml"),
    ),
    (
        "rabbitmq.yaml",
        include_str!("../../../gitops/addons/demo-apps/rabbitmq.yaml"),
    ),
    (
        "keycloak.yaml",
        include_str!("../../../gitops/addons/demo-apps/keycloak.yaml"),
    ),
];

/// Why something could not be installed on a lab cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The API server refused or failed a request.
    #[error("{action}: {source}")]
    Api {
        /// What was being done, naming the object or manifest.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// A CRD was accepted but not served in time.
    #[error(
        "CRD {name} not Established after 60 s; see kube-apiserver.log of the platform cluster in the state directory"
    )]
    NotEstablished {
        /// The CRD.
        name: String,
    },
    /// A target cluster's client could not be built.
    #[error("connecting to cluster {cluster}: {source}")]
    Target {
        /// The cluster.
        cluster: String,
        /// The cause.
        #[source]
        source: local_control_plane::Error,
    },
    /// A TokenRequest was answered without a token.
    #[error("the API server returned no token for {SYSTEM_NAMESPACE}/{account}")]
    NoToken {
        /// The ServiceAccount.
        account: String,
    },
    /// The chart's RBAC rules could not be read (a bug, not bad input).
    #[error(transparent)]
    Rbac(#[from] RbacError),
    /// An object the lab builds could not be encoded (a bug, not bad input).
    #[error("building {what}: {source}")]
    Encode {
        /// The object.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The chart's LoadTest admission policy file does not parse (a bug the unit tests catch).
    #[error("{LOADTEST_POLICY_PATH}: {0}")]
    LoadTestPolicy(#[source] serde_yaml::Error),
    /// A shipped demo manifest could not be read (a bug the unit tests catch).
    #[error("gitops/addons/demo-apps/{file}: {message}")]
    DemoManifest {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The demo apps' credentials could not be created.
    #[error(transparent)]
    Credentials(#[from] Box<CredentialsError>),
}

/// Adds what was being done to a client error.
fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> PlatformError {
    let action = action.into();
    move |source| PlatformError::Api { action, source }
}

/// Installs the CRDs and waits until the API server serves them.
pub async fn install_crds(client: &Client) -> Result<(), PlatformError> {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for (_, crd) in crds::all() {
        names.push(crd.name_any());
        definitions
            .patch(
                &crd.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .map_err(api(format!("installing CRD {}", crd.name_any())))?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in names {
        loop {
            let crd = definitions
                .get(&name)
                .await
                .map_err(api(format!("reading CRD {name}")))?;
            let established = crd.status.and_then(|s| s.conditions).is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            if established {
                break;
            }
            if Instant::now() >= deadline {
                return Err(PlatformError::NotEstablished { name });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// The chart's LoadTest admission policy file (see [`loadtest_policy_objects`]).
pub const LOADTEST_POLICY_PATH: &str = "charts/tart-operator/files/loadtest-policy.yaml";
const LOADTEST_POLICY_YAML: &str =
    include_str!("../../../charts/tart-operator/files/loadtest-policy.yaml");

/// The ValidatingAdmissionPolicy that refuses LoadTests breaking their ManagedCluster's
/// loadTestPolicy, and its binding: the chart's spec file with the chart's names for a
/// release called `tart-operator`, so the lab refuses at create what an install does.
pub fn loadtest_policy_objects() -> Result<Vec<kube::api::DynamicObject>, PlatformError> {
    let encode = |source| PlatformError::Encode {
        what: LOADTEST_POLICY_PATH.to_owned(),
        source,
    };
    let spec: serde_json::Value =
        serde_yaml::from_str(LOADTEST_POLICY_YAML).map_err(PlatformError::LoadTestPolicy)?;
    let name = format!("{}-loadtest-policy", rbac::OPERATOR);
    let mut binding = spec["binding"].clone();
    binding["policyName"] = json!(name);
    let labels = json!({ "app.kubernetes.io/part-of": "tart-infra", LAB_LABEL: "true" });
    [
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": { "name": name, "labels": labels }, "spec": spec["policy"],
        }),
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": { "name": name, "labels": labels }, "spec": binding,
        }),
    ]
    .into_iter()
    .map(|o| serde_json::from_value(o).map_err(encode))
    .collect()
}

/// Applies [`loadtest_policy_objects`].
pub async fn install_loadtest_policy(client: &Client) -> Result<(), PlatformError> {
    apply_objects(client, loadtest_policy_objects()?, SYSTEM_NAMESPACE)
        .await
        .map_err(api(format!(
            "applying the LoadTest admission policy ({LOADTEST_POLICY_PATH})"
        )))?;
    Ok(())
}

/// The operator's RBAC and the user roles (both from the chart's rules, [`rbac`]) and the
/// lab user bound to `tart-infra-tester`.
pub async fn install_rbac(client: &Client) -> Result<(), PlatformError> {
    apply_objects(
        client,
        rbac::operator_objects(SYSTEM_NAMESPACE)?,
        SYSTEM_NAMESPACE,
    )
    .await
    .map_err(api(format!(
        "applying the operator's RBAC ({})",
        rbac::RULES_PATH
    )))?;
    apply_objects(client, rbac::user_role_objects()?, SYSTEM_NAMESPACE)
        .await
        .map_err(api(format!(
            "applying the user roles ({})",
            rbac::RULES_PATH
        )))?;
    let user = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {USER_ACCOUNT}, namespace: {SYSTEM_NAMESPACE}, labels: {{{LAB_LABEL}: \"true\"}}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: tart-infra-lab-user, labels: {{{LAB_LABEL}: \"true\"}}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tart-infra-tester}}\n\
         subjects: [{{kind: ServiceAccount, name: {USER_ACCOUNT}, namespace: {SYSTEM_NAMESPACE}}}]\n"
    );
    apply_yaml(client, &user, SYSTEM_NAMESPACE)
        .await
        .map_err(api("creating the lab user"))?;
    Ok(())
}

/// The audience the operator's API takes tokens for (its `--token-audience` default).
pub const OPERATOR_AUDIENCE: &str = "tart-operator";

/// A token for a ServiceAccount in tart-system (a week; `lab up` makes new ones each
/// time), for `audience` ([`OPERATOR_AUDIENCE`] for the operator's API), else for the API
/// server itself.
pub async fn token(
    client: &Client,
    account: &str,
    audience: Option<&str>,
) -> Result<String, PlatformError> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.into_iter().map(str::to_owned).collect(),
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(client.clone(), SYSTEM_NAMESPACE)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(api(format!(
            "requesting a token for {SYSTEM_NAMESPACE}/{account}"
        )))?;
    answer
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PlatformError::NoToken {
            account: account.to_owned(),
        })
}

/// A kubeconfig for the platform with a bearer token (the operator's identity).
pub fn kubeconfig(cp: &ControlPlane, user: &str, token: &str) -> String {
    use std::fmt::Write as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(cp.ca_pem());
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n\
         users:\n- name: {user}\n  user:\n    token: {token}\n\
         contexts:\n- name: {user}@{name}\n  context:\n    cluster: {name}\n    user: {user}\n\
         current-context: {user}@{name}\n",
        name = cp.name(),
        url = cp.url(),
    );
    s
}

/// The ManagedCluster of a lab cluster: provider external, everything else from the
/// configuration.
pub fn managed_cluster(c: &ClusterConfig, kubernetes_version: &str) -> ManagedCluster {
    let mut mc = ManagedCluster::new(
        c.name.as_str(),
        ManagedClusterSpec {
            tier: c.tier,
            provider: Provider::External,
            kubernetes_version: Some(kubernetes_version.to_owned()),
            base_image: None,
            network: Some(c.network.clone()),
            nodes: Some(c.nodes.clone()),
            addons: c.addons.clone(),
            kubeconfig_secret_ref: Some(secret_ref(c.name.as_str())),
            connection: Default::default(),
            paused: false,
            load_test_policy: Default::default(),
        },
    );
    mc.metadata.labels = Some([(LAB_LABEL.to_owned(), "true".to_owned())].into());
    mc
}

fn secret_ref(cluster: &str) -> SecretKeyRef {
    SecretKeyRef {
        namespace: SYSTEM_NAMESPACE.into(),
        name: format!("{cluster}-kubeconfig").as_str().into(),
        key: "kubeconfig".to_owned(),
    }
}

/// Registers the target clusters on platform (kubeconfig Secret + ManagedCluster) and
/// removes lab ManagedClusters of clusters this run does not start. The kubeconfig is the
/// target's [`local_control_plane::OPERATOR_USER`], bound there to the operator's target
/// rules ([`rbac::target_objects`]), not an admin.
pub async fn register(
    platform: &Client,
    config: &Config,
    targets: &[(&ClusterConfig, &ControlPlane)],
) -> Result<(), PlatformError> {
    let secrets: Api<Secret> = Api::namespaced(platform.clone(), SYSTEM_NAMESPACE);
    let clusters: Api<ManagedCluster> = Api::all(platform.clone());
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    for (c, cp) in targets {
        // The operator reaches each target as its own user, bound only to the target rules.
        let target = cp.client().await.map_err(|source| PlatformError::Target {
            cluster: c.name.to_string(),
            source,
        })?;
        apply_objects(
            &target,
            rbac::target_objects(&rbac::Subject::User(
                local_control_plane::OPERATOR_USER.to_owned(),
            ))?,
            "default",
        )
        .await
        .map_err(api(format!(
            "applying the operator's RBAC on {} ({})",
            c.name,
            rbac::RULES_PATH
        )))?;
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": format!("{}-kubeconfig", c.name),
                "namespace": SYSTEM_NAMESPACE,
                "labels": { LAB_LABEL: "true" },
            },
            "type": "Opaque",
            "stringData": { "kubeconfig": cp.operator_kubeconfig() },
        }))
        .map_err(|source| PlatformError::Encode {
            what: format!("the kubeconfig Secret of {}", c.name),
            source,
        })?;
        secrets
            .patch(&secret.name_any(), &apply, &Patch::Apply(&secret))
            .await
            .map_err(api(format!("writing the kubeconfig Secret of {}", c.name)))?;
        let mut mc = managed_cluster(c, &config.kubernetes_version);
        mc.metadata.managed_fields = None;
        let mut body = serde_json::to_value(&mc).map_err(|source| PlatformError::Encode {
            what: format!("ManagedCluster {}", c.name),
            source,
        })?;
        body["apiVersion"] = json!("tartinfra.dev/v1alpha1");
        body["kind"] = json!("ManagedCluster");
        clusters
            .patch(c.name.as_str(), &apply, &Patch::Apply(&body))
            .await
            .map_err(api(format!("writing ManagedCluster {}", c.name)))?;
    }
    let started: Vec<&str> = targets.iter().map(|(c, _)| c.name.as_str()).collect();
    let stale = clusters
        .list(&ListParams::default().labels(&format!("{LAB_LABEL}=true")))
        .await
        .map_err(api("listing the lab's ManagedClusters"))?;
    for mc in stale.items {
        if !started.contains(&mc.name_any().as_str()) {
            clusters
                .delete(&mc.name_any(), &DeleteParams::default())
                .await
                .map_err(api(format!(
                    "deleting ManagedCluster {} (its cluster is not started)",
                    mc.name_any()
                )))?;
        }
    }
    Ok(())
}

/// Applies the demo workloads. ArgoCD hooks are not applied (simulated pods run no script):
/// the lab does the credentials Job's work itself ([`demo_credentials`]).
pub async fn install_demo(client: &Client) -> Result<(), PlatformError> {
    for (file, text) in DEMO {
        let bad = |message: String| PlatformError::DemoManifest {
            file: file.to_owned(),
            message,
        };
        let objects = parse_yaml_documents(text).map_err(|e| bad(e.to_string()))?;
        let (hooks, objects): (Vec<_>, Vec<_>) =
            objects.into_iter().partition(demo_credentials::is_hook);
        apply_objects(client, objects, "demo")
            .await
            .map_err(api(format!("applying gitops/addons/demo-apps/{file}")))?;
        for hook in hooks {
            let secrets = demo_credentials::job_script(&hook)
                .and_then(demo_credentials::ensured)
                .map_err(|e| bad(e.to_string()))?;
            let namespace = hook.metadata.namespace.as_deref().unwrap_or("demo");
            demo_credentials::ensure(client, namespace, &secrets)
                .await
                .map_err(Box::new)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_applies_the_charts_loadtest_admission_policy() {
        let objects = loadtest_policy_objects().expect("objects");
        let kinds: Vec<_> = objects
            .iter()
            .map(|o| o.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding"
            ]
        );
        let (policy, binding) = (&objects[0], &objects[1]);
        assert_eq!(binding.data["spec"]["policyName"], policy.name_any());
        assert_eq!(
            binding.data["spec"]["paramRef"]["parameterNotFoundAction"],
            "Allow"
        );
        assert_eq!(policy.data["spec"]["paramKind"]["kind"], "ManagedCluster");
        assert!(
            policy.data["spec"]["validations"]
                .as_array()
                .is_some_and(|v| v.len() >= 7),
            "{}",
            policy.data["spec"]
        );
    }

    #[test]
    fn every_shipped_demo_manifest_parses() {
        for (file, text) in DEMO {
            let docs = local_control_plane::parse_yaml_documents(text)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!docs.is_empty(), "{file}");
        }
    }

    #[test]
    fn the_lab_applies_every_file_argocd_syncs() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../gitops/addons/demo-apps");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("gitops/addons/demo-apps")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = DEMO.iter().map(|(f, _)| (*f).to_owned()).collect();
        listed.sort();
        assert_eq!(
            listed, on_disk,
            "DEMO must list every file of gitops/addons/demo-apps"
        );
    }

    #[test]
    fn the_credentials_hook_is_the_one_hook_and_names_the_apps_secrets() {
        let mut hooks = Vec::new();
        for (file, text) in DEMO {
            for obj in local_control_plane::parse_yaml_documents(text).expect(file) {
                if demo_credentials::is_hook(&obj) {
                    hooks.push(obj);
                }
            }
        }
        assert_eq!(hooks.len(), 1, "one hook: the credentials Job");
        let script = demo_credentials::job_script(&hooks[0]).expect("script");
        let names: Vec<String> = demo_credentials::ensured(script)
            .expect("ensure lines")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "postgres-credentials",
                "rabbitmq-credentials",
                "keycloak-admin"
            ]
        );
    }
}
