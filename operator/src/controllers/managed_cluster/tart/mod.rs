//! `provider: tart`: the cluster's VMs are created through the host agent's VM API, and it
//! is bootstrapped over SSH with kubeadm, registered with ArgoCD and watched until its addons
//! are Ready. [`decide`] is the pure part; `observe` and `act` its edges.

pub mod act;
pub mod addons;
pub mod decide;
#[cfg(test)]
mod decide_tests;
pub mod names;
pub mod observe;
