//! The VM backend contract of tart-infra.
//!
//! [`VmBackend`] is the one interface everything that creates VMs goes through:
//! - on the Mac, the host agent's Tart CLI backend (`tart clone`, `set`, `run`, `ip`, ...);
//! - in the operator, the client of the host agent's VM API (`tart-infra serve`), which
//!   serves the Tart backend over HTTPS with a bearer token;
//! - later, a backend for Orchard's REST API (several Macs).
//!
//! The trait is deliberately small: what a kubeadm bring-up needs from a hypervisor and no
//! more. Every method is idempotent where the name allows it (creating a VM that exists
//! with the same spec, starting a running VM, stopping a stopped one and deleting a missing
//! one all succeed), so a controller or `tart-infra up` can re-run a step after a crash.
//! Errors are typed ([`VmError`]) and their messages say what to do.

#[cfg(feature = "client")]
mod client;
mod error;
mod fingerprint;
mod stats;
mod types;
pub mod validate;
pub mod wire;

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

#[cfg(feature = "client")]
pub use client::AgentClient;
pub use error::VmError;
pub use fingerprint::Fingerprint;
pub use stats::{DiskUsage, ListeningPort, MemoryUsage, NetworkRates, VmStats};
pub use types::{Capacity, HostKey, Networking, Resources, Vm, VmSpec, VmState};

/// A hypervisor that creates, runs and removes Linux VMs for kubeadm nodes.
pub trait VmBackend: Send + Sync {
    /// Every VM the backend knows (local VMs only, not cached images).
    fn list(&self) -> impl Future<Output = Result<Vec<Vm>, VmError>> + Send;

    /// One VM, or `None` when it does not exist.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<Vm>, VmError>> + Send;

    /// Creates the VM from `spec.image` with its CPUs, memory and disk size and a random
    /// MAC address (Tart: `clone`, then `set`). A VM that already exists with the same
    /// resources is left as it is; one with other resources is [`VmError::SpecMismatch`].
    fn create(&self, spec: &VmSpec) -> impl Future<Output = Result<Vm, VmError>> + Send;

    /// Starts the VM without graphics, with networking that lets VMs reach each other, as a
    /// supervised process. Starting a running VM does nothing.
    fn start(&self, name: &str) -> impl Future<Output = Result<(), VmError>> + Send;

    /// The VM's IPv4 address, waiting up to `wait` for the guest to get one
    /// ([`VmError::NoIp`] after that).
    fn ip(
        &self,
        name: &str,
        wait: Duration,
    ) -> impl Future<Output = Result<Ipv4Addr, VmError>> + Send;

    /// Stops the VM: a clean shutdown, forced after `timeout`. Stopping a stopped VM does
    /// nothing.
    fn stop(
        &self,
        name: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), VmError>> + Send;

    /// Deletes the VM and its disk (stopping it first). Deleting a missing VM does nothing.
    fn delete(&self, name: &str) -> impl Future<Output = Result<(), VmError>> + Send;

    /// First contact without a password: adds `public_key` (OpenSSH format) to `user`'s
    /// authorized keys inside the running VM through a channel that is not SSH (Tart: the
    /// guest agent, `tart exec`), and returns the VM's SSH host keys read through the same
    /// channel, so the caller can pin them before its first SSH connection.
    fn authorize_ssh(
        &self,
        name: &str,
        user: &str,
        public_key: &str,
    ) -> impl Future<Output = Result<Vec<HostKey>, VmError>> + Send;

    /// The host's capacity and what the backend's VMs already take of it.
    fn capacity(&self) -> impl Future<Output = Result<Capacity, VmError>> + Send;
}
