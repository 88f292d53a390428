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

/// `containerd config default`: records; prints the part of containerd 1.7's default
/// configuration a node script edits (the runc options with `SystemdCgroup = false`).
pub fn containerd_config(args: &[String]) -> i32 {
    record("containerd", args);
    if args.get(1).is_some_and(|a| a == "default") {
        print!(
            "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"registry.k8s.io/pause:3.8\"\n    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n      SystemdCgroup = false\n"
        );
        return 0;
    }
    eprintln!("containerd (tart-double): supported: config default");
    1
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
