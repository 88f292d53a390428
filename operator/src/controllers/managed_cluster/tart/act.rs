//! Carrying out a tart cluster's step: VM calls through the host agent, SSH through
//! `node_bootstrap`, and the Secrets and ConfigMap the cluster's bring-up leaves on the
//! platform. A failure comes back as a [`Failure`] (a condition reason and a message that
//! ends with what the tool said), which [`super::decide::record`] writes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crds::ManagedCluster;
use crds::conditions::ClusterConditionReason as R;
use futures::future::join_all;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use node_bootstrap::bring_up::{self, BringUpError, ControlPlane};
use node_bootstrap::keys::SshKey;
use node_bootstrap::ssh::{KnownHosts, PinOrigin, Session, SshClient, SshError, SshTarget};
use node_bootstrap::{drain, kubeconfig, steps};
use vm_api::{HostKey, VmBackend, VmError, VmSpec};

use super::decide::{Failure, PLATFORM_ADDRESS_ANNOTATION, PlatformView, Step};
use super::names::{Names, SSH_PRIVATE_KEY, TartSettings};
use super::observe::host_keys;
use crds::argocd::{self, CLUSTER_LABEL};

/// The field manager of what this controller writes.
const MANAGER: &str = "tart-operator";
/// The Kubernetes version of a tart cluster whose spec names none.
const DEFAULT_VERSION: &str = "1.33";

/// What a step needs besides the step itself.
pub struct Tools<'a, B> {
    pub mc: &'a ManagedCluster,
    /// The platform cluster (where the ManagedCluster and its Secrets live).
    pub client: &'a Client,
    /// The cluster itself, when the operator has connected to it.
    pub target: Option<&'a Client>,
    pub settings: &'a TartSettings,
    pub names: &'a Names,
    /// The host agent, or why it cannot be used.
    pub backend: Result<&'a B, (R, String)>,
}

/// Carries out `step`.
pub async fn act<B: VmBackend>(t: &Tools<'_, B>, step: &Step) -> Result<(), Failure> {
    match step {
        Step::Wait => Ok(()),
        Step::CreateVms(specs) => create_vms(backend(t)?, specs).await,
        Step::StartVms(names) => {
            let b = backend(t)?;
            first_error(join_all(names.iter().map(|n| b.start(n))).await)
                .map_err(|e| vm_failure(&e))
        }
        Step::AuthorizeSsh(nodes) => authorize(t, nodes).await,
        Step::Init { node, ip } => init(t, node, *ip).await,
        Step::UpdateEndpoint {
            control_plane,
            nodes,
        } => update_endpoint(t, control_plane, nodes).await,
        Step::Join {
            control_plane,
            workers,
            platform,
        } => join(t, control_plane, workers, platform.as_ref()).await,
        Step::PlatformNames { platform, nodes } => platform_names(t, platform, nodes).await,
        Step::Register => register(t).await,
        Step::Teardown { drain, reset } => teardown(t, drain, reset).await,
    }
}

fn backend<'a, B>(t: &Tools<'a, B>) -> Result<&'a B, Failure> {
    t.backend
        .as_ref()
        .copied()
        .map_err(|(reason, message)| Failure {
            reason: *reason,
            message: message.clone(),
        })
}

fn first_error<E>(results: Vec<Result<(), E>>) -> Result<(), E> {
    results.into_iter().collect()
}

async fn create_vms<B: VmBackend>(b: &B, specs: &[VmSpec]) -> Result<(), Failure> {
    let made = join_all(specs.iter().map(|spec| async move {
        b.create(spec).await?;
        b.start(&spec.name).await
    }))
    .await;
    first_error(made).map_err(|e| vm_failure(&e))
}

/// The condition reason of a failed VM call.
pub fn vm_failure(e: &VmError) -> Failure {
    let reason = match e {
        VmError::CapacityExceeded { .. } => R::CapacityExceeded,
        VmError::LimitReached { .. } => R::VmLimitReached,
        VmError::SpecMismatch { .. } => R::VmSpecMismatch,
        VmError::NoGuestAgent { .. } => R::GuestAgentMissing,
        VmError::Unreachable { .. } | VmError::Protocol { .. } => R::HostAgentUnreachable,
        VmError::Unauthorized { .. } => R::HostAgentUnauthorized,
        _ => R::VmFailed,
    };
    Failure {
        reason,
        message: e.to_string(),
    }
}

