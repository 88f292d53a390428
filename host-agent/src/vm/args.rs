//! The `tart` command lines the backend runs, built from what was asked. Pure, so the
//! exact flags (`--random-mac` always at creation, softnet with `--net-softnet-allow=0.0.0.0/0`
//! or bridged, the IP resolver that matches the networking) are locked by tests.

use std::time::Duration;

use vm_api::{Networking, Resources};

/// `tart set`: CPUs, memory and a new random MAC (Orchard does it always: a cloned MAC
/// collides in the DHCP leases, orchard#181); the disk only when it must grow, since
/// Tart cannot shrink a disk and an image's may already be larger than asked.
pub fn set(name: &str, want: Resources, have_disk_gib: u64) -> Vec<String> {
    let mut args = vec![
        "set".to_owned(),
        name.to_owned(),
        "--cpu".to_owned(),
        want.cpu.to_string(),
        "--memory".to_owned(),
        want.memory_mib.to_string(),
    ];
    if want.disk_gib > have_disk_gib {
        args.extend(["--disk-size".to_owned(), want.disk_gib.to_string()]);
    }
    args.push("--random-mac".to_owned());
    args
}

/// `tart run` without graphics and with networking that lets VMs reach each other.
pub fn run(name: &str, networking: &Networking) -> Vec<String> {
    let mut args = vec!["run".to_owned(), "--no-graphics".to_owned()];
    match networking {
        Networking::Softnet => args.extend([
            "--net-softnet".to_owned(),
            "--net-softnet-allow=0.0.0.0/0".to_owned(),
        ]),
        Networking::Bridged { interface } => args.push(format!("--net-bridged={interface}")),
    }
    args.push(name.to_owned());
    args
}

/// `tart ip`: `dhcp` reads the host's DHCP leases (softnet and NAT); `arp` is the one that
/// sees bridged VMs (and does not work with softnet).
pub fn ip(name: &str, networking: &Networking, wait: Duration) -> Vec<String> {
    let resolver = match networking {
        Networking::Softnet => "dhcp",
        Networking::Bridged { .. } => "arp",
    };
    vec![
        "ip".to_owned(),
        "--wait".to_owned(),
        wait_secs(wait).to_string(),
        "--resolver".to_owned(),
        resolver.to_owned(),
        name.to_owned(),
    ]
}

/// `tart ip --wait` takes a 16-bit number of seconds.
pub fn wait_secs(wait: Duration) -> u16 {
    u16::try_from(wait.as_secs()).unwrap_or(u16::MAX)
}

/// `tart stop --timeout N`.
pub fn stop(name: &str, timeout: Duration) -> Vec<String> {
    vec![
        "stop".to_owned(),
        "--timeout".to_owned(),
        timeout.as_secs().to_string(),
        name.to_owned(),
    ]
}

/// The script `authorize_ssh` runs in the guest through `tart exec -i <vm> sh -c SCRIPT sh
/// USER`, with the public key on stdin: it appends the key to the user's
/// `~/.ssh/authorized_keys` unless it is there (re-running adds nothing), fixes owner and
/// modes, then prints the host's public SSH host keys. Works as root or, through `sudo -n`,
/// as a user with passwordless sudo (the guest agent's user depends on the image).
pub const AUTHORIZE_SCRIPT: &str = r#"set -eu
user="$1"
if [ "$(id -u)" -eq 0 ]; then as_root=""; else as_root="sudo -n"; fi
home=$(getent passwd "$user" | cut -d: -f6)
if [ -z "$home" ]; then echo "no user $user in the VM" >&2; exit 3; fi
IFS= read -r key
$as_root mkdir -p "$home/.ssh"
$as_root touch "$home/.ssh/authorized_keys"
if ! $as_root grep -qxF -- "$key" "$home/.ssh/authorized_keys"; then
  printf '%s\n' "$key" | $as_root tee -a "$home/.ssh/authorized_keys" >/dev/null
fi
$as_root chown -R "$user:" "$home/.ssh"
$as_root chmod 700 "$home/.ssh"
$as_root chmod 600 "$home/.ssh/authorized_keys"
cat /etc/ssh/ssh_host_*_key.pub
"#;

/// `tart exec` of [`AUTHORIZE_SCRIPT`] for `user`.
pub fn authorize(name: &str, user: &str) -> Vec<String> {
    ["exec", "-i", name, "sh", "-c", AUTHORIZE_SCRIPT, "sh", user]
        .map(str::to_owned)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WANT: Resources = Resources {
        cpu: 2,
        memory_mib: 4096,
        disk_gib: 30,
    };

    #[test]
    fn set_always_randomises_the_mac_and_only_grows_the_disk() {
        assert_eq!(
            set("n", WANT, 20).join(" "),
            "set n --cpu 2 --memory 4096 --disk-size 30 --random-mac"
        );
        assert_eq!(
            set("n", WANT, 50).join(" "),
            "set n --cpu 2 --memory 4096 --random-mac"
        );
        assert_eq!(set("n", WANT, 30).len(), 7);
    }

    #[test]
    fn run_and_ip_match_the_networking() {
        assert_eq!(
            run("n", &Networking::Softnet).join(" "),
            "run --no-graphics --net-softnet --net-softnet-allow=0.0.0.0/0 n"
        );
        let bridged = Networking::Bridged {
            interface: "en0".into(),
        };
        assert_eq!(
            run("n", &bridged).join(" "),
            "run --no-graphics --net-bridged=en0 n"
        );
        assert_eq!(
            ip("n", &Networking::Softnet, Duration::from_secs(60)).join(" "),
            "ip --wait 60 --resolver dhcp n"
        );
        assert_eq!(
            ip("n", &bridged, Duration::from_secs(1 << 20)).join(" "),
            "ip --wait 65535 --resolver arp n"
        );
        assert_eq!(
            stop("n", Duration::from_secs(5)).join(" "),
            "stop --timeout 5 n"
        );
    }

    #[test]
    fn authorize_passes_the_user_as_an_argument_not_in_the_script() {
        let args = authorize("n", "admin");
        assert_eq!(args[..5], ["exec", "-i", "n", "sh", "-c"]);
        assert_eq!(args[6..], ["sh", "admin"]);
        assert!(AUTHORIZE_SCRIPT.contains("grep -qxF") && !AUTHORIZE_SCRIPT.contains("admin"));
    }
}
