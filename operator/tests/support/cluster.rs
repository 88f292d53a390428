//! Control planes: the platform with the CRDs, target clusters, their registration as
//! external ManagedClusters, and [`Env`], the usual test bed of all three.

use std::collections::HashMap;

use anyhow::Result;
use crds::{LoadTest, ManagedCluster};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use local_control_plane::{ControlPlane, Options, PodLifecycle, SimNode, apply_yaml};
use operator::context::Settings;

use super::{Operator, SECRETS_NS, free_port, wait_for};

/// Installs the committed CRD manifests (`charts/tart-operator/crds/`).
pub async fn install_crds(client: &Client) -> Result<()> {
    for (file, _) in crds::all() {
        let text = std::fs::read_to_string(format!(
            "{}/../{}/{file}",
            env!("CARGO_MANIFEST_DIR"),
            crds::CRD_DIR
        ))?;
        apply_yaml(client, &text, "default").await?;
    }
    Ok(())
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": name } }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// A platform control plane with the CRDs installed and the Secrets namespace created.
pub async fn platform() -> Result<ControlPlane> {
    let cp = ControlPlane::start(Options::apiserver("platform")).await?;
    let client = cp.client().await?;
    install_crds(&client).await?;
    create_namespace(&client, SECRETS_NS).await?;
    Ok(cp)
}

/// A target cluster's options: a control-plane node and a worker, pods the test drives as
/// a kubelet would.
pub fn target_options(name: &str) -> Options {
    Options::cluster(name)
        .with_nodes(vec![
            SimNode::control_plane(&format!("{name}-master"), "2", "4Gi"),
            SimNode::worker(&format!("{name}-worker1"), "4", "8Gi"),
        ])
        .with_pods(PodLifecycle::Manual)
}

/// A target cluster whose pods the test drives, as a kubelet would.
pub async fn target(name: &str) -> Result<ControlPlane> {
    Ok(ControlPlane::start(target_options(name)).await?)
}

/// Stores `kubeconfig` in a Secret and creates (or replaces) an external ManagedCluster.
pub async fn register_kubeconfig(platform: &Client, name: &str, kubeconfig: &str) -> Result<()> {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("{name}-kubeconfig"), "namespace": SECRETS_NS },
        "stringData": { "kubeconfig": kubeconfig },
    }))?;
    Api::<Secret>::namespaced(platform.clone(), SECRETS_NS)
        .patch(
            &format!("{name}-kubeconfig"),
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    let mc = format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {{name: {name}}}\nspec:\n  tier: dev\n  provider: external\n  \
         kubeconfigSecretRef: {{namespace: {SECRETS_NS}, name: {name}-kubeconfig}}\n"
    );
    apply_yaml(platform, &mc, "default").await?;
    Ok(())
}

/// Sets ManagedCluster `name`'s spec.loadTestPolicy to `policy` (YAML flow mapping); fields
/// left out keep their defaults.
pub async fn set_policy(platform: &Client, name: &str, policy: &str) -> Result<()> {
    let value: serde_json::Value = serde_yaml::from_str(policy)?;
    Api::<ManagedCluster>::all(platform.clone())
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "loadTestPolicy": value } })),
        )
        .await?;
    Ok(())
}

/// Waits until ManagedCluster `name` is Ready.
pub async fn wait_ready(platform: &Client, name: &str) -> Result<ManagedCluster> {
    wait_for(
        &Api::<ManagedCluster>::all(platform.clone()),
        name,
        "Ready",
        |mc: &ManagedCluster| {
            mc.status.as_ref().and_then(|s| s.phase)
                == Some(crds::managed_cluster::ClusterPhase::Ready)
        },
    )
    .await
}

/// Registers `target` as ManagedCluster `name` and waits until it is Ready.
pub async fn register(platform: &Client, name: &str, target: &ControlPlane) -> Result<()> {
    register_kubeconfig(platform, name, target.kubeconfig()).await?;
    wait_ready(platform, name).await?;
    Ok(())
}