/// The condition reason of a failed bring-up step; `tool` is the reason of a script that
/// ran and failed (KubeadmFailed for init, JoinFailed for join).
fn bring_up_failure(e: &BringUpError, tool: R) -> Failure {
    let reason = match e {
        BringUpError::Ssh(SshError::HostKeyChanged { .. }) => R::HostKeyChanged,
        BringUpError::Ssh(SshError::CommandFailed { .. } | SshError::CommandTimeout { .. }) => tool,
        BringUpError::Ssh(_) => R::SshFailed,
        BringUpError::Unreachable { .. } => R::PreflightFailed,
        BringUpError::Kubeadm { .. } | BringUpError::Kubeconfig(_) | BringUpError::Script(_) => {
            tool
        }
    };
    Failure {
        reason,
        message: e.to_string(),
    }
}

fn kube_failure(what: &str, e: &kube::Error) -> Failure {
    Failure {
        reason: R::VmFailed,
        message: format!("{what}: {e}"),
    }
}

/// The operator's SSH key, from its Secret.
async fn ssh_key(t: &Tools<'_, impl VmBackend>) -> Result<SshKey, Failure> {
    let (ns, name) = (&t.settings.namespace, &t.settings.ssh_key_secret);
    let missing = |message: String| Failure {
        reason: R::SshKeyMissing,
        message,
    };
    let secret = Api::<Secret>::namespaced(t.client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| missing(format!("reading Secret {ns}/{name}: {e}")))?
        .ok_or_else(|| missing(format!("Secret {ns}/{name} does not exist")))?;
    let text = secret
        .data
        .as_ref()
        .and_then(|d| d.get(SSH_PRIVATE_KEY))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .ok_or_else(|| missing(format!("Secret {ns}/{name} has no key {SSH_PRIVATE_KEY}")))?;
    SshKey::from_openssh(&text, &format!("Secret {ns}/{name}")).map_err(|e| missing(e.to_string()))
}

/// `<algorithm> <base64>` lines, one per host key, as the pins ConfigMap keeps them.
fn render_keys(keys: &[HostKey]) -> String {
    keys.iter()
        .map(|k| format!("{} {}\n", k.algorithm, k.key))
        .collect()
}

fn parse_keys(text: &str) -> Vec<HostKey> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some(HostKey {
                algorithm: parts.next()?.to_owned(),
                key: parts.next()?.to_owned(),
            })
        })
        .collect()
}

/// First contact with `nodes`: the host agent authorises the operator's key and reads the
/// host keys through the guest agent; they are pinned in the cluster's ConfigMap.
async fn authorize<B: VmBackend>(t: &Tools<'_, B>, nodes: &[String]) -> Result<(), Failure> {
    let b = backend(t)?;
    let key = ssh_key(t).await?;
    let public = key.public_key_line();
    let user = t.settings.ssh_user.as_str();
    let answers = join_all(nodes.iter().map(|n| b.authorize_ssh(n, user, public))).await;
    let mut pins = BTreeMap::new();
    for (node, answer) in nodes.iter().zip(answers) {
        let keys = answer.map_err(|e| vm_failure(&e))?;
        pins.insert(node.clone(), render_keys(&keys));
    }
    let maps: Api<ConfigMap> = Api::namespaced(t.client.clone(), &t.settings.namespace);
    let name = &t.names.host_keys;
    let mut data = host_keys(t.client, &t.settings.namespace, name).await;
    data.extend(pins);
    let map = ConfigMap {
        metadata: owned_meta(t, name, &t.settings.namespace),
        data: Some(data),
        ..ConfigMap::default()
    };
    apply(&maps, name, &map).await.map_err(|e| {
        kube_failure(
            &format!("writing ConfigMap {}/{name}", t.settings.namespace),
            &e,
        )
    })
}

