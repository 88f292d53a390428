//! The Tart backend: [`TartCli`], the [`vm_api::VmBackend`] over the `tart` command line,
//! as Orchard's worker drives it (`internal/worker/vmmanager/tart`):
//!
//! - `create`: `tart clone <image> <name>`, then one `tart set` with `--cpu`, `--memory`,
//!   `--disk-size` (only to grow) and always `--random-mac`. An existing VM with the same
//!   resources is left alone; other resources are `SpecMismatch`.
//! - `start`: `tart run --no-graphics` with softnet (`--net-softnet
//!   --net-softnet-allow=0.0.0.0/0`, which lifts the isolation between VMs) or
//!   `--net-bridged=<if>`, as a supervised child ([`supervise`]); it returns once Tart
//!   reports the VM running, or with Tart's error when the child exits first (the VM limit).
//! - `ip`: `tart ip --wait N --resolver dhcp|arp` (the resolver matching the networking).
//! - `stop`: `tart stop --timeout N`; `delete`: stop, then `tart delete`.
//! - `list`/`get`: `tart list --source local --format json` and `tart get --format json`,
//!   read as maps ([`parse`]).
//! - `authorize_ssh`: `tart exec -i` of a script that appends the key to the user's
//!   `authorized_keys` once and prints the VM's host keys ([`args::AUTHORIZE_SCRIPT`]).
//! - `capacity`: the host's CPUs, memory and free disk of Tart's home ([`host`]), and
//!   what the local VMs are configured with.
//!
//! Every command runs through `tokio::process` with a timeout (`command.rs`); a failure is
//! a typed error mapped from Tart's own messages ([`errors`]).

pub mod args;
mod command;
pub mod errors;
mod files;
pub mod host;
pub mod parse;
pub mod supervise;
mod tart_cli;

pub use tart_cli::{TartCli, TartOptions, local_image_name, matches};
