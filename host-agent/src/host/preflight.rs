//! Whether this host can run the cluster file's VMs: a pure function of the observed
//! [`HostFacts`] and the [`Config`], giving one [`Problem`] per thing to fix. `up` runs it
//! before it creates anything and stops when the list is not empty.
//!
//! Headroom, and why:
//! - **CPUs**: [`MACOS_RESERVED_CPUS`] (2) stay with macOS, Tart's processes and the host
//!   agent. A VM's virtual CPUs are host threads that macOS schedules, and kubeadm nodes are
//!   idle most of the time, so the VMs may together have up to [`CPU_OVERCOMMIT`] (2) times
//!   the remaining CPUs; beyond that a load test measures CPU contention on the Mac, not
//!   the application. One VM may not have more CPUs than the host (Virtualization.framework
//!   refuses to start it).
//! - **Memory**: no overcommit. A VM's memory is real memory once the guest touches it (page
//!   cache, etcd, images), and macOS swapping VM memory stalls every node. The VMs'
//!   memory plus [`MACOS_RESERVED_MEMORY_MIB`] (4 GiB: macOS, Tart, the host agent) must fit.
//! - **Disk**: a VM's disk is a sparse APFS clone that grows up to `diskGiB`; the free disk
//!   where Tart keeps VMs must hold every disk grown full plus [`DISK_HEADROOM_GIB`]
//!   (20 GiB: the cached base image and room for macOS), because a full APFS volume stalls
//!   macOS and every VM at once. VMs that already exist (a re-run) have taken their current
//!   size from the free disk already, so a re-run is checked a little more strictly.
//!
//! The sums are over every VM of the file: `up` creates every cluster.

use std::fmt;
use std::path::Path;

use crds::managed_cluster::NodeSpec;

use super::facts::{Arch, HostFacts, KeyState, Os};
use super::parse::{Version, tart_version};
use crate::config::Config;

/// The oldest `tart` tart-infra supports: the one constant the preflight and the Tart
/// backend (`TartCli::new`) both check, [`crate::vm::parse::MIN_VERSION`] (2.27.0, the first
/// release with `tart exec`; its doc says why).
pub use crate::vm::parse::MIN_VERSION as MIN_TART_VERSION;
/// CPUs left to macOS, Tart and the host agent.
pub const MACOS_RESERVED_CPUS: u32 = 2;
/// How many virtual CPUs the VMs may have together per host CPU left to them.
pub const CPU_OVERCOMMIT: u32 = 2;
/// Memory left to macOS, Tart and the host agent.
pub const MACOS_RESERVED_MEMORY_MIB: u64 = 4096;
/// Free disk kept beyond the VMs' disks: the base image and room for macOS.
pub const DISK_HEADROOM_GIB: u64 = 20;

/// Something that stops `up`: what it is about (`host`, `tart`, a field of the file such as
/// `clusters[2].nodes[1].cpu`), what is wrong and the fix. Display is one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The resource or the file's field the problem is about.
    pub subject: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.subject, self.problem, self.fix)
    }
}