/// An SSH client that checks host keys against the cluster's pins.
async fn ssh_client(t: &Tools<'_, impl VmBackend>) -> Result<SshClient, Failure> {
    let key = ssh_key(t).await?;
    let (ns, name) = (&t.settings.namespace, &t.names.host_keys);
    let mut table = KnownHosts::default();
    for (node, keys) in host_keys(t.client, ns, name).await {
        table = table
            .with_pins(&node, &parse_keys(&keys))
            .map_err(|e| Failure {
                reason: R::SshFailed,
                message: format!("ConfigMap {ns}/{name}, key {node}: {e}"),
            })?;
    }
    let origin = PinOrigin {
        place: format!("ConfigMap {ns}/{name}"),
        accept: format!(
            "remove the key <vm> from it (`kubectl -n {ns} patch configmap {name} --type=json -p '[{{\"op\":\"remove\",\"path\":\"/data/<vm>\"}}]'`), and the operator pins the VM's key again through the host agent"
        ),
    };
    Ok(SshClient::with_pins(key, table, origin))
}

async fn session(
    t: &Tools<'_, impl VmBackend>,
    ssh: &SshClient,
    node: &str,
    ip: Ipv4Addr,
    tool: R,
) -> Result<Session, Failure> {
    let target = SshTarget::new(node, IpAddr::V4(ip), t.settings.ssh_user.as_str());
    ssh.connect(&target)
        .await
        .map_err(|e| bring_up_failure(&BringUpError::Ssh(e), tool))
}

/// kubeadm init on the control plane, then the kubeconfig Secret.
async fn init<B: VmBackend>(t: &Tools<'_, B>, node: &str, ip: Ipv4Addr) -> Result<(), Failure> {
    let ssh = ssh_client(t).await?;
    let session = session(t, &ssh, node, ip, R::KubeadmFailed).await?;
    let spec = &t.mc.spec;
    let network = spec.network.as_ref();
    let cp = ControlPlane {
        cluster: t.mc.name_any(),
        kubernetes_version: spec
            .kubernetes_version
            .clone()
            .unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
        pod_cidr: network.map(|n| n.pod_cidr.clone()).unwrap_or_default(),
        service_cidr: network.map(|n| n.service_cidr.clone()).unwrap_or_default(),
        node: node.to_owned(),
        address: IpAddr::V4(ip),
    };
    let kubeconfig = bring_up::init_control_plane(&session, &cp)
        .await
        .map_err(|e| bring_up_failure(&e, R::KubeadmFailed))?;
    write_kubeconfig(t, &kubeconfig).await
}

async fn write_kubeconfig(t: &Tools<'_, impl VmBackend>, kubeconfig: &str) -> Result<(), Failure> {
    let r = &t.names.kubeconfig;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), r.namespace.as_str());
    let secret = Secret {
        metadata: owned_meta(t, r.name.as_str(), r.namespace.as_str()),
        data: Some(BTreeMap::from([(
            r.key.clone(),
            ByteString(kubeconfig.as_bytes().to_vec()),
        )])),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    };
    apply(&secrets, r.name.as_str(), &secret)
        .await
        .map_err(|e| kube_failure(&format!("writing Secret {}/{}", r.namespace, r.name), &e))
}

async fn read_kubeconfig(t: &Tools<'_, impl VmBackend>) -> Result<String, Failure> {
    let r = &t.names.kubeconfig;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), r.namespace.as_str());
    let what = format!("reading Secret {}/{}", r.namespace, r.name);
    let secret = secrets
        .get(r.name.as_str())
        .await
        .map_err(|e| kube_failure(&what, &e))?;
    secret
        .data
        .and_then(|d| {
            d.get(&r.key)
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        })
        .ok_or_else(|| Failure {
            reason: R::KubeadmFailed,
            message: format!("{what}: no key {}", r.key),
        })
}

/// Points every node, the control plane's static pods and the kubeconfig Secret at the
/// control plane's new address.
async fn update_endpoint<B: VmBackend>(
    t: &Tools<'_, B>,
    (cp, cp_ip): &(String, Ipv4Addr),
    nodes: &[(String, Ipv4Addr)],
) -> Result<(), Failure> {
    let ssh = ssh_client(t).await?;
    let cluster = t.mc.name_any();
    let moved = join_all(nodes.iter().map(|(node, ip)| {
        let (ssh, cluster) = (&ssh, &cluster);
        async move {
            let s = session(t, ssh, node, *ip, R::KubeadmFailed).await?;
            bring_up::update_endpoint(&s, cluster, IpAddr::V4(*cp_ip), node == cp)
                .await
                .map_err(|e| bring_up_failure(&e, R::KubeadmFailed))
        }
    }))
    .await;
    for result in moved {
        result?;
    }
    let old = read_kubeconfig(t).await?;
    let new = kubeconfig::for_cluster(&old, &cluster, IpAddr::V4(*cp_ip)).map_err(|e| Failure {
        reason: R::KubeadmFailed,
        message: e.to_string(),
    })?;
    write_kubeconfig(t, &new).await
}

