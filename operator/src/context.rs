//! What every controller shares: the platform client, settings, the managed-cluster
//! registry, metrics and the event recorder. Built once in `run` and shared as an `Arc`.

use std::sync::Arc;
use std::time::Duration;

use crds::ManagedCluster;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use crate::clusters::Registry;
use crate::controllers::managed_cluster::tart::names::TartSettings;
use crate::controllers::scaling_experiment::live::Live;
use crate::metrics::Metrics;
use crate::prometheus::Prometheus;

/// Runner images, pinned (never `latest`).
#[derive(Clone, Debug)]
pub struct Images {
    /// The k6 image for HTTP tests.
    pub k6: String,
    /// The stress-ng image for stress tests.
    pub stress_ng: String,
}

/// Operator settings (from flags).
#[derive(Clone, Debug)]
pub struct Settings {
    /// At most this many LoadTests run at once in one managed cluster; the rest queue.
    pub max_tests_per_cluster: usize,
    /// How often a ManagedCluster is probed.
    pub cluster_recheck: Duration,
    /// How long a LoadTest waits for an unreachable cluster before it fails.
    pub cluster_unavailable_timeout: Duration,
    /// How long a runner pod may stay unschedulable before its test fails.
    pub unschedulable_grace: Duration,
    /// How long deleting a LoadTest keeps trying to remove its runner from an unreachable
    /// cluster before giving up.
    pub cleanup_timeout: Duration,
    /// At most this many experiments sample at once (each keeps its series in memory, up to
    /// `live::MAX_READINGS` readings); a new one waits in Pending for a free sampler.
    pub max_live_experiments: usize,
    /// Runner images.
    pub images: Images,
    /// Where tart clusters' objects live and how their VMs are reached.
    pub tart: TartSettings,
    /// Where k6 runners remote-write their metrics (the platform Prometheus's
    /// `/api/v1/write`, as the target clusters reach it); none: they write nowhere.
    pub prometheus_remote_write_url: Option<String>,
    /// How long after a run ended its target cluster's nodes are read for the `after`
    /// figures of status.nodeUsage (the load's effect settling).
    pub node_usage_settle: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_tests_per_cluster: 1,
            cluster_recheck: Duration::from_secs(30),
            cluster_unavailable_timeout: Duration::from_secs(300),
            unschedulable_grace: Duration::from_secs(60),
            cleanup_timeout: Duration::from_secs(300),
            max_live_experiments: DEFAULT_MAX_LIVE_EXPERIMENTS,
            images: Images {
                k6: DEFAULT_K6_IMAGE.to_owned(),
                stress_ng: DEFAULT_STRESS_NG_IMAGE.to_owned(),
            },
            tart: TartSettings::default(),
            prometheus_remote_write_url: None,
            node_usage_settle: Duration::from_secs(30),
        }
    }
}

/// How many experiments sample at once by default: at most about 240 MB of series (12 MB
/// each at the per-experiment cap; a typical experiment keeps a few hundred KB).
pub const DEFAULT_MAX_LIVE_EXPERIMENTS: usize = 20;

/// The k6 image HTTP tests run by default.
pub const DEFAULT_K6_IMAGE: &str = "grafana/k6:1.7.1";
/// The stress-ng image stress tests run by default (the upstream project's image, pinned to
/// a commit tag).
pub const DEFAULT_STRESS_NG_IMAGE: &str =
    "ghcr.io/colinianking/stress-ng:e2f96874f951a72c1c83ff49098661f0e013ac40";

/// Shared state of the controllers.
pub struct Context {
    /// The platform cluster (where the custom resources live).
    pub client: Client,
    /// Settings.
    pub settings: Settings,
    /// Clients of the managed clusters.
    pub clusters: Arc<Registry>,
    /// The ManagedClusters (the API's watch cache, shared): their LoadTest policies.
    pub managed_clusters: Store<ManagedCluster>,
    /// The platform's Prometheus (`--prometheus-url`): a parallel test's merged percentiles.
    pub prometheus: Option<Prometheus>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes events (one recorder, so repeated events become a series).
    pub recorder: Recorder,
    /// The samplers of running ScalingExperiments.
    pub samplers: Arc<Live>,
    /// Whether this replica leads (always true without leader election). Only the leader
    /// writes; followers keep their cluster clients current for the API.
    pub leading: tokio::sync::watch::Receiver<bool>,
}

impl Context {
    /// Whether this replica leads now.
    pub fn leads(&self) -> bool {
        *self.leading.borrow()
    }
}
