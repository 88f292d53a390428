//! TEST DOUBLE, NOT SHIPPED: the `tart` double's CLI contract and VMs — Tart's JSON and
//! errors, sshd per VM with its own files, stop killing everything, isolation.

mod support;

use std::time::Duration;

use support::{Lab, eventually, prerequisites, reachable};

fn map(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
}

#[test]
fn clone_set_run_ip_list_get_stop_delete_round_trip() {
    if !prerequisites(false) {
        return;
    }
    let mut lab = Lab::new(91);
    assert_eq!(lab.ok(&["--version"]).trim(), "2.30.0");
    lab.env("TART_DOUBLE_VERSION", "2.10.0");
    assert_eq!(
        lab.ok(&["--version"]).trim(),
        "2.10.0",
        "a 'too old' tart can be faked"
    );

    lab.ok(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "dev-cp-0"]);
    lab.ok(&[
        "set",
        "dev-cp-0",
        "--cpu",
        "2",
        "--memory",
        "2048",
        "--disk-size",
        "50",
    ]);
    lab.ok(&["set", "dev-cp-0", "--random-mac"]);
    let shrink = lab.tart(&["set", "dev-cp-0", "--disk-size", "10"]);
    assert_eq!(shrink.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&shrink.stderr)
            .contains("should be larger than the current disk size")
    );

    let get = lab.ok(&["get", "dev-cp-0", "--format", "json"]);
    assert!(
        get.starts_with("{\n  \"OS\" : \"linux\",\n  \"CPU\" : 2,\n"),
        "Swift's prettyPrinted shape: {get}"
    );
    let g = map(&get);
    assert_eq!(
        (g["CPU"].as_i64(), g["Memory"].as_i64(), g["Disk"].as_i64()),
        (Some(2), Some(2048), Some(50))
    );
    assert_eq!(
        (g["Running"].as_bool(), g["State"].as_str()),
        (Some(false), Some("stopped"))
    );
    assert!(g["Size"].is_string() && g["DiskFormat"] == "raw" && g["Display"].is_string());
    let keys: Vec<&String> = g.as_object().expect("object").keys().collect();
    assert_eq!(
        keys.len(),
        9,
        "OS CPU Memory Disk DiskFormat Size Display Running State: {keys:?}"
    );

    let list = lab.ok(&["list", "--format", "json"]);
    assert!(
        list.contains("\"Name\" : \"ghcr.io\\/cirruslabs\\/ubuntu:24.04\""),
        "JSONEncoder escapes slashes: {list}"
    );
    let l = map(&list);
    assert_eq!(l[0]["Source"], "local");
    assert_eq!(l[0]["Name"], "dev-cp-0");
    assert_eq!(l[1]["Source"], "OCI");
    for key in [
        "Source", "Name", "Disk", "Size", "Accessed", "Running", "State",
    ] {
        assert!(l[0].get(key).is_some(), "{key} in {list}");
    }
    assert!(
        l[0]["Accessed"]
            .as_str()
            .is_some_and(|a| a.ends_with('Z') && a.len() == 20)
    );
    assert_eq!(
        lab.ok(&["list", "--source", "local", "-q"]).trim(),
        "dev-cp-0"
    );

    let no_ip = lab.tart(&["ip", "dev-cp-0"]);
    assert_eq!(no_ip.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&no_ip.stderr).trim(),
        "no IP address found, is your VM running?"
    );
    let not_running = lab.tart(&["stop", "dev-cp-0"]);
    assert_eq!(not_running.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&not_running.stderr).trim(),
        "VM \"dev-cp-0\" is not running"
    );

    let host_hosts = std::fs::read_to_string("/etc/hosts").expect("hosts");
    let ip = lab.run("dev-cp-0", &[]);
    assert_eq!(
        format!("{}.{}.{}", ip.octets()[0], ip.octets()[1], ip.octets()[2]),
        lab.subnet
    );
    let l = map(&lab.ok(&["list", "--format", "json"]));
    assert_eq!(
        (l[0]["Running"].as_bool(), l[0]["State"].as_str()),
        (Some(true), Some("running"))
    );
    let again = lab.tart(&["run", "dev-cp-0", "--no-graphics"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr).trim(),
        "VM \"dev-cp-0\" is already running!"
    );

    // Tart's limit: a second VM beyond TART_DOUBLE_MAX_RUNNING is refused.
    lab.ok(&["clone", "dev-cp-0", "dev-w-0"]);
    lab.env("TART_DOUBLE_MAX_RUNNING", "1");
    let limit = lab.tart(&["run", "dev-w-0", "--no-graphics"]);
    assert_eq!(limit.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&limit.stderr).trim(),
        "The number of VMs exceeds the system limit (other running VMs: dev-cp-0)"
    );

    // First contact through the guest agent, then real SSH with the pinned host key.
    lab.authorize("dev-cp-0", ip);
    let out = lab.ssh_ok(ip, "echo \"$(hostname) $(id -un)\"; echo '127.0.0.9 api.dev.tart-infra.internal' >> /etc/hosts; cat /etc/hosts; command -v kubeadm systemctl apt-get");
    assert!(out.starts_with("dev-cp-0 root\n"), "{out}");
    assert!(
        out.contains("api.dev.tart-infra.internal") && out.contains("/usr/local/sbin/kubeadm"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string("/etc/hosts").expect("hosts"),
        host_hosts,
        "the host's /etc/hosts is untouched"
    );
    let hosts_copy = lab.home.path().join("vms/dev-cp-0/root/etc/hosts");
    assert!(
        std::fs::read_to_string(hosts_copy)
            .expect("copy")
            .contains("api.dev.tart-infra.internal")
    );
    // What Ubuntu does and node-bootstrap's scripts rely on: /etc is the VM's (a file
    // replaced by `mv`, a new directory), the VM has its own kernel settings and modules,
    // and the tools answer as the real ones.
    let marker = format!("tart-double-test-{}", std::process::id());
    let out = lab.ssh_ok(
        ip,
        &format!(
            "set -e; cp /etc/hosts /etc/hosts.new; echo '127.0.0.8 moved' >> /etc/hosts.new; mv -f /etc/hosts.new /etc/hosts; grep -c moved /etc/hosts; \
             mkdir /etc/{marker}; \
             sysctl -q -w net.ipv4.ip_forward=1; sysctl -n net.ipv4.ip_forward; \
             modprobe br_netfilter; test -d /sys/module/br_netfilter && echo module; \
             swapon --show; kubeadm version -o short; \
             containerd config default | grep -c 'SystemdCgroup = false'; \
             systemctl is-enabled --quiet kubelet || echo quiet-and-disabled"
        ),
    );
    assert_eq!(
        out, "1\n1\nmodule\nv1.33.0\n1\nquiet-and-disabled\n",
        "{out}"
    );
    assert!(!std::path::Path::new("/etc").join(&marker).exists());
    assert!(
        lab.home
            .path()
            .join("vms/dev-cp-0/root/etc")
            .join(&marker)
            .is_dir()
    );
    let password = std::process::Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PubkeyAuthentication=no",
        ])
        .arg(format!("root@{ip}"))
        .arg("true")
        .output()
        .expect("ssh");
    assert!(!password.status.success(), "keys only");

    // A process started over SSH (detached) dies with the VM.
    lab.ssh_ok(
        ip,
        "systemctl enable --now containerd; systemctl is-active containerd",
    );
    let cgroup = lab.run_state("dev-cp-0")["cgroup"]
        .as_str()
        .expect("cgroup")
        .to_owned();
    let pids = tart_double::netiso::procs(&cgroup);
    assert!(pids.len() >= 2, "sshd and containerd: {pids:?}");
    lab.stop("dev-cp-0");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "pid {pid} survived the stop"
        );
    }
    assert!(!reachable(ip, 22));
    let ip_after = lab.tart(&["ip", "dev-cp-0", "--wait", "1"]);
    assert_eq!(ip_after.status.code(), Some(1));

    lab.ok(&["delete", "dev-cp-0", "dev-w-0"]);
    let gone = lab.tart(&["get", "dev-cp-0", "--format", "json"]);
    assert_eq!(gone.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr).trim(),
        "the specified VM \"dev-cp-0\" does not exist"
    );
}

