//! TEST ONLY: `TART_INFRA_TEST_HOST_FACTS`, an override of the host facts for the tart test
//! double (`tart-double/`), which runs on Linux CI machines with 2 CPUs where the real
//! preflight would (rightly) refuse to create anything.
//!
//! It exists only so the end-to-end tests can run `tart-infra up` against the double; it is
//! never needed on a Mac. When set, `up`'s preflight and `serve`'s capacity read the
//! operating system, architecture, CPUs, memory and free disk from it, and both print a
//! warning. Value: JSON, every key optional, e.g.
//! `{"os":"macos","arch":"arm64","cpus":16,"memoryMiB":65536,"freeDiskGiB":500}`.

use serde::Deserialize;
use vm_api::Resources;

use super::facts::{Arch, HostFacts, Os};

/// The environment variable.
pub const ENV: &str = "TART_INFRA_TEST_HOST_FACTS";

/// The facts the test override replaces; a missing key keeps the observed fact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostFactsOverride {
    /// `macos`, `linux` or another name.
    pub os: Option<String>,
    /// `arm64` (or `aarch64`), `x86_64` or another name.
    pub arch: Option<String>,
    /// Logical CPUs.
    pub cpus: Option<u32>,
    /// Memory in MiB.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: Option<u64>,
    /// Free disk where Tart keeps VMs, in GiB.
    #[serde(rename = "freeDiskGiB")]
    pub free_disk_gib: Option<u64>,
}

/// Parses the override's JSON; the error names the variable and shows the format.
pub fn parse(text: &str) -> Result<HostFactsOverride, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "{ENV} is not valid ({e}); give JSON such as {{\"os\":\"macos\",\"arch\":\"arm64\",\"cpus\":16,\"memoryMiB\":65536,\"freeDiskGiB\":500}}, or unset it (it exists only for the tart test double)"
        )
    })
}

/// The override in the environment, `None` when the variable is unset or empty.
pub fn from_env() -> Result<Option<HostFactsOverride>, String> {
    match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => parse(&text).map(Some),
        _ => Ok(None),
    }
}

/// The warning printed whenever the override is used.
pub fn warning() -> String {
    format!(
        "warning: {ENV} is set: host facts come from it, not from this machine (TEST ONLY, for the tart test double)"
    )
}

impl HostFactsOverride {
    /// `facts` with the overridden facts replaced.
    pub fn apply(&self, facts: &mut HostFacts) {
        if let Some(os) = &self.os {
            facts.os = match os.to_ascii_lowercase().as_str() {
                "macos" | "darwin" => Os::MacOs,
                "linux" => Os::Linux,
                other => Os::Other(other.to_owned()),
            };
        }
        if let Some(arch) = &self.arch {
            facts.arch = match arch.to_ascii_lowercase().as_str() {
                "arm64" | "aarch64" => Arch::Arm64,
                "x86_64" | "amd64" => Arch::X86_64,
                other => Arch::Other(other.to_owned()),
            };
        }
        if let Some(cpus) = self.cpus {
            facts.cpus = cpus;
        }
        if let Some(memory) = self.memory_mib {
            facts.memory_mib = memory;
        }
        if let Some(disk) = self.free_disk_gib {
            facts.free_disk_gib = disk;
        }
    }

    /// The host size `serve` reports for capacity admission, overridden likewise.
    pub fn apply_resources(&self, size: &mut Resources) {
        if let Some(cpus) = self.cpus {
            size.cpu = cpus;
        }
        if let Some(memory) = self.memory_mib {
            size.memory_mib = memory;
        }
        if let Some(disk) = self.free_disk_gib {
            size.disk_gib = disk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::KeyState;

    fn facts() -> HostFacts {
        HostFacts {
            os: Os::Linux,
            arch: Arch::X86_64,
            tart_version: Some("2.30.0".into()),
            cpus: 2,
            memory_mib: 4096,
            vm_dir: "/tmp/tart".into(),
            free_disk_gib: 10,
            ssh_key: KeyState::Missing,
        }
    }

    #[test]
    fn the_override_replaces_only_the_facts_it_names() {
        let o = parse(r#"{"os":"macos","arch":"arm64","cpus":16,"memoryMiB":65536}"#).expect("ok");
        let mut f = facts();
        o.apply(&mut f);
        assert_eq!(
            (f.os, f.arch, f.cpus, f.memory_mib),
            (Os::MacOs, Arch::Arm64, 16, 65536)
        );
        assert_eq!(f.free_disk_gib, 10, "not named: kept");
        let mut size = Resources {
            cpu: 2,
            memory_mib: 4096,
            disk_gib: 10,
        };
        o.apply_resources(&mut size);
        assert_eq!(
            size,
            Resources {
                cpu: 16,
                memory_mib: 65536,
                disk_gib: 10
            }
        );
    }

    #[test]
    fn a_bad_override_names_the_variable_and_the_format() {
        for bad in ["{", r#"{"cpu":4}"#, r#"{"cpus":"many"}"#, "[]"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains(ENV) && err.contains("memoryMiB"), "{err}");
        }
        assert_eq!(parse("{}").expect("empty"), HostFactsOverride::default());
    }
}