/// The platform as `node_bootstrap` takes it.
fn platform_target(platform: &PlatformView) -> bring_up::Platform {
    bring_up::Platform {
        cluster: platform.cluster.clone(),
        address: IpAddr::V4(platform.address),
    }
}

/// Points the platform's names at its address on every node at once, then records the
/// address on the ManagedCluster (decide runs the step again when the platform moves).
async fn platform_names<B: VmBackend>(
    t: &Tools<'_, B>,
    platform: &PlatformView,
    nodes: &[(String, Ipv4Addr)],
) -> Result<(), Failure> {
    let ssh = ssh_client(t).await?;
    let cluster = t.mc.name_any();
    let target = platform_target(platform);
    let set = join_all(nodes.iter().map(|(node, ip)| {
        let (ssh, cluster, target) = (&ssh, &cluster, &target);
        async move {
            let s = session(t, ssh, node, *ip, R::PlatformNamesFailed).await?;
            bring_up::platform_names(&s, cluster, target)
                .await
                .map_err(|e| bring_up_failure(&e, R::PlatformNamesFailed))
        }
    }))
    .await;
    for result in set {
        result?;
    }
    let patch = serde_json::json!({
        "metadata": {"annotations": {PLATFORM_ADDRESS_ANNOTATION: platform.address.to_string()}},
    });
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    Api::<ManagedCluster>::all(t.client.clone())
        .patch(&cluster, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| Failure {
            reason: R::PlatformNamesFailed,
            message: format!("recording the platform's address on ManagedCluster {cluster}: {e}"),
        })
}

/// A join command from the control plane, then preflight and join on every worker at once,
/// and the platform's names on each when the platform's address is known.
async fn join<B: VmBackend>(
    t: &Tools<'_, B>,
    (cp, cp_ip): &(String, Ipv4Addr),
    workers: &[(String, Ipv4Addr)],
    platform: Option<&PlatformView>,
) -> Result<(), Failure> {
    let platform = platform.map(platform_target);
    let ssh = ssh_client(t).await?;
    let cp_session = session(t, &ssh, cp, *cp_ip, R::JoinFailed).await?;
    let command = bring_up::join_command(&cp_session)
        .await
        .map_err(|e| bring_up_failure(&e, R::JoinFailed))?;
    let cluster = t.mc.name_any();
    let joined = join_all(workers.iter().map(|(node, ip)| {
        let (ssh, cluster, command, platform) = (&ssh, &cluster, &command, &platform);
        async move {
            let s = session(t, ssh, node, *ip, R::JoinFailed).await?;
            bring_up::join_worker(&s, cluster, node, IpAddr::V4(*cp_ip), command)
                .await
                .map_err(|e| bring_up_failure(&e, R::JoinFailed))?;
            match platform {
                Some(p) => bring_up::platform_names(&s, cluster, p)
                    .await
                    .map(|_| ())
                    .map_err(|e| bring_up_failure(&e, R::JoinFailed)),
                None => Ok(()),
            }
        }
    }))
    .await;
    joined.into_iter().collect()
}

