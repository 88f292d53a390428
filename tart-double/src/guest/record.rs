//! TEST DOUBLE, NOT SHIPPED. `apt-get`, `apt-mark`, `modprobe` and `sysctl` inside a VM:
//! every call is recorded in `/var/lib/tart-double/record.log` and succeeds. Installing
//! `kubelet` or `containerd` (re)writes their units, as the packages do.

use super::record;

/// `apt-get`: records; `install` of kubelet/containerd writes their unit files.
pub fn apt_get(args: &[String]) -> i32 {
    record("apt-get", args);
    if args.iter().any(|a| a == "install") {
        for (unit, text) in crate::vm::UNITS {
            let pkg = unit.trim_end_matches(".service");
            if args
                .iter()
                .any(|a| a == pkg || a.starts_with(&format!("{pkg}=")))
            {
                let _ = std::fs::write(format!("/etc/systemd/system/{unit}"), text);
            }
        }
        println!("Reading package lists... Done");
    }
    0
}

/// `apt-mark hold|unhold <pkg>...`: prints what apt-mark prints.
pub fn apt_mark(args: &[String]) -> i32 {
    record("apt-mark", args);
    if let Some((verb, pkgs)) = args.split_first() {
        let state = match verb.as_str() {
            "hold" => "set on hold",
            "unhold" => "Canceled hold on",
            _ => return 0,
        };
        for p in pkgs {
            if state == "set on hold" {
                println!("{p} set on hold.");
            } else {
                println!("Canceled hold on {p}.");
            }
        }
    }
    0
}

/// `modprobe <module>`: records.
pub fn modprobe(args: &[String]) -> i32 {
    record("modprobe", args);
    0
}

/// `sysctl`: records; `-w k=v` / `k=v` echo `k = v` as sysctl does, `--system` is quiet.
pub fn sysctl(args: &[String]) -> i32 {
    record("sysctl", args);
    for a in args.iter().filter(|a| !a.starts_with('-')) {
        if let Some((k, v)) = a.split_once('=') {
            println!("{k} = {v}");
        }
    }
    0
}
