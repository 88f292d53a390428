//! TEST DOUBLE, NOT SHIPPED. A VM's cgroup (every process of the VM, so `stop` finds them
//! all) and Tart's default VM-to-VM isolation: iptables rules in chain `TART_DOUBLE`
//! matching the VM's cgroup (xt_cgroup, cgroup v2 path) that reject new connections from
//! the VM to any 127.0.0.0/8 address but its own and 127.0.0.1 (the host). Removed on stop.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use crate::errors::TartError;

const CHAIN: &str = "TART_DOUBLE";

/// Where cgroup v2 is mounted: `TART_DOUBLE_CGROUP_ROOT`, `/sys/fs/cgroup` (unified
/// hierarchy) or `/sys/fs/cgroup/unified` (hybrid).
pub fn cgroup_root() -> Result<PathBuf, TartError> {
    if let Some(dir) = std::env::var_os("TART_DOUBLE_CGROUP_ROOT") {
        return Ok(PathBuf::from(dir));
    }
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("cgroup.procs").is_file() && d.join("cgroup.subtree_control").is_file())
        .ok_or_else(|| {
            TartError::Double("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified; set TART_DOUBLE_CGROUP_ROOT".into())
        })
}

/// The cgroup of VM `name` in the home whose id is `home_id`, relative to the root.
pub fn cgroup_path(home_id: &str, name: &str) -> String {
    format!("/tart-double/{home_id}-{name}")
}

/// Creates the cgroup.
pub fn create(rel: &str) -> Result<(), TartError> {
    let dir = cgroup_root()?.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(&dir).map_err(TartError::io("creating cgroup", &dir))
}

/// Moves process `pid` into the cgroup.
pub fn enter(rel: &str, pid: u32) -> Result<(), TartError> {
    let file = cgroup_root()?
        .join(rel.trim_start_matches('/'))
        .join("cgroup.procs");
    std::fs::write(&file, pid.to_string()).map_err(TartError::io("writing", &file))
}

/// The processes in the cgroup (empty when it is gone).
pub fn procs(rel: &str) -> Vec<u32> {
    let Ok(root) = cgroup_root() else {
        return Vec::new();
    };
    std::fs::read_to_string(root.join(rel.trim_start_matches('/')).join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Removes the (empty) cgroup; a leftover is harmless.
pub fn remove(rel: &str) {
    if let Ok(root) = cgroup_root() {
        let _ = std::fs::remove_dir(root.join(rel.trim_start_matches('/')));
    }
}

/// The iptables rules isolating the VM in cgroup `rel` with address `ip`, in order.
pub fn rules(rel: &str, ip: Ipv4Addr) -> Vec<Vec<String>> {
    let base = |dst: String| {
        vec![
            "-m".to_owned(),
            "cgroup".to_owned(),
            "--path".to_owned(),
            rel.to_owned(),
            "-d".to_owned(),
            dst,
        ]
    };
    let mut own = base(format!("{ip}/32"));
    own.extend(["-j", "RETURN"].map(String::from));
    let mut host = base("127.0.0.1/32".to_owned());
    host.extend(["-j", "RETURN"].map(String::from));
    let mut others = base("127.0.0.0/8".to_owned());
    others.extend(["-m", "conntrack", "--ctstate", "NEW", "-j", "REJECT"].map(String::from));
    vec![own, host, others]
}

fn iptables(args: &[String]) -> Result<std::process::Output, TartError> {
    Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|e| {
            TartError::Double(format!(
                "VM isolation needs iptables (apt-get install iptables; scripts/install-test-deps installs it), or run with --net-softnet-allow=0.0.0.0/0: {e}"
            ))
        })
}

fn checked(args: &[String]) -> Result<(), TartError> {
    let out = iptables(args)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TartError::Double(format!(
            "iptables {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Adds the isolation rules (and the chain and its jump from OUTPUT when missing).
pub fn isolate(rel: &str, ip: Ipv4Addr) -> Result<(), TartError> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    if !iptables(&s(&["-S", CHAIN]))?.status.success() {
        // Two VMs may race to create it; the loser's error is fine if the chain exists.
        let _ = iptables(&s(&["-N", CHAIN]));
    }
    if !iptables(&s(&["-C", "OUTPUT", "-j", CHAIN]))?
        .status
        .success()
    {
        checked(&s(&["-I", "OUTPUT", "-j", CHAIN]))?;
    }
    for rule in rules(rel, ip) {
        let mut args = s(&["-A", CHAIN]);
        args.extend(rule);
        checked(&args)?;
    }
    Ok(())
}

/// Removes the isolation rules of the VM (each one that is there).
pub fn unisolate(rel: &str, ip: Ipv4Addr) {
    for rule in rules(rel, ip) {
        let mut args = vec!["-D".to_owned(), CHAIN.to_owned()];
        args.extend(rule);
        while matches!(iptables(&args), Ok(out) if out.status.success()) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_allow_own_address_and_host_and_reject_other_loopback() {
        let r = rules("/tart-double/h-vm", Ipv4Addr::new(127, 0, 0, 5));
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].join(" "),
            "-m cgroup --path /tart-double/h-vm -d 127.0.0.5/32 -j RETURN"
        );
        assert!(r[1].join(" ").contains("-d 127.0.0.1/32 -j RETURN"));
        assert!(
            r[2].join(" ")
                .ends_with("-d 127.0.0.0/8 -m conntrack --ctstate NEW -j REJECT")
        );
        assert_eq!(cgroup_path("abc", "vm"), "/tart-double/abc-vm");
    }
}
