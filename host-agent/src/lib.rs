//! `tart-infra`, the host agent, as a library: the binary (`src/main.rs`) only parses its
//! command line ([`cli`]) and runs it. Today the agent runs the local lab ([`lab`]): every
//! cluster of `config/clusters.yaml` ([`config`]) as a simulated control plane on this
//! machine, with the operator; and, on a Mac, the VM API over Tart ([`vm`], [`serve`], with
//! the VMs' figures read over SSH: [`stats`]) and the lab's lifecycle ([`mac`]: `up`,
//! `status`, `down`, `boot`, `destroy`), which builds the platform cluster over SSH and
//! hands the other clusters to the operator.

pub mod cli;
pub mod config;
pub mod host;
pub mod image;
pub mod lab;
pub mod mac;
pub mod rbac;
pub mod serve;
pub mod stats;
pub mod telemetry;
pub mod vm;
