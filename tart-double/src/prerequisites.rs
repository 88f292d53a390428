//! TEST DOUBLE, NOT SHIPPED. What the double needs from the machine, for the tests of every
//! crate that runs it: root (mount namespaces, bind mounts, iptables), openssh-server and
//! -client, util-linux's unshare and nsenter, iptables, iproute2's ss, and for a control
//! plane the Kubernetes binaries. Missing pieces fail a test when `CI=true` and skip it (with a
//! `SKIPPED` line) elsewhere.

use std::path::Path;
use std::process::Command;

/// What is missing, one entry per piece with how it is called; empty when nothing is.
pub fn missing(kube: bool) -> Vec<String> {
    let mut missing = Vec::new();
    for (what, path) in [
        ("openssh-server", "/usr/sbin/sshd"),
        ("openssh-client", "/usr/bin/ssh"),
        ("openssh-client (ssh-keygen)", "/usr/bin/ssh-keygen"),
        ("util-linux unshare", "/usr/bin/unshare"),
        ("util-linux nsenter", "/usr/bin/nsenter"),
    ] {
        if !Path::new(path).exists() {
            missing.push(format!("{what} ({path})"));
        }
    }
    if Command::new("iptables").arg("-V").output().is_err() {
        missing.push("iptables".to_owned());
    }
    // The host agent's VM figures run `ss` inside the VMs, which see this machine's tools.
    if Command::new("ss").arg("-V").output().is_err() {
        missing.push("iproute2 (ss)".to_owned());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        missing.push("root (mount namespaces, bind mounts, iptables)".to_owned());
    }
    if kube && let Err(e) = local_control_plane::Binaries::locate() {
        missing.push(e.to_string());
    }
    missing
}

/// Whether `who` (e.g. "the mac lifecycle test") can run: `true` when nothing is missing;
/// otherwise a panic naming what is missing when `CI=true`, else a `SKIPPED` line and
/// `false` ([`local_control_plane::tools::met`]).
pub fn met(who: &str, missing: &[String]) -> bool {
    local_control_plane::tools::met(
        who,
        missing,
        "run scripts/install-test-deps, scripts/build-kube-bins.sh and cargo build -p tart-double",
    )
}
