//! TEST DOUBLE, NOT SHIPPED. `apt-get`, `apt-mark`, `modprobe`, `sysctl`, `swapon`,
//! `swapoff` and `containerd config` inside a VM: every call is recorded in
//! `/var/lib/tart-double/record.log` and succeeds (the VM has no swap: the real tools
//! would act on the host's). Installing
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

/// `sysctl`: records; `-n <key>` prints the value (read from `/proc/sys`: reading is
/// harmless), `-w k=v` / `k=v` echo `k = v` as sysctl does unless `-q`, `--system` is quiet.
/// Nothing is written: the VM shares the host's kernel.
pub fn sysctl(args: &[String]) -> i32 {
    record("sysctl", args);
    let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
    let values_only = args.iter().any(|a| a == "-n" || a == "--values");
    for a in args.iter().filter(|a| !a.starts_with('-')) {
        if let Some((k, v)) = a.split_once('=') {
            if !quiet {
                println!("{k} = {v}");
            }
        } else {
            let path = format!("/proc/sys/{}", a.replace('.', "/"));
            match std::fs::read_to_string(&path) {
                Ok(v) if values_only => println!("{}", v.trim()),
                Ok(v) => println!("{a} = {}", v.trim()),
                Err(_) => {
                    eprintln!("sysctl: cannot stat {path}: No such file or directory");
                    return 255;
                }
            }
        }
    }
    0
}

/// `swapon`: records; the VM has no swap, so `--show` prints nothing (as on a Cirrus Labs
/// image).
pub fn swapon(args: &[String]) -> i32 {
    record("swapon", args);
    0
}

/// `swapoff`: records (the real one would turn off the host's swap).
pub fn swapoff(args: &[String]) -> i32 {
    record("swapoff", args);
    0
}

/// `containerd config default|dump`: the part of containerd 1.7's default config (Ubuntu
/// 24.04's package) that node scripts edit: runc with `SystemdCgroup = false`.
pub fn containerd_config(args: &[String]) -> i32 {
    record("containerd", args);
    match args.get(1).map(String::as_str) {
        Some("default" | "dump") => {
            print!("{CONTAINERD_DEFAULT_CONFIG}");
            0
        }
        _ => {
            eprintln!("containerd (tart-double): supported: config default");
            1
        }
    }
}

const CONTAINERD_DEFAULT_CONFIG: &str = r#"disabled_plugins = []
imports = []
oom_score = 0
root = "/var/lib/containerd"
state = "/run/containerd"
version = 2

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.8"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            BinaryName = ""
            SystemdCgroup = false
"#;
