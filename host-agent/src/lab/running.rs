//! A running lab, owned by `lab up`: its control planes, the operator, the load simulator
//! and the simulated relays; what it records of them, how it notices one has stopped, and
//! how it stops them all.

use std::path::PathBuf;
use std::time::Duration;

use local_control_plane::{ControlPlane, Proc, Watchdog};

use super::Error;
use super::hubble;
use super::record::{Component, Simulated};
use crate::config::ClusterConfig;

/// How long each process gets to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// What `lab up` has started so far. Dropping it kills every process (each control plane's
/// and the operator's watchdog see to it); [`Lab::shutdown`] stops them gently first.
#[derive(Default)]
pub(super) struct Lab {
    /// The clusters, in the order they were selected.
    pub clusters: Vec<(ClusterConfig, ControlPlane)>,
    /// The operator and its watchdog.
    pub operator: Option<(Proc, Watchdog)>,
    /// The load simulator's task.
    pub simulator: Option<tokio::task::JoinHandle<()>>,
    /// The simulated Hubble Relays.
    pub relays: Vec<hubble::Relay>,
}

impl Lab {
    /// Every process, for `lab.json`.
    pub fn components(&self) -> Vec<Component> {
        let mut all: Vec<Component> = self
            .clusters
            .iter()
            .flat_map(|(c, cp)| {
                cp.pids()
                    .into_iter()
                    .map(|(name, pid)| Component::of(c.name.as_str(), name, pid))
            })
            .collect();
        if let Some(pid) = self.operator.as_ref().and_then(|(p, _)| p.pid()) {
            all.push(Component::of("", "tart-operator", pid));
        }
        all
    }

    /// The admin kubeconfig of each cluster.
    pub fn kubeconfigs(&self) -> Vec<(String, PathBuf)> {
        self.clusters
            .iter()
            .map(|(c, cp)| (c.name.clone(), cp.kubeconfig_path().to_path_buf()))
            .collect()
    }

    /// What runs inside this process, for `lab.json`.
    pub fn simulated(&self) -> Vec<Simulated> {
        self.relays
            .iter()
            .map(|r| Simulated {
                cluster: r.cluster.clone(),
                name: hubble::COMPONENT.to_owned(),
                address: r.addr.to_string(),
            })
            .collect()
    }

    /// Why the lab cannot go on: a component has exited.
    pub fn failure(&mut self) -> Option<Error> {
        if let Some((proc, _)) = self.operator.as_mut()
            && let Some(status) = proc.exited()
        {
            return Some(Error::OperatorExited {
                status,
                log: proc.log.clone(),
                tail: proc.log_tail(20),
            });
        }
        if let Some(relay) = self.relays.iter().find(|r| r.stopped()) {
            return Some(Error::RelayStopped {
                cluster: relay.cluster.clone(),
                component: hubble::COMPONENT,
                addr: relay.addr,
            });
        }
        self.clusters.iter().find_map(|(c, cp)| {
            cp.check_alive().err().map(|source| Error::Cluster {
                cluster: c.name.clone(),
                source,
            })
        })
    }

    /// Stops everything, the operator first and the clusters in reverse order.
    pub fn shutdown(&mut self) {
        if let Some(task) = self.simulator.take() {
            task.abort();
        }
        self.relays.clear();
        if let Some((mut proc, watchdog)) = self.operator.take() {
            proc.terminate(&watchdog, GRACE);
            watchdog.fire();
        }
        for (_, cp) in self.clusters.iter().rev() {
            cp.shutdown(GRACE);
        }
    }
}
