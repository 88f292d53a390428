//! # TEST DOUBLE — NOT SHIPPED
//!
//! A stand-in for the `tart` CLI and for what runs inside a Tart VM, so tart-infra's Tart
//! backend, VM API and bootstrap scripts can be tested on Linux CI. Never packaged.
//!
//! - [`cli`]: `tart` with Tart's verbs, flags, outputs ([`format`]) and errors ([`errors`]),
//!   state in `$TART_HOME` ([`home`]).
//! - [`vm`]: a running VM is a real OpenSSH server on its own 127.0.0.N:22 ([`lease`]), in
//!   its own mount namespace with per-VM files bind-mounted over the node's paths, in its
//!   own cgroup, isolated from the other VMs unless asked otherwise ([`netiso`]).
//! - [`guest`]: `kubeadm`, `kubelet`, `systemctl`, `apt-get`, ... doubles inside the VMs;
//!   `kubeadm init` runs a real etcd + kube-apiserver + kwok on the VM's address.
//!
//! The binary is `tart`; inside a VM the same binary answers to the other names
//! (argv[0]). Tests find it as `env!("CARGO_BIN_EXE_tart")` and give each test its own
//! `TART_HOME` and `TART_DOUBLE_SUBNET`. See `tart-double/README.md` for the env vars.

pub mod cli;
pub mod commands;
pub mod delays;
pub mod errors;
pub mod format;
pub mod guest;
pub mod home;
pub mod lease;
pub mod netiso;
pub mod prerequisites;
pub mod vm;

/// The `tart` binary of the double for tests of other crates: `$TART_DOUBLE_BIN`, else
/// `tart` next to the running test's directory (`target/<profile>/tart`, built by
/// `cargo build -p tart-double`, or by `cargo test --workspace`). Give every `tart` call
/// `TART_HOME` (a temporary directory) and `TART_DOUBLE_SUBNET` (a `/24` of your own).
pub fn binary() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("TART_DOUBLE_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding the test binary: {e}"))?;
    // target/<profile>/deps/<test> → target/<profile>/tart
    let candidate = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("tart"))
        .ok_or("the test binary has no target directory")?;
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "{} is missing; build the tart double first: cargo build -p tart-double (or set TART_DOUBLE_BIN)",
            candidate.display()
        ))
    }
}