/// The ArgoCD cluster Secret, from the kubeconfig Secret, with the addon labels.
async fn register<B: VmBackend>(t: &Tools<'_, B>) -> Result<(), Failure> {
    let text = read_kubeconfig(t).await?;
    let cluster = t.mc.name_any();
    let (server, config) = argocd_config(&text).ok_or_else(|| Failure {
        reason: R::AddonsNotReady,
        message: format!(
            "the kubeconfig of {cluster} has no server, CA, or client certificate or token for ArgoCD"
        ),
    })?;
    let ns = &t.settings.argocd_namespace;
    let name = &t.names.argocd_secret;
    let mut metadata = owned_meta(t, name, ns);
    metadata.labels = Some(argocd::argocd_labels(
        &cluster,
        t.mc.spec.tier,
        &t.mc.spec.addons,
    ));
    let secret = Secret {
        metadata,
        string_data: Some(BTreeMap::from([
            ("name".to_owned(), cluster.clone()),
            ("server".to_owned(), server),
            ("config".to_owned(), config),
        ])),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    };
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), ns);
    apply(&secrets, name, &secret)
        .await
        .map_err(|e| kube_failure(&format!("writing Secret {ns}/{name}"), &e))
}

/// ArgoCD's `server` and `config` from a kubeconfig written by [`kubeconfig::for_cluster`]:
/// the CA and server name, and the user's client certificate (kubeadm's admin.conf) or
/// bearer token.
pub fn argocd_config(kubeconfig: &str) -> Option<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(kubeconfig).ok()?;
    let cluster = doc.get("clusters")?.get(0)?.get("cluster")?;
    let user = doc.get("users")?.get(0)?.get("user")?;
    let field = |v: &serde_yaml::Value, k: &str| v.get(k)?.as_str().map(str::to_owned);
    let server = field(cluster, "server")?;
    let mut tls = serde_json::json!({
        "caData": field(cluster, "certificate-authority-data")?,
        "serverName": field(cluster, "tls-server-name"),
    });
    let mut config = serde_json::Map::new();
    match (
        field(user, "client-certificate-data"),
        field(user, "client-key-data"),
        field(user, "token"),
    ) {
        (Some(cert), Some(key), _) => {
            tls["certData"] = cert.into();
            tls["keyData"] = key.into();
        }
        (_, _, Some(token)) => {
            config.insert("bearerToken".into(), token.into());
        }
        _ => return None,
    }
    config.insert("tlsClientConfig".into(), tls);
    Some((server, serde_json::Value::Object(config).to_string()))
}

/// Drains the running workers (PodDisruptionBudgets respected, up to the drain timeout) so
/// their pods stop gracefully, resets the running nodes (`kubeadm reset`), then deletes the
/// VMs, the Secrets and the pins. Draining and resetting are best-effort: what fails is
/// logged and the VMs go regardless, since nothing of the cluster survives them.
async fn teardown<B: VmBackend>(
    t: &Tools<'_, B>,
    drain: &[String],
    reset: &[(String, Ipv4Addr)],
) -> Result<(), Failure> {
    let b = backend(t).map_err(|f| Failure {
        message: format!(
            "{}; the VMs of a tart cluster are deleted through the host agent, so deleting waits for it (remove the finalizer by hand to give up and delete the VMs with `tart delete`)",
            f.message
        ),
        ..f
    })?;
    let cluster = t.mc.name_any();
    if let (Some(target), false) = (t.target, drain.is_empty()) {
        for problem in drain_workers(target, drain, t.settings.drain_timeout).await {
            tracing::warn!(%cluster, "deleting anyway: {problem}");
        }
    }
    if !reset.is_empty() {
        for problem in reset_nodes(t, reset).await {
            tracing::warn!(%cluster, "deleting anyway: {problem}");
        }
    }
    let nodes: Vec<String> =
        t.mc.spec
            .nodes
            .iter()
            .flatten()
            .map(|n| n.name.as_str().to_owned())
            .collect();
    first_error(join_all(nodes.iter().map(|n| b.delete(n))).await).map_err(|e| vm_failure(&e))?;
    let r = &t.names.kubeconfig;
    let gone = [
        delete::<Secret>(t.client, r.namespace.as_str(), r.name.as_str()).await,
        delete::<Secret>(
            t.client,
            &t.settings.argocd_namespace,
            &t.names.argocd_secret,
        )
        .await,
        delete::<ConfigMap>(t.client, &t.settings.namespace, &t.names.host_keys).await,
    ];
    gone.into_iter()
        .collect::<Result<(), kube::Error>>()
        .map_err(|e| kube_failure("removing the cluster's Secrets", &e))
}

