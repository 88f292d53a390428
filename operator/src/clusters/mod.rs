//! Clients for the managed clusters, built from their kubeconfig Secrets and cached until
//! the kubeconfig changes (its bytes, not the Secret's metadata: relabelling the Secret
//! keeps the client, its watchers and its collectors). The ManagedCluster controller is the only writer (it connects,
//! probes and reconnects); the LoadTest controller reads the cached clients. Each connected
//! cluster also gets watchers on its runner Jobs and Pods, which wake the LoadTest
//! controller when a runner changes (see [`remote`]), and the collectors the API reads
//! (started and stopped with the cluster's entry).

pub mod kubeconfig;
pub mod remote;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crds::LoadTest;
use crds::managed_cluster::Connection;
use futures::channel::mpsc::UnboundedSender;
use kube::Client;
use kube::runtime::reflector::ObjectRef;

pub use kubeconfig::KubeconfigError;

use crate::collectors::{ClusterCollector, CollectorSettings};
use crate::metrics::Metrics;

/// A connected managed cluster.
#[derive(Clone)]
pub struct ClusterClient {
    /// The ManagedCluster's name.
    pub name: String,
    /// A client for its API server.
    pub client: Client,
    /// The API server URL.
    pub endpoint: String,
    /// Its runner Jobs and pods as watched, and the runner namespaces known to be owned.
    pub runners: remote::Runners,
}

struct Entry {
    fingerprint: String,
    cluster: ClusterClient,
    collector: Arc<ClusterCollector>,
    _watchers: remote::Watchers,
}

/// The cached clients, by ManagedCluster name.
pub struct Registry {
    entries: RwLock<HashMap<String, Entry>>,
    triggers: UnboundedSender<ObjectRef<LoadTest>>,
    collectors: CollectorSettings,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// An empty registry; runner changes in connected clusters are sent to `triggers`, and
    /// each connected cluster gets collectors sampling at `collectors`.
    pub fn new(
        triggers: UnboundedSender<ObjectRef<LoadTest>>,
        collectors: CollectorSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            triggers,
            collectors,
            metrics,
        }
    }

    /// The collectors of a connected cluster.
    pub fn collector(&self, name: &str) -> Option<Arc<ClusterCollector>> {
        self.entries
            .read()
            .ok()
            .and_then(|e| e.get(name).map(|e| e.collector.clone()))
    }

    /// The client of a connected cluster.
    pub fn get(&self, name: &str) -> Option<ClusterClient> {
        self.entries
            .read()
            .ok()
            .and_then(|e| e.get(name).map(|e| e.cluster.clone()))
    }

    /// Names of the connected clusters.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .read()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The client for `name` built from `kubeconfig`, which may use the options `allowed`.
    /// The same kubeconfig bytes and options reuse the cached client; anything else
    /// replaces it (and its watchers and collectors), or fails if the new kubeconfig cannot
    /// be used.
    pub async fn connect(
        &self,
        name: &str,
        kubeconfig: &[u8],
        allowed: &Connection,
    ) -> Result<ClusterClient, KubeconfigError> {
        let fingerprint = fingerprint(kubeconfig, allowed);
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(name)
            && e.fingerprint == fingerprint
        {
            return Ok(e.cluster.clone());
        }
        let config = kubeconfig::config_from_bytes(kubeconfig, allowed).await?;
        let endpoint = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client =
            Client::try_from(config).map_err(|e| KubeconfigError::invalid(e.to_string()))?;
        let (runners, watchers) = remote::spawn(name, client.clone(), self.triggers.clone());
        let cluster = ClusterClient {
            name: name.to_owned(),
            client: client.clone(),
            endpoint,
            runners,
        };
        let collector =
            ClusterCollector::start(name, client, self.collectors.clone(), self.metrics.clone());
        tracing::info!(cluster = name, endpoint = %cluster.endpoint, "connected to managed cluster");
        self.metrics.cluster_connected(name);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(
                name.to_owned(),
                Entry {
                    fingerprint,
                    cluster: cluster.clone(),
                    collector,
                    _watchers: watchers,
                },
            );
        }
        Ok(cluster)
    }

    /// Forgets a cluster (its ManagedCluster was deleted or can no longer be used).
    pub fn remove(&self, name: &str) {
        if let Ok(mut entries) = self.entries.write()
            && entries.remove(name).is_some()
        {
            self.metrics.observe_hpas(name, &[]);
            tracing::info!(cluster = name, "disconnected from managed cluster");
        }
    }
}

/// What identifies a client: a digest of the kubeconfig's bytes and the options it may use.
fn fingerprint(kubeconfig: &[u8], allowed: &Connection) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(kubeconfig);
    digest.update([
        u8::from(allowed.allow_insecure_skip_tls_verify),
        u8::from(allowed.allow_proxy_url),
    ]);
    format!("{:x}", digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_bytes_and_the_options_only() {
        let none = Connection::default();
        let insecure = Connection {
            allow_insecure_skip_tls_verify: true,
            ..Connection::default()
        };
        let proxy = Connection {
            allow_proxy_url: true,
            ..Connection::default()
        };
        assert_eq!(fingerprint(b"a", &none), fingerprint(b"a", &none));
        assert_ne!(fingerprint(b"a", &none), fingerprint(b"b", &none));
        assert_ne!(fingerprint(b"a", &none), fingerprint(b"a", &insecure));
        assert_ne!(fingerprint(b"a", &insecure), fingerprint(b"a", &proxy));
    }
}