/// A platform and, for each of `names`, an API server registered there as a ManagedCluster
/// of that name. For the benchmarks, which then start the operator binary.
pub async fn platform_and_clusters(names: &[&str]) -> Result<(ControlPlane, Vec<ControlPlane>)> {
    let platform = platform().await?;
    let p = platform.client().await?;
    let mut clusters = Vec::new();
    for name in names {
        let cp = ControlPlane::start(Options::apiserver(name)).await?;
        register_kubeconfig(&p, name, cp.kubeconfig()).await?;
        clusters.push(cp);
    }
    Ok((platform, clusters))
}

/// The audience the operator's API accepts tokens for (its `--token-audience` default).
pub const API_AUDIENCE: &str = "tart-operator";

/// A token of ServiceAccount `namespace/name` (created when absent), bound to `audience`,
/// or to the API server's own audience when `None` (what `kubectl create token` gives
/// without `--audience`).
pub async fn sa_token(
    client: &Client,
    namespace: &str,
    name: &str,
    audience: Option<&str>,
) -> Result<String> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if sas.get_opt(name).await?.is_none() {
        let sa: ServiceAccount =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": name } }))?;
        sas.create(&PostParams::default(), &sa).await?;
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.into_iter().map(str::to_owned).collect(),
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer = sas
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    answer
        .status
        .map(|s| s.token)
        .ok_or_else(|| anyhow::anyhow!("no token for {namespace}/{name}"))
}

/// A token for the operator's API with every right: ServiceAccount `tart-system/api-admin`
/// bound to `cluster-admin`, for the `tart-operator` audience. (The static admin token
/// has no audience, so the API refuses it.)
pub async fn api_admin_token(client: &Client) -> Result<String> {
    apply_yaml(
        client,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: api-admin}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}\n\
             subjects: [{{kind: ServiceAccount, name: api-admin, namespace: {SECRETS_NS}}}]\n"
        ),
        "default",
    )
    .await?;
    sa_token(client, SECRETS_NS, "api-admin", Some(API_AUDIENCE)).await
}

/// The usual test bed: a platform, a target cluster registered there as ManagedCluster
/// `dev`, and the operator running in this process with its API on `port`.
pub struct Env {
    pub platform: ControlPlane,
    pub dev: ControlPlane,
    /// A client of the platform.
    pub p: Client,
    /// A client of dev.
    pub d: Client,
    /// Where the operator's API listens.
    pub port: u16,
    pub operator: Operator,
    /// A token for the operator's API with every right ([`api_admin_token`]).
    pub api_token: String,
}

impl Env {
    /// With dev from [`target_options`] (pods the test drives), once dev is Ready.
    pub async fn start(settings: Settings) -> Result<Self> {
        Self::with_dev(target_options("dev"), settings).await
    }

    /// With dev started from `options`, once dev is Ready.
    pub async fn with_dev(options: Options, settings: Settings) -> Result<Self> {
        let dev = ControlPlane::start(options).await?;
        let env = Self::around(dev, settings, HashMap::new()).await?;
        wait_ready(&env.p, "dev").await?;
        Ok(env)
    }

    /// Starts the platform and the operator (reaching Hubble Relay at the given addresses
    /// by cluster) around a running `dev`, and registers dev without waiting for it to be
    /// Ready: a cluster without nodes never is.
    pub async fn around(
        dev: ControlPlane,
        settings: Settings,
        hubble: HashMap<String, String>,
    ) -> Result<Self> {
        let platform = platform().await?;
        let p = platform.client().await?;
        let d = dev.client().await?;
        let port = free_port()?;
        let operator = Operator::start_with(&platform, settings, port, hubble).await?;
        register_kubeconfig(&p, "dev", dev.kubeconfig()).await?;
        let api_token = api_admin_token(&p).await?;
        Ok(Self {
            platform,
            dev,
            p,
            d,
            port,
            operator,
            api_token,
        })
    }

    /// A fresh platform namespace named after `prefix`, and its LoadTests.
    pub async fn loadtests(&self, prefix: &str) -> Result<(String, Api<LoadTest>)> {
        let ns = self.platform.namespace(prefix).await?;
        let lts = Api::namespaced(self.p.clone(), &ns);
        Ok((ns, lts))
    }

    /// A token for the operator's API with every right.
    pub fn token(&self) -> &str {
        &self.api_token
    }
}