/// Cordons every worker, then drains them together; returns what could not be done.
async fn drain_workers(
    target: &Client,
    workers: &[String],
    timeout: std::time::Duration,
) -> Vec<String> {
    let drained = join_all(workers.iter().map(|w| async move {
        drain::cordon(target, w, true).await?;
        drain::drain(target, w, timeout).await
    }))
    .await;
    workers
        .iter()
        .zip(drained)
        .filter_map(|(w, r)| r.err().map(|e| format!("draining {w}: {e}")))
        .collect()
}

/// `kubeadm reset` on each node over SSH; returns what could not be done.
async fn reset_nodes<B: VmBackend>(t: &Tools<'_, B>, nodes: &[(String, Ipv4Addr)]) -> Vec<String> {
    let ssh = match ssh_client(t).await {
        Ok(ssh) => ssh,
        Err(f) => return vec![format!("resetting the nodes: {}", f.message)],
    };
    let ssh = &ssh;
    let results = join_all(nodes.iter().map(|(node, ip)| async move {
        let session = session(t, ssh, node, *ip, R::SshFailed).await?;
        session
            .run(&steps::kubeadm_reset())
            .await
            .map(|_| ())
            .map_err(|e| bring_up_failure(&BringUpError::Ssh(e), R::SshFailed))
    }))
    .await;
    nodes
        .iter()
        .zip(results)
        .filter_map(|((n, _), r)| r.err().map(|f| format!("resetting {n}: {}", f.message)))
        .collect()
}

async fn delete<K>(client: &Client, ns: &str, name: &str) -> Result<(), kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    match Api::<K>::namespaced(client.clone(), ns)
        .delete(name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Metadata of an object the controller owns for `t.mc`: labelled with the cluster and
/// owned by the ManagedCluster, so the garbage collector removes what teardown misses.
fn owned_meta(t: &Tools<'_, impl VmBackend>, name: &str, ns: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.to_owned()),
        labels: Some(BTreeMap::from([(
            CLUSTER_LABEL.to_owned(),
            t.mc.name_any(),
        )])),
        owner_references: t.mc.controller_owner_ref(&()).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams::apply(MANAGER).force();
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argocd_gets_the_certificate_and_the_stable_server_name() {
        let kubeconfig = "clusters:\n- name: tart-dev\n  cluster:\n    server: https://127.0.0.11:6443\n    certificate-authority-data: Q0EK\n    tls-server-name: api.dev.tart-infra.internal\nusers:\n- name: tart-dev\n  user:\n    client-certificate-data: Q0VSVAo=\n    client-key-data: S0VZCg==\n";
        let (server, config) = argocd_config(kubeconfig).expect("config");
        assert_eq!(server, "https://127.0.0.11:6443");
        let config: serde_json::Value = serde_json::from_str(&config).expect("json");
        assert_eq!(
            config["tlsClientConfig"]["serverName"],
            "api.dev.tart-infra.internal"
        );
        assert_eq!(config["tlsClientConfig"]["caData"], "Q0EK");
        assert_eq!(config["tlsClientConfig"]["keyData"], "S0VZCg==");
        assert!(argocd_config("clusters: []").is_none());
        let with_token = kubeconfig.replace(
            "    client-certificate-data: Q0VSVAo=\n    client-key-data: S0VZCg==\n",
            "    token: abc\n",
        );
        let (_, config) = argocd_config(&with_token).expect("token config");
        let config: serde_json::Value = serde_json::from_str(&config).expect("json");
        assert_eq!(config["bearerToken"], "abc");
        assert_eq!(config["tlsClientConfig"]["caData"], "Q0EK");
        let without = kubeconfig.replace("    client-key-data: S0VZCg==\n", "");
        assert!(
            argocd_config(&without).is_none(),
            "a certificate without its key"
        );
    }

    #[test]
    fn pinned_keys_round_trip_through_the_config_map_format() {
        let keys = vec![
            HostKey {
                algorithm: "ssh-ed25519".into(),
                key: "AAAAC3NzaC1lZDI1NTE5AAAAIA".into(),
            },
            HostKey {
                algorithm: "ecdsa-sha2-nistp256".into(),
                key: "AAAAE2VjZHNh".into(),
            },
        ];
        assert_eq!(parse_keys(&render_keys(&keys)), keys);
        assert!(parse_keys("\n  \nlonely\n").is_empty());
    }
}
