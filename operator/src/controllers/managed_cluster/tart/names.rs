//! Where a tart cluster's objects live on the platform (pure): the Secrets and ConfigMap the
//! controller reads and writes, all named from the ManagedCluster and the settings.

use crds::ManagedCluster;
use crds::managed_cluster::SecretKeyRef;
use kube::ResourceExt;

/// The tart provider's settings (operator flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TartSettings {
    /// Where the operator's own Secrets live (kubeconfigs, host agent, SSH key, pins).
    pub namespace: String,
    /// ArgoCD's namespace, where cluster Secrets go.
    pub argocd_namespace: String,
    /// The Secret with the host agent's VM API: keys `url`, `token`, `ca.crt`.
    pub host_agent_secret: String,
    /// The Secret (type kubernetes.io/ssh-auth) with the operator's SSH private key, key
    /// `ssh-privatekey`.
    pub ssh_key_secret: String,
    /// The login user of the VMs' image (`admin` on the Cirrus Labs images).
    pub ssh_user: String,
    /// How long deleting a cluster waits for its workers' pods to be evicted (PDBs
    /// respected) before it resets the nodes and deletes the VMs anyway.
    pub drain_timeout: std::time::Duration,
}

impl Default for TartSettings {
    fn default() -> Self {
        Self {
            namespace: "tart-system".to_owned(),
            argocd_namespace: "argocd".to_owned(),
            host_agent_secret: "host-agent".to_owned(),
            ssh_key_secret: "tart-operator-ssh".to_owned(),
            ssh_user: "admin".to_owned(),
            drain_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// The key of the SSH private key in a kubernetes.io/ssh-auth Secret.
pub const SSH_PRIVATE_KEY: &str = "ssh-privatekey";

/// The objects of one tart cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Names {
    /// The kubeconfig Secret the controller writes after kubeadm init: spec's
    /// kubeconfigSecretRef when set, else `<namespace>/<cluster>-kubeconfig`.
    pub kubeconfig: SecretKeyRef,
    /// The ConfigMap of pinned SSH host keys (one key per node: `<algorithm> <base64>`).
    pub host_keys: String,
    /// The ArgoCD cluster Secret, in the ArgoCD namespace.
    pub argocd_secret: String,
}

/// The names for `mc`.
pub fn names(mc: &ManagedCluster, settings: &TartSettings) -> Names {
    let cluster = mc.name_any();
    let kubeconfig = mc
        .spec
        .kubeconfig_secret_ref
        .clone()
        .unwrap_or_else(|| SecretKeyRef {
            namespace: settings.namespace.as_str().into(),
            name: format!("{cluster}-kubeconfig").as_str().into(),
            key: "kubeconfig".to_owned(),
        });
    Names {
        kubeconfig,
        host_keys: format!("{cluster}-ssh-host-keys"),
        argocd_secret: format!("cluster-{cluster}"),
    }
}