fn problem(
    subject: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Problem {
    Problem {
        subject: subject.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Every problem that stops `up` on this host with this config; empty when it can go.
/// On a host that cannot run Tart at all, that is the only problem.
pub fn preflight(facts: &HostFacts, config: &Config) -> Vec<Problem> {
    if let Some(p) = platform(&facts.os, &facts.arch) {
        return vec![p];
    }
    let vms = vms(config);
    let mut problems = Vec::new();
    problems.extend(tart(facts.tart_version.as_deref()));
    problems.extend(cpus(facts.cpus, &vms));
    problems.extend(memory(facts.memory_mib, &vms));
    problems.extend(disk(facts.free_disk_gib, &facts.vm_dir, &vms));
    problems.extend(ssh_key(&facts.ssh_key, &config.ssh.private_key_path));
    problems
}

/// Tart runs Linux VMs on macOS on Apple silicon only.
fn platform(os: &Os, arch: &Arch) -> Option<Problem> {
    let lab = "on this machine run the simulated lab instead: `tart-infra lab up` (or scripts/lab)";
    match (os, arch) {
        (Os::MacOs, Arch::Arm64) => None,
        (Os::MacOs, arch) => Some(problem(
            "host",
            format!(
                "a Mac with a {} CPU: Tart runs Linux VMs on Apple silicon (arm64) only",
                arch_name(arch)
            ),
            format!("run `tart-infra up` on a Mac with Apple silicon; {lab}"),
        )),
        (os, _) => Some(problem(
            "host",
            format!(
                "`tart-infra up` creates Tart VMs, which need macOS on Apple silicon, and this is {}",
                os_name(os)
            ),
            lab,
        )),
    }
}

fn os_name(os: &Os) -> &str {
    match os {
        Os::MacOs => "macOS",
        Os::Linux => "Linux",
        Os::Other(name) => name,
    }
}

fn arch_name(arch: &Arch) -> &str {
    match arch {
        Arch::Arm64 => "arm64",
        Arch::X86_64 => "x86_64 (Intel)",
        Arch::Other(name) => name,
    }
}

/// `tart` on PATH, a release at least [`MIN_TART_VERSION`].
fn tart(version_line: Option<&str>) -> Option<Problem> {
    let install =
        format!("install tart {MIN_TART_VERSION} or newer: `brew install cirruslabs/cli/tart`");
    let Some(line) = version_line else {
        return Some(problem(
            "tart",
            "is not installed (no `tart` on PATH)",
            install,
        ));
    };
    let Some(found) = tart_version(line) else {
        return Some(problem(
            "tart",
            format!("`tart --version` printed `{line}`, not a release version"),
            install,
        ));
    };
    let min = Version {
        major: MIN_TART_VERSION.0,
        minor: MIN_TART_VERSION.1,
        patch: MIN_TART_VERSION.2,
    };
    (found < min).then(|| {
        problem(
            "tart",
            format!(
                "version {found} is older than {MIN_TART_VERSION}, the oldest tart-infra supports"
            ),
            "upgrade it: `brew upgrade cirruslabs/cli/tart`",
        )
    })
}

/// `helm` on PATH (or `--helm-bin`), a release at least `min`: `up` installs Cilium with it.
pub fn helm(version_line: Option<&str>, min: (u32, u32, u32)) -> Option<Problem> {
    let (major, minor, patch) = min;
    let install = format!(
        "install helm {major}.{minor}.{patch} or newer (`brew install helm`), or pass its path with --helm-bin"
    );
    let Some(line) = version_line else {
        return Some(problem(
            "helm",
            "is not installed (no `helm` on PATH)",
            install,
        ));
    };
    let Some(found) = Version::parse(line.trim()) else {
        return Some(problem(
            "helm",
            format!("`helm version` printed `{line}`, not a release version"),
            install,
        ));
    };
    (found
        < Version {
            major,
            minor,
            patch,
        })
    .then(|| {
        problem(
            "helm",
            format!(
                "version {found} is older than {major}.{minor}.{patch}, the oldest `up` supports"
            ),
            "upgrade it: `brew upgrade helm`",
        )
    })
}

/// Every VM of the file with its path, `clusters[i].nodes[j]`.
fn vms(config: &Config) -> Vec<(String, &NodeSpec)> {
    config
        .clusters
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.nodes
                .iter()
                .enumerate()
                .map(move |(j, n)| (format!("clusters[{i}].nodes[{j}]"), n))
        })
        .collect()
}

/// The VM with the most of `field`, as `path.field = value`, to point the fix at.
fn largest(vms: &[(String, &NodeSpec)], field: &str, value: fn(&NodeSpec) -> u64) -> String {
    vms.iter()
        .fold(None::<(&str, u64)>, |best, (path, node)| match best {
            Some((_, v)) if v >= value(node) => best,
            _ => Some((path, value(node))),
        })
        .map(|(path, v)| format!("the largest is {path}.{field} = {v}"))
        .unwrap_or_default()
}

fn cpus(host: u32, vms: &[(String, &NodeSpec)]) -> Vec<Problem> {
    let mut problems: Vec<Problem> = vms
        .iter()
        .filter(|(_, n)| n.cpu > host)
        .map(|(path, n)| {
            problem(
                format!("{path}.cpu"),
                format!("{} virtual CPUs, more than the host's {host}", n.cpu),
                format!("set cpu: {host} or less (a VM cannot have more CPUs than the Mac)"),
            )
        })
        .collect();
    let total: u64 = vms.iter().map(|(_, n)| u64::from(n.cpu)).sum();
    let usable = host.saturating_sub(MACOS_RESERVED_CPUS);
    let allowed = u64::from(usable) * u64::from(CPU_OVERCOMMIT);
    if total > allowed {
        problems.push(problem(
            "host",
            format!(
                "{host} CPUs; the config's {} VMs have {total} virtual CPUs together, more than {CPU_OVERCOMMIT} × ({host} − {MACOS_RESERVED_CPUS} for macOS) = {allowed}",
                vms.len()
            ),
            format!(
                "lower nodes' cpu by {} in all ({}) or remove a cluster",
                total - allowed,
                largest(vms, "cpu", |n| u64::from(n.cpu))
            ),
        ));
    }
    problems
}

fn memory(host_mib: u64, vms: &[(String, &NodeSpec)]) -> Vec<Problem> {
    let usable = host_mib.saturating_sub(MACOS_RESERVED_MEMORY_MIB);
    let mut problems: Vec<Problem> = vms
        .iter()
        .filter(|(_, n)| u64::from(n.memory_mib) > usable)
        .map(|(path, n)| {
            problem(
                format!("{path}.memoryMiB"),
                format!(
                    "{} MiB, more than the host's {host_mib} MiB less {MACOS_RESERVED_MEMORY_MIB} MiB for macOS",
                    n.memory_mib
                ),
                format!("set memoryMiB: {usable} or less"),
            )
        })
        .collect();
    let total: u64 = vms.iter().map(|(_, n)| u64::from(n.memory_mib)).sum();
    if total > usable {
        problems.push(problem(
            "host",
            format!(
                "{host_mib} MiB of memory; the config's {} VMs need {total} MiB plus {MACOS_RESERVED_MEMORY_MIB} MiB for macOS (VM memory is not overcommitted)",
                vms.len()
            ),
            format!(
                "lower nodes' memoryMiB by {} MiB in all ({}) or remove a cluster",
                total - usable,
                largest(vms, "memoryMiB", |n| u64::from(n.memory_mib))
            ),
        ));
    }
    problems
}

fn disk(free_gib: u64, vm_dir: &Path, vms: &[(String, &NodeSpec)]) -> Option<Problem> {
    let disks: u64 = vms.iter().map(|(_, n)| u64::from(n.disk_gib)).sum();
    let need = disks + DISK_HEADROOM_GIB;
    (free_gib < need).then(|| {
        problem(
            "host",
            format!(
                "{free_gib} GiB free at {}; the config's {} VM disks can grow to {disks} GiB, plus {DISK_HEADROOM_GIB} GiB for the base image and macOS",
                vm_dir.display(),
                vms.len()
            ),
            format!(
                "free {} GiB, lower nodes' diskGiB ({}) or remove a cluster",
                need - free_gib,
                largest(vms, "diskGiB", |n| u64::from(n.disk_gib))
            ),
        )
    })
}

/// The key may be missing (`up` generates it) or present for its owner only.
fn ssh_key(state: &KeyState, path: &Path) -> Option<Problem> {
    let shown = path.display();
    match state {
        KeyState::Missing => None,
        KeyState::Present { mode } if mode & 0o077 == 0 => None,
        KeyState::Present { mode } => Some(problem(
            "ssh.privateKeyPath",
            format!("{shown} can be read by other users (mode {mode:04o}); ssh refuses such a key"),
            format!("run `chmod 600 {shown}`"),
        )),
        KeyState::Unreadable { reason } => Some(problem(
            "ssh.privateKeyPath",
            format!("{shown} cannot be read: {reason}"),
            format!(
                "make it a file you own with `chmod 600 {shown}`, or move it away and let `up` generate a new key"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{DEFAULT_PATH, parse};

    /// The repository's cluster file: 10 VMs with 21 CPUs, 69632 MiB and 200 GiB of disk.
    fn shipped() -> Config {
        let text = include_str!("../../../config/clusters.yaml");
        match parse(text, DEFAULT_PATH) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// A Mac that runs the shipped file: an M4 Max with 16 CPUs, 128 GiB, 500 GiB free.
    fn mac() -> HostFacts {
        HostFacts {
            os: Os::MacOs,
            arch: Arch::Arm64,
            tart_version: Some("2.28.3".to_owned()),
            cpus: 16,
            memory_mib: 131_072,
            vm_dir: PathBuf::from("/Users/me/.tart"),
            free_disk_gib: 500,
            ssh_key: KeyState::Present { mode: 0o600 },
        }
    }

    fn messages(facts: &HostFacts) -> Vec<String> {
        preflight(facts, &shipped())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn helm_must_be_installed_and_recent() {
        let min = (3, 18, 0);
        assert_eq!(helm(Some("v4.3.2"), min), None);
        assert_eq!(helm(Some("v3.18.0"), min), None);
        let old = helm(Some("v3.12.3"), min).expect("too old");
        assert!(
            old.problem.contains("3.12.3") && old.problem.contains("3.18.0"),
            "{old}"
        );
        let missing = helm(None, min).expect("missing");
        assert!(missing.fix.contains("--helm-bin"), "{missing}");
        assert!(helm(Some("Error: unknown flag"), min).is_some());
    }

    #[test]
    fn a_big_enough_mac_has_no_problems() {
        assert_eq!(messages(&mac()), Vec::<String>::new());
        let missing_key = HostFacts {
            ssh_key: KeyState::Missing,
            ..mac()
        };
        assert_eq!(
            messages(&missing_key),
            Vec::<String>::new(),
            "up generates a missing key"
        );
        let read_only_key = HostFacts {
            ssh_key: KeyState::Present { mode: 0o400 },
            ..mac()
        };
        assert_eq!(messages(&read_only_key), Vec::<String>::new());
    }

    /// Each rule: the facts that break it and the one line it gives.
    #[test]
    fn each_rule_gives_one_line_naming_the_subject_and_the_fix() {
        let cases: Vec<(&str, HostFacts, &[&str])> = vec![
            (
                "Linux",
                HostFacts {
                    os: Os::Linux,
                    arch: Arch::X86_64,
                    tart_version: None,
                    ..mac()
                },
                &[
                    "host: `tart-infra up` creates Tart VMs",
                    "this is Linux",
                    "`tart-infra lab up`",
                    "scripts/lab",
                ],
            ),
            (
                "Intel Mac",
                HostFacts {
                    arch: Arch::X86_64,
                    ..mac()
                },
                &[
                    "host: a Mac with a x86_64 (Intel) CPU",
                    "Apple silicon",
                    "`tart-infra lab up`",
                ],
            ),
            (
                "no tart",
                HostFacts {
                    tart_version: None,
                    ..mac()
                },
                &[
                    "tart: is not installed",
                    "brew install cirruslabs/cli/tart",
                    "2.27.0",
                ],
            ),
            (
                "old tart",
                HostFacts {
                    tart_version: Some("2.9.1".to_owned()),
                    ..mac()
                },
                &[
                    "tart: version 2.9.1 is older than 2.27.0",
                    "brew upgrade cirruslabs/cli/tart",
                ],
            ),
            (
                "unknown tart",
                HostFacts {
                    tart_version: Some("SNAPSHOT".to_owned()),
                    ..mac()
                },
                &["tart: `tart --version` printed `SNAPSHOT`", "brew install"],
            ),
            (
                "8 CPUs",
                HostFacts { cpus: 8, ..mac() },
                &[
                    "host: 8 CPUs; the config's 10 VMs have 21 virtual CPUs together, more than 2 × (8 − 2 for macOS) = 12",
                    "lower nodes' cpu by 9 in all (the largest is clusters[0].nodes[1].cpu = 3) or remove a cluster",
                ],
            ),
            (
                "64 GiB",
                HostFacts {
                    memory_mib: 65_536,
                    ..mac()
                },
                &[
                    "host: 65536 MiB of memory; the config's 10 VMs need 69632 MiB plus 4096 MiB for macOS",
                    "by 8192 MiB in all (the largest is clusters[0].nodes[1].memoryMiB = 12288)",
                ],
            ),
            (
                "small disk",
                HostFacts {
                    free_disk_gib: 150,
                    ..mac()
                },
                &[
                    "host: 150 GiB free at /Users/me/.tart; the config's 10 VM disks can grow to 200 GiB, plus 20 GiB",
                    "free 70 GiB, lower nodes' diskGiB (the largest is clusters[0].nodes[0].diskGiB = 20)",
                ],
            ),
            (
                "key readable by others",
                HostFacts {
                    ssh_key: KeyState::Present { mode: 0o644 },
                    ..mac()
                },
                &[
                    "ssh.privateKeyPath: ~/.ssh/tart-infra_ed25519 can be read by other users (mode 0644)",
                    "run `chmod 600 ~/.ssh/tart-infra_ed25519`",
                ],
            ),
            (
                "key unreadable",
                HostFacts {
                    ssh_key: KeyState::Unreadable {
                        reason: "Permission denied (os error 13)".to_owned(),
                    },
                    ..mac()
                },
                &[
                    "ssh.privateKeyPath: ~/.ssh/tart-infra_ed25519 cannot be read: Permission denied",
                    "chmod 600",
                ],
            ),
        ];
        for (what, facts, words) in cases {
            let lines = messages(&facts);
            assert_eq!(lines.len(), 1, "{what}: {lines:#?}");
            for word in words {
                assert!(
                    lines[0].contains(word),
                    "{what}: {:?} lacks {word:?}",
                    lines[0]
                );
            }
            assert!(!lines[0].contains('\n'), "{what}: one line");
        }
    }

    /// The preflight and `TartCli::new` agree: the oldest tart the backend accepts passes.
    #[test]
    fn the_oldest_tart_the_backend_accepts_passes_the_preflight() {
        assert_eq!(MIN_TART_VERSION.to_string(), "2.27.0");
        for (version, ok) in [("2.27.0", true), ("2.26.9", false)] {
            let facts = HostFacts {
                tart_version: Some(version.to_owned()),
                ..mac()
            };
            assert_eq!(messages(&facts).is_empty(), ok, "{version}");
        }
    }

    #[test]
    fn a_vm_bigger_than_the_host_is_named() {
        let small = HostFacts {
            cpus: 2,
            memory_mib: 8192,
            ..mac()
        };
        let lines = messages(&small);
        assert!(
            lines.contains(&"clusters[0].nodes[1].cpu: 3 virtual CPUs, more than the host's 2; set cpu: 2 or less (a VM cannot have more CPUs than the Mac)".to_owned()),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("clusters[0].nodes[1].memoryMiB: 12288 MiB, more than the host's 8192 MiB less 4096 MiB for macOS; set memoryMiB: 4096 or less")),
            "{lines:#?}"
        );
        // Every problem at once, each on its own line: per-VM, then the totals.
        assert!(
            lines.iter().any(|l| l.starts_with("host: 2 CPUs")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("host: 8192 MiB")),
            "{lines:#?}"
        );
    }

    #[test]
    fn the_headroom_is_exact_at_the_limits() {
        // The shipped 21 vCPUs fit 2 × (13 − 2) = 22 but not 2 × (12 − 2) = 20; its
        // 69632 MiB need 73728 MiB; its 200 GiB of disks need 220 GiB free.
        let at = |cpus, memory_mib, free_disk_gib| {
            preflight(
                &HostFacts {
                    cpus,
                    memory_mib,
                    free_disk_gib,
                    ..mac()
                },
                &shipped(),
            )
            .len()
        };
        assert_eq!(at(13, 98_304, 500), 0);
        assert_eq!(at(12, 98_304, 500), 1);
        assert_eq!(at(13, 69_632 + 4096, 220), 0);
        assert_eq!(at(13, 69_632 + 4095, 220), 1);
        assert_eq!(at(13, 98_304, 219), 1);
    }
}
