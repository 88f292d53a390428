//! `tart-infra image build`: the golden image of one Kubernetes version, a local Tart VM
//! (`tart-infra-k8s-1.33`) every node VM is cloned from (set `baseImage` to its name).
//!
//! - [`plan`]: the name, the pinned versions (Kubernetes patch per minor, cri-tools,
//!   Cilium's images) and the build VM, from the cluster file and the flags. Pure.
//! - [`build`]: clone the base image to a build VM, boot, first contact through the guest
//!   agent, one provisioning script over SSH (`node-bootstrap/scripts/image-provision.sh`),
//!   stop, clone to the image's name, delete the build VM. An existing image is left alone
//!   unless `--rebuild`.
//! - [`progress`]: a line per step with the elapsed time, or JSON lines.
//! - [`Command`]: the subcommands and flags (`cli.rs` only adds the `image` variant).
//!
//! It runs on the Mac with [`crate::vm::TartCli`] directly (not through the VM API): the
//! [`vm_api::VmBackend`] trait keeps to what a bring-up needs, and saving an image under a
//! name that is not a VM name is a Tart CLI matter ([`TartCli::clone_image`]).
//!
//! [`TartCli::clone_image`]: crate::vm::TartCli::clone_image

mod args;
pub mod build;
mod error;
pub mod plan;
pub mod progress;

pub use args::{BuildArgs, Command, run};
pub use build::{BuildOptions, Outcome, build, default_state_dir};
pub use error::Error;
pub use plan::{CILIUM_VERSION, KUBERNETES, Overrides, Plan};
