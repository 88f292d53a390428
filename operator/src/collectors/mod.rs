//! Collectors: per cluster, watch caches and samplers that feed the API (see
//! [`cluster::ClusterCollector`]); pure view builders in [`views`] and [`snapshot`].

pub mod changes;
pub mod cluster;
pub mod hubble;
pub mod kubelet_summary;
pub mod node_figures;
pub mod poll_cache;
pub mod scaling;
pub mod slim;
pub mod snapshot;
pub mod traffic;
pub mod usage;
pub mod views;
pub mod vms;

pub use cluster::{ClusterCollector, CollectorSettings};
