//! The VM API's types, shared by the backends and the host agent's HTTPS API (JSON, camelCase).

use serde::{Deserialize, Serialize};

/// What a VM is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Virtual CPUs.
    pub cpu: u32,
    /// Memory in MiB.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: u64,
    /// Disk size in GiB.
    #[serde(rename = "diskGiB")]
    pub disk_gib: u64,
}

/// How a VM reaches the other VMs. Tart's default shared NAT isolates VMs from each other,
/// so a multi-node cluster needs one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "mode")]
pub enum Networking {
    /// Softnet with `--net-softnet-allow=0.0.0.0/0`, which lifts the bridge isolation.
    #[default]
    Softnet,
    /// Bridged to a host interface (`--net-bridged=<interface>`).
    Bridged {
        /// The host interface, e.g. `en0`.
        interface: String,
    },
}

/// A VM to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmSpec {
    /// The VM name (a DNS label; also the node name and hostname).
    pub name: String,
    /// The image it is cloned from: a local VM or golden image, or an OCI reference.
    pub image: String,
    /// CPUs, memory and disk.
    #[serde(flatten)]
    pub resources: Resources,
    /// How it reaches the other VMs.
    #[serde(default)]
    pub networking: Networking,
}

/// A VM's run state, as Tart reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VmState {
    Running,
    Suspended,
    Stopped,
}

/// A VM as the backend sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vm {
    /// The VM name.
    pub name: String,
    /// Running, suspended or stopped.
    pub state: VmState,
    /// CPUs, memory and disk as configured.
    #[serde(flatten)]
    pub resources: Resources,
    /// Why the VM stopped when nobody asked it to: its hypervisor process exited
    /// unexpectedly (with the end of its log). Cleared by the next start, stop or delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// An SSH host key of a VM, in OpenSSH's public key format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostKey {
    /// The key type, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The base64 key blob, as in `/etc/ssh/ssh_host_ed25519_key.pub`.
    pub key: String,
}

/// The host's size and what the VMs take of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// The host's CPUs and memory, and the free disk where VMs are stored.
    pub host: Resources,
    /// What every existing VM is configured with (running or not).
    pub allocated: Resources,
    /// What the running VMs are configured with: what admission counts.
    #[serde(default = "Resources::zero")]
    pub running: Resources,
}

impl Resources {
    /// Nothing.
    pub const fn zero() -> Self {
        Self {
            cpu: 0,
            memory_mib: 0,
            disk_gib: 0,
        }
    }

    /// The sum, saturating.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu: self.cpu.saturating_add(other.cpu),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            disk_gib: self.disk_gib.saturating_add(other.disk_gib),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_without_running_reads_as_nothing_running() {
        let json = r#"{"host":{"cpu":8,"memoryMiB":1,"diskGiB":1},"allocated":{"cpu":2,"memoryMiB":1,"diskGiB":1}}"#;
        let capacity: Capacity = serde_json::from_str(json).expect("older answer");
        assert_eq!(capacity.running, Resources::zero());
        let sum = Resources {
            cpu: u32::MAX,
            memory_mib: 1,
            disk_gib: 2,
        }
        .plus(capacity.host);
        assert_eq!(
            sum,
            Resources {
                cpu: u32::MAX,
                memory_mib: 2,
                disk_gib: 3
            }
        );
    }
}
