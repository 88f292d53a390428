//! Control planes: the platform with the CRDs, target clusters, their registration as
//! external ManagedClusters, and [`Env`], the usual test bed of all three.

use std::collections::HashMap;

use anyhow::Result;
use crds::{LoadTest, ManagedCluster};
use k8s_openapi::api::core::v1::{Namespace, Secret};
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
        Ok(Self {
            platform,
            dev,
            p,
            d,
            port,
            operator,
        })
    }

    /// A fresh platform namespace named after `prefix`, and its LoadTests.
    pub async fn loadtests(&self, prefix: &str) -> Result<(String, Api<LoadTest>)> {
        let ns = self.platform.namespace(prefix).await?;
        let lts = Api::namespaced(self.p.clone(), &ns);
        Ok((ns, lts))
    }

    /// The platform's admin token, for the operator's API.
    pub fn token(&self) -> &str {
        self.platform.admin_token()
    }
}
