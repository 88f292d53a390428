//! TEST DOUBLE, NOT SHIPPED. What runs inside a VM of the double: the tools a kubeadm
//! bootstrap script calls (`kubeadm`, `systemctl`, `apt-get`, `apt-mark`, `modprobe`,
//! `sysctl`) and the `kubelet` and `containerd` units. They are the `tart` binary under
//! other names (symlinks in the VM's `/usr/local/sbin`), and see the VM's own files because
//! they run in its mount namespace.

pub mod kubeadm;
pub mod kubelet;
pub mod record;
pub mod systemctl;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The VM's own state directory (bind-mounted per VM).
pub const STATE: &str = "/var/lib/tart-double";

/// What `tart run` tells the guest about itself on every boot (`/var/lib/tart-double/vm.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestInfo {
    /// The VM name (also its hostname).
    pub name: String,
    /// The VM's address on this boot.
    pub ip: Ipv4Addr,
    /// CPUs.
    pub cpu: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// The Kubernetes binaries (`TART_INFRA_KUBE_BINS` of `tart run`), if set.
    pub kube_bins: Option<String>,
    /// `TART_DOUBLE_DELAYS` of `tart run`, for the guest's steps (`init`, `join`).
    #[serde(default)]
    pub delays: String,
}

/// A path inside the VM's state directory.
pub fn state_path(rel: &str) -> PathBuf {
    Path::new(STATE).join(rel)
}

/// Reads `vm.json`; the message says the tool only works inside a VM of the double.
pub fn info() -> Result<GuestInfo, String> {
    let path = state_path("vm.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("{}: {e}; this is a tart-double guest tool and only works inside a VM of the double (tart exec / ssh)", path.display())
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Appends a line to the VM's record of tool calls (`/var/lib/tart-double/record.log`).
pub fn record(tool: &str, args: &[String]) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_path("record.log"))
    {
        let _ = writeln!(f, "{tool} {}", args.join(" "));
    }
}
