//! How tart-infra turns running VMs into kubeadm nodes, shared by the host agent (the
//! platform cluster) and the operator (the other clusters):
//!
//! - [`first_contact`]: authorise our key and pin the VM's host keys through the VM
//!   backend (the guest agent), before the first SSH connection.
//! - [`ssh`]: an SSH client on russh. Key authentication only; host keys pinned by VM name
//!   from a trusted channel and checked on every connection; scripts sent to `bash -s`.
//! - [`keys`]: the client's ed25519 key, generated on first use (mode 0600).
//! - [`script`]: a bash body plus named inputs, rendered as shell-quoted exports.
//! - [`steps`]: the bootstrap steps (`node-prepare`, `kubeadm-init`, `kubeadm-join`, ...) as
//!   scripts; each checks before it acts, so re-running after a failure or a kill continues.
//! - [`kubeadm`]: the kubeadm configuration on the stable API name
//!   `api.<cluster>.tart-infra.internal:6443`.

pub mod bring_up;
pub mod drain;
pub mod first_contact;
pub mod keys;
pub mod kubeadm;
pub mod kubeconfig;
pub mod script;
pub mod ssh;
pub mod steps;