#[test]
fn vms_are_isolated_unless_softnet_allows_everything() {
    if !prerequisites(false) {
        return;
    }
    let lab = Lab::new(92);
    lab.ok(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "nat"]);
    lab.ok(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "open"]);
    let nat = lab.run("nat", &[]);
    let open = lab.run("open", &["--net-softnet", "--net-softnet-allow=0.0.0.0/0"]);
    let connect = |from: &str, to: std::net::Ipv4Addr| {
        lab.tart(&[
            "exec",
            from,
            "timeout",
            "5",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{to}/22"),
        ])
        .status
        .success()
    };
    assert!(connect("nat", nat), "a VM reaches itself");
    assert!(!connect("nat", open), "default NAT: no VM-to-VM traffic");
    assert!(
        connect("open", nat),
        "softnet allowing 0.0.0.0/0 lifts the isolation"
    );
    assert!(connect("open", open));
    assert!(
        reachable(nat, 22) && reachable(open, 22),
        "the host reaches every VM"
    );
    let cgroup = lab.run_state("nat")["cgroup"]
        .as_str()
        .expect("cgroup")
        .to_owned();
    let rules = || {
        let out = std::process::Command::new("iptables")
            .args(["-w", "-S", "TART_DOUBLE"])
            .output()
            .expect("iptables");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(rules().contains(&cgroup), "{}", rules());
    assert!(
        !rules().contains(
            &lab.run_state("open")["cgroup"]
                .as_str()
                .expect("cgroup")
                .to_owned()
        ),
        "no rules for an open VM"
    );
    lab.stop("nat");
    assert!(
        !rules().contains(&cgroup),
        "rules removed on stop: {}",
        rules()
    );
    eventually(
        "nothing on the stopped VM's address",
        Duration::from_secs(5),
        || (!reachable(nat, 22)).then_some(()),
    );
}

#[test]
fn other_crates_find_the_binary() {
    let path = tart_double::binary().expect("the tart binary next to the tests");
    assert_eq!(path, std::path::Path::new(support::TART));
}
