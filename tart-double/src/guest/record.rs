//! TEST DOUBLE, NOT SHIPPED. `apt-get`, `apt-mark`, `modprobe`, `sysctl`, `swapon`,
//! `swapoff`, `conntrack` and `containerd config` inside a VM: every call is recorded in
//! `/var/lib/tart-double/record.log` and succeeds (the VM has no swap: the real tools
//! would act on the host's). Installing `kubelet` or `containerd` (re)writes their units,
//! and installing `conntrack` puts its command on the PATH, as the packages do. The VM has
//! a kernel of its own for `sysctl`: what it sets is kept in the VM
//! (`/var/lib/tart-double/sysctl/<key>`), never written to the host's.

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
        if args.iter().any(|a| a == "conntrack") {
            let link = std::path::Path::new("/usr/local/sbin/conntrack");
            if let Ok(exe) = std::env::current_exe()
                && !link.exists()
            {
                let _ = std::os::unix::fs::symlink(exe, link);
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
    for module in args.iter().filter(|a| !a.starts_with('-')) {
        load_module(module);
    }
    0
}

/// Marks `module` loaded in the VM's own `/sys/module` (a per-VM directory).
fn load_module(module: &str) {
    let _ = std::fs::create_dir_all(std::path::Path::new("/sys/module").join(module));
}

/// What a fresh kernel does at boot (systemd-modules-load, systemd-sysctl): forget the
/// last boot's settings, then load the modules of `/etc/modules-load.d/*.conf` and apply
/// the settings of `/etc/sysctl.d/*.conf`. Runs inside the VM, before its units start.
pub fn boot_kernel() {
    let _ = std::fs::remove_dir_all(super::state_path("sysctl"));
    let lines = |dir: &str| -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "conf"))
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|t| {
                t.lines()
                    .map(str::trim)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .collect()
    };
    for module in lines("/etc/modules-load.d") {
        load_module(&module);
    }
    for setting in lines("/etc/sysctl.d") {
        if let Some((k, v)) = setting.split_once('=') {
            let path = sysctl_path(k.trim().trim_start_matches('-'));
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(path, v.trim());
        }
    }
}

/// Where the VM's own value of a sysctl key is kept once set.
fn sysctl_path(key: &str) -> std::path::PathBuf {
    super::state_path("sysctl").join(key)
}

/// `sysctl`: records; `-w k=v` / `k=v` set the key in the VM (kept in its state, echoed as
/// `k = v` unless `-q`), `-n <key>` prints the VM's value, else the host kernel's (read
/// from `/proc/sys`); `--system` is quiet. The host's kernel is never written.
pub fn sysctl(args: &[String]) -> i32 {
    record("sysctl", args);
    let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
    let values_only = args.iter().any(|a| a == "-n" || a == "--values");
    for a in args.iter().filter(|a| !a.starts_with('-')) {
        if let Some((k, v)) = a.split_once('=') {
            let path = sysctl_path(k.trim());
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&path, v.trim()) {
                eprintln!("sysctl: setting key \"{k}\": {e}");
                return 255;
            }
            if !quiet {
                println!("{k} = {v}");
            }
        } else {
            let host = format!("/proc/sys/{}", a.replace('.', "/"));
            let value =
                std::fs::read_to_string(sysctl_path(a)).or_else(|_| std::fs::read_to_string(&host));
            match value {
                Ok(v) if values_only => println!("{}", v.trim()),
                Ok(v) => println!("{a} = {}", v.trim()),
                Err(_) => {
                    eprintln!("sysctl: cannot stat {host}: No such file or directory");
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

/// `containerd config default|dump`: the parts of containerd 1.7's default config (Ubuntu
/// 24.04's package) that node scripts edit: runc with `SystemdCgroup = false`, and the CRI
/// registry section with its empty `config_path`.
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

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""

      [plugins."io.containerd.grpc.v1.cri".registry.auths]

      [plugins."io.containerd.grpc.v1.cri".registry.configs]

      [plugins."io.containerd.grpc.v1.cri".registry.headers]

      [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
"#;

/// `conntrack` (after `apt-get install conntrack`): records.
pub fn conntrack(args: &[String]) -> i32 {
    record("conntrack", args);
    0
}

/// The images "pulled" into the VM's containerd, one reference a line.
const IMAGES: &str = "images.list";

fn pulled() -> Vec<String> {
    std::fs::read_to_string(super::state_path(IMAGES))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Records `image` as present in the VM's image store (used by `kubeadm config images pull`).
pub fn add_image(image: &str) {
    use std::io::Write as _;
    if pulled().iter().any(|i| i == image) {
        return;
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(super::state_path(IMAGES))
    {
        let _ = writeln!(f, "{image}");
    }
}

/// `crictl [--runtime-endpoint E] pull|inspecti|images [REF]`: records; `pull` adds the
/// reference to the VM's image list, `inspecti` succeeds only for a listed one.
pub fn crictl(args: &[String]) -> i32 {
    record("crictl", args);
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "-r" | "--runtime-endpoint" | "-i" | "--image-endpoint" | "-t" | "--timeout" => {
                iter.next();
            }
            a if a.starts_with('-') => {}
            a => words.push(a.to_owned()),
        }
    }
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["pull", image] => {
            add_image(image);
            println!("Image is up to date for {image} (tart-double)");
            0
        }
        ["inspecti", image] => {
            if pulled().iter().any(|i| i == image) {
                println!("{{\"status\": {{\"repoTags\": [\"{image}\"]}}}}");
                0
            } else {
                eprintln!("FATA[0000] no such image \"{image}\" present");
                1
            }
        }
        ["version" | "info"] => {
            println!("RuntimeName:  containerd (tart-double)");
            0
        }
        ["images", ..] => {
            for image in pulled() {
                println!("{image}");
            }
            0
        }
        _ => {
            eprintln!("crictl (tart-double): supported: pull, inspecti, images, version, info");
            1
        }
    }
}

/// `curl`: records. The double's VMs have no internet: the Kubernetes package signing key
/// (`https://pkgs.k8s.io/.../Release.key`) is answered with a stand-in key block, anything
/// else fails as an unresolvable host does.
pub fn curl(args: &[String]) -> i32 {
    record("curl", args);
    let url = args
        .iter()
        .find(|a| a.starts_with("https://") || a.starts_with("http://"));
    let out = args
        .iter()
        .position(|a| a == "-o" || a == "--output")
        .and_then(|i| args.get(i + 1));
    let Some(url) =
        url.filter(|u| u.starts_with("https://pkgs.k8s.io/") && u.ends_with("/Release.key"))
    else {
        eprintln!("curl: (6) Could not resolve host (tart-double: VMs have no internet)");
        return 6;
    };
    let body = format!(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ntart-double stand-in for {url}\n-----END PGP PUBLIC KEY BLOCK-----\n"
    );
    match out {
        Some(path) => match std::fs::write(path, body) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("curl: (23) Failure writing output to destination: {e}");
                23
            }
        },
        None => {
            print!("{body}");
            0
        }
    }
}
