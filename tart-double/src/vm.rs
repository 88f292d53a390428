//! TEST DOUBLE, NOT SHIPPED. A VM of the double: an OpenSSH server on the VM's own
//! loopback address, in its own mount (and UTS) namespace where per-VM directories are
//! bind-mounted over the paths a kubeadm node writes, and in its own cgroup (so `stop`
//! finds every process, and the isolation rules match). `tart run` supervises it.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::delays::Delays;
use crate::errors::TartError;
use crate::guest::GuestInfo;
use crate::home::{self, Home, RunState, VmConfig};
use crate::lease::{self, Policy};
use crate::netiso;

/// Guest paths replaced by per-VM copies inside the VM (directories unless marked file).
/// The two files are bind-mounted only where `/etc` cannot be an overlay ([`boot`]); a
/// bind-mounted file cannot be replaced by `mv`, which scripts do to `/etc/hosts`.
pub const BINDS: [(&str, bool); 20] = [
    ("/etc/hosts", true),
    ("/etc/hostname", true),
    ("/etc/machine-id", true),
    ("/etc/netplan", false),
    ("/etc/ssh", false),
    ("/root/.ssh", false),
    ("/etc/kubernetes", false),
    ("/etc/systemd/system", false),
    ("/etc/containerd", false),
    ("/etc/modules-load.d", false),
    ("/etc/sysctl.d", false),
    ("/etc/apt/keyrings", false),
    ("/etc/apt/sources.list.d", false),
    ("/etc/cni", false),
    ("/opt/cni", false),
    ("/var/lib/kubelet", false),
    ("/var/lib/etcd", false),
    ("/var/lib/tart-double", false),
    ("/usr/local/sbin", false),
    // The VM's kernel modules (`modprobe` marks one loaded there); empty on every boot.
    ("/sys/module", false),
];

/// The names the `tart` binary answers to inside a VM (symlinks in `/usr/local/sbin`).
pub const GUEST_TOOLS: [&str; 12] = [
    "kubeadm",
    "kubelet",
    "containerd",
    "systemctl",
    "apt-get",
    "apt-mark",
    "modprobe",
    "sysctl",
    "swapon",
    "swapoff",
    "crictl",
    "curl",
];

/// How `tart run` was asked to network the VM.
#[derive(Clone, Debug, Default)]
pub struct Net {
    pub softnet: bool,
    pub softnet_allow: Vec<String>,
    pub bridged: Option<String>,
}

impl Net {
    /// Tart's default NAT and softnet without `0.0.0.0/0` isolate VMs from each other;
    /// bridged networking and `--net-softnet-allow=0.0.0.0/0` do not.
    pub fn isolated(&self) -> bool {
        let open = self
            .softnet_allow
            .iter()
            .flat_map(|s| s.split(','))
            .any(|c| c.trim() == "0.0.0.0/0");
        self.bridged.is_none() && !open
    }
}

/// `sshd_config` of a VM: its address, its host key, keys only, root without password.
pub fn sshd_config(ip: Ipv4Addr) -> String {
    format!(
        "# tart-double VM sshd (TEST DOUBLE)\n\
         ListenAddress {ip}:22\n\
         HostKey /etc/ssh/ssh_host_ed25519_key\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile /root/.ssh/authorized_keys\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         UseDNS no\n\
         PidFile none\n\
         PrintMotd no\n\
         MaxStartups 100:30:200\n\
         Subsystem sftp internal-sftp\n"
    )
}

/// The systemd units a Cirrus Labs image with Kubernetes packages has (the doubles).
pub const UNITS: [(&str, &str); 2] = [
    (
        "kubelet.service",
        "[Unit]\nDescription=kubelet (tart-double)\n[Service]\nExecStart=/usr/local/sbin/kubelet\nRestart=always\n[Install]\nWantedBy=multi-user.target\n",
    ),
    (
        "containerd.service",
        "[Unit]\nDescription=containerd (tart-double)\n[Service]\nExecStart=/usr/local/sbin/containerd\n[Install]\nWantedBy=multi-user.target\n",
    ),
];

fn mkdir(path: &Path) -> Result<(), TartError> {
    std::fs::create_dir_all(path).map_err(TartError::io("creating", path))
}

fn write_if_missing(path: &Path, text: &str) -> Result<(), TartError> {
    if !path.exists() {
        std::fs::write(path, text).map_err(TartError::io("writing", path))?;
    }
    Ok(())
}

/// Prepares the VM's files for a boot on `ip`: the bind sources, first-boot content
/// (hosts, hostname, host key, units), and what changes every boot (sshd_config, the
/// tool links, `vm.json`).
pub fn prepare_root(
    dir: &Path,
    name: &str,
    ip: Ipv4Addr,
    config: &VmConfig,
) -> Result<(), TartError> {
    let root = dir.join("root");
    mkdir(&dir.join(ETC_WORK))?;
    // A fresh kernel: no module of the last boot is loaded.
    let _ = std::fs::remove_dir_all(root.join("sys/module"));
    for (guest, file) in BINDS {
        let path = root.join(guest.trim_start_matches('/'));
        if file {
            if let Some(parent) = path.parent() {
                mkdir(parent)?;
            }
        } else {
            mkdir(&path)?;
        }
    }
    write_if_missing(
        &root.join("etc/hosts"),
        &format!("127.0.0.1 localhost\n127.0.1.1 {name}\n"),
    )?;
    // A machine id of its own, as a first boot gives (the image may have emptied it).
    let machine_id = root.join("etc/machine-id");
    if std::fs::read_to_string(&machine_id).map_or(true, |id| id.trim().is_empty()) {
        let mut id = [0u8; 16];
        home::random_bytes(&mut id)?;
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&machine_id, format!("{hex}\n"))
            .map_err(TartError::io("writing", &machine_id))?;
    }
    std::fs::write(root.join("etc/hostname"), format!("{name}\n"))
        .map_err(TartError::io("writing", &root.join("etc/hostname")))?;
    for (unit, text) in UNITS {
        write_if_missing(&root.join("etc/systemd/system").join(unit), text)?;
    }
    let ssh = root.join("etc/ssh");
    let key = ssh.join("ssh_host_ed25519_key");
    if !key.exists() {
        let out = Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                &format!("root@{name}"),
                "-f",
            ])
            .arg(&key)
            .output()
            .map_err(TartError::io_doing(
                "running ssh-keygen (install openssh-client)",
            ))?;
        if !out.status.success() {
            return Err(TartError::Double(format!(
                "ssh-keygen failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    std::fs::write(ssh.join("sshd_config"), sshd_config(ip))
        .map_err(TartError::io("writing", &ssh))?;
    let keys = root.join("root/.ssh/authorized_keys");
    write_if_missing(&keys, "")?;
    let sbin = root.join("usr/local/sbin");
    let exe = std::env::current_exe().map_err(TartError::io_doing("finding the tart binary"))?;
    for tool in GUEST_TOOLS {
        let link = sbin.join(tool);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&exe, &link).map_err(TartError::io("linking", &link))?;
    }
    let info = GuestInfo {
        name: name.to_owned(),
        ip,
        cpu: config.cpu_count,
        memory_mib: config.memory_mb(),
        kube_bins: std::env::var(local_control_plane::BINS_ENV).ok(),
        delays: std::env::var("TART_DOUBLE_DELAYS").unwrap_or_default(),
    };
    home::write_json(&root.join("var/lib/tart-double/vm.json"), &info)
}

/// Creates the host's mount points that are missing (empty directories; a bind mount needs
/// one, and a `mkdir` inside the namespace would land on the host anyway).
fn ensure_mount_points() -> Result<(), TartError> {
    for (guest, file) in BINDS {
        let path = Path::new(guest);
        if file {
            if guest == "/etc/machine-id" && !path.exists() {
                // Minimal containers may lack it; an empty file is what systemd expects
                // of an image that has not booted yet.
                std::fs::write(path, "").map_err(TartError::io("creating", path))?;
            } else if !path.exists() {
                return Err(TartError::Double(format!(
                    "{guest} is missing on the host; the VM's copy is bind-mounted over it"
                )));
            }
        } else {
            mkdir(path)?;
        }
    }
    mkdir(Path::new("/run/sshd"))
}

/// A short id of the home (cgroup names of two homes never clash).
pub fn home_id(home: &Home) -> String {
    use sha2::Digest as _;
    let path = std::fs::canonicalize(home.root()).unwrap_or_else(|_| home.root().to_path_buf());
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn env_max_running() -> Result<Option<usize>, TartError> {
    match std::env::var("TART_DOUBLE_MAX_RUNNING") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
            TartError::Double(format!("TART_DOUBLE_MAX_RUNNING={v:?} is not a number"))
        }),
        _ => Ok(None),
    }
}

/// Takes the lease and writes `run.json`: the VM counts as running from here.
fn claim(home: &Home, name: &str, net: &Net) -> Result<RunState, TartError> {
    let dir = home.require(name)?;
    let config = Home::config(&dir)?;
    let policy = Policy::parse(std::env::var("TART_DOUBLE_DHCP").ok().as_deref())
        .map_err(TartError::Double)?;
    let subnet = lease::parse_subnet(std::env::var("TART_DOUBLE_SUBNET").ok().as_deref())
        .map_err(TartError::Double)?;
    let max = env_max_running()?;
    let _lock = home.lock()?;
    if home.running(name).is_some() {
        return Err(TartError::VmAlreadyRunning(name.to_owned()));
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("run.json"))
        && let Ok(stale) = serde_json::from_str::<RunState>(&text)
    {
        // A `tart run` that was killed outright: clean up what it left.
        teardown(&dir, &stale);
    }
    let running = home.running_vms()?;
    if let Some(max) = max
        && running.len() >= max
    {
        let names: Vec<&str> = running.iter().map(|(n, _)| n.as_str()).collect();
        let hint = if names.is_empty() {
            String::new()
        } else {
            format!(" (other running VMs: {})", names.join(", "))
        };
        return Err(TartError::LimitExceeded(hint));
    }
    let path = home.leases();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut leases =
        lease::parse(&text).map_err(|e| TartError::Double(format!("{}: {e}", path.display())))?;
    let busy: Vec<Ipv4Addr> = running.iter().map(|(_, s)| s.ip).collect();
    let ip = lease::allocate(&mut leases, &config.mac_address, subnet, policy, &busy)
        .ok_or_else(|| TartError::Double("no free address left in TART_DOUBLE_SUBNET".into()))?;
    std::fs::write(&path, lease::format(&leases)).map_err(TartError::io("writing", &path))?;
    let state = RunState {
        pid: std::process::id(),
        ip,
        init_pid: 0,
        booted: false,
        cgroup: netiso::cgroup_path(&home_id(home), name),
        isolated: net.isolated(),
        mnt_ns: String::new(),
    };
    home::write_json(&dir.join("run.json"), &state)?;
    Ok(state)
}

/// `tart run <name>`: boots the VM and owns it until SIGINT or SIGTERM (or until its
/// sshd dies). Returns the exit code.
pub async fn run(home: &Home, name: &str, net: &Net) -> Result<i32, TartError> {
    let delays = Delays::from_env().map_err(TartError::Double)?;
    let mut state = claim(home, name, net)?;
    let dir = home.vm_dir(name);
    let result = boot_and_own(home, name, &dir, &mut state, &delays).await;
    teardown(&dir, &state);
    result
}

async fn boot_and_own(
    home: &Home,
    name: &str,
    dir: &Path,
    state: &mut RunState,
    delays: &Delays,
) -> Result<i32, TartError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint =
        signal(SignalKind::interrupt()).map_err(TartError::io_doing("handling SIGINT"))?;
    let mut sigterm =
        signal(SignalKind::terminate()).map_err(TartError::io_doing("handling SIGTERM"))?;
    let config = Home::config(dir)?;
    prepare_root(dir, name, state.ip, &config)?;
    ensure_mount_points()?;
    netiso::create(&state.cgroup)?;
    if state.isolated {
        netiso::isolate(&state.cgroup, state.ip)?;
    }
    tokio::select! {
        _ = tokio::time::sleep(delays.of("boot")) => {}
        _ = sigint.recv() => return Ok(0),
        _ = sigterm.recv() => return Ok(0),
    }
    // Something else on port 22 of every address (a system sshd) would answer for the VM.
    if std::net::TcpListener::bind((state.ip, 22)).is_err() {
        return Err(TartError::Double(format!(
            "{}:22 is taken, by a system sshd listening on every address? Stop it (systemctl disable --now ssh); each VM of the double runs its own sshd",
            state.ip
        )));
    }
    let console = dir.join("console.log");
    let log = std::fs::File::create(&console).map_err(TartError::io("creating", &console))?;
    let log2 = log
        .try_clone()
        .map_err(TartError::io("opening", &console))?;
    let exe = std::env::current_exe().map_err(TartError::io_doing("finding the tart binary"))?;
    let mut child = tokio::process::Command::new("unshare")
        .args(["--mount", "--uts", "--propagation", "private", "--"])
        .arg(&exe)
        .args(["__boot", name])
        .env("TART_HOME", home.root())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(TartError::io_doing("starting unshare (util-linux)"))?;
    let pid = child.id().unwrap_or(0);
    state.init_pid = pid;
    let addr = SocketAddr::from((state.ip, 22));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(TartError::Double(format!(
                "the VM exited while booting ({status}); console:\n{}",
                local_control_plane::log_tail(&console, 20)
            )));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            return Err(TartError::Double(format!(
                "sshd did not answer on {addr} within 60 s; console:\n{}",
                local_control_plane::log_tail(&console, 20)
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    state.mnt_ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    state.booted = true;
    home::write_json(&dir.join("run.json"), state)?;
    tokio::select! {
        _ = sigint.recv() => Ok(0),
        _ = sigterm.recv() => Ok(0),
        status = child.wait() => {
            eprintln!("VM {name} exited unexpectedly ({}); console: {}", status.map(|s| s.to_string()).unwrap_or_default(), console.display());
            Ok(1)
        }
    }
}

/// Every process of the VM: its cgroup's, and any other in its mount namespace.
fn vm_pids(state: &RunState) -> Vec<u32> {
    let mut pids = netiso::procs(&state.cgroup);
    if !state.mnt_ns.is_empty()
        && let Ok(entries) = std::fs::read_dir("/proc")
    {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let ns = std::fs::read_link(e.path().join("ns/mnt"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if ns == state.mnt_ns && !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    pids.retain(|p| *p != std::process::id());
    pids
}

fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(sig)
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Kills every process of the VM (SIGTERM, up to 3 s, then SIGKILL), removes its
/// isolation rules, cgroup and `run.json`.
pub fn teardown(dir: &Path, state: &RunState) {
    let pids = vm_pids(state);
    signal("TERM", &pids);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && vm_pids(state).iter().any(|p| home::alive(*p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..50 {
        let left: Vec<u32> = vm_pids(state)
            .into_iter()
            .filter(|p| home::alive(*p))
            .collect();
        if left.is_empty() {
            break;
        }
        signal("KILL", &left);
        std::thread::sleep(Duration::from_millis(50));
    }
    if state.isolated {
        netiso::unisolate(&state.cgroup, state.ip);
    }
    netiso::remove(&state.cgroup);
    let _ = std::fs::remove_file(dir.join("run.json"));
}

/// The overlay's work directory beside `root/` (same filesystem as `root/etc`, its upper).
const ETC_WORK: &str = "etc-work";

/// Mounts the VM's `/etc`: the host's as the lower layer, the VM's `root/etc` as the upper
/// one, so what the guest writes anywhere in `/etc` (`/etc/hosts` replaced by `mv`,
/// `/etc/tart-infra`, `/etc/fstab`) stays in the VM, with a real file system's semantics.
fn mount_etc_overlay(dir: &Path) -> Result<(), String> {
    let options = format!(
        "lowerdir=/etc,upperdir={},workdir={}",
        dir.join("root/etc").display(),
        dir.join(ETC_WORK).display()
    );
    let out = Command::new("mount")
        .args(["-t", "overlay", "tart-double-etc", "-o", &options, "/etc"])
        .output()
        .map_err(|e| format!("running mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `tart __boot <name>` (hidden): the VM's first process, inside the new namespaces.
/// Joins the cgroup, bind-mounts the VM's files, sets the hostname, starts the enabled
/// units and becomes sshd.
pub fn boot(home: &Home, name: &str) -> Result<i32, TartError> {
    let dir = home.vm_dir(name);
    let text = std::fs::read_to_string(dir.join("run.json"))
        .map_err(TartError::io("reading", &dir.join("run.json")))?;
    let state: RunState =
        serde_json::from_str(&text).map_err(|e| TartError::Double(format!("run.json: {e}")))?;
    netiso::enter(&state.cgroup, std::process::id())?;
    let root = dir.join("root");
    // Without overlayfs (TART_HOME on an overlay itself) the two files are bind-mounted
    // instead, and guest writes elsewhere in /etc reach the host's.
    let overlay = mount_etc_overlay(&dir)
        .inspect_err(|e| {
            eprintln!("no overlay on /etc ({e}); bind-mounting /etc/hosts and /etc/hostname")
        })
        .is_ok();
    for (guest, file) in BINDS {
        if overlay && file {
            continue;
        }
        let src = root.join(guest.trim_start_matches('/'));
        let out = Command::new("mount")
            .arg("--bind")
            .arg(&src)
            .arg(guest)
            .output()
            .map_err(TartError::io_doing("running mount"))?;
        if !out.status.success() {
            return Err(TartError::Double(format!(
                "mount --bind {} {guest}: {}",
                src.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let _ = std::fs::write("/proc/sys/kernel/hostname", name);
    crate::guest::record::boot_kernel();
    if let Err(e) = crate::guest::systemctl::boot() {
        eprintln!("starting units: {e}");
    }
    let sshd = std::env::var("TART_DOUBLE_SSHD").unwrap_or_else(|_| "/usr/sbin/sshd".to_owned());
    let err = Command::new(&sshd)
        .args(["-D", "-e", "-f", "/etc/ssh/sshd_config"])
        .exec();
    Err(TartError::Double(format!(
        "starting {sshd} (install openssh-server): {err}"
    )))
}

/// `tart stop`: SIGINT to `tart run`, SIGKILL after `timeout`, then clean up what is left.
pub fn stop(home: &Home, name: &str, timeout: Duration) -> Result<(), TartError> {
    let dir = home.require(name)?;
    let Some(state) = home.running(name) else {
        return Err(TartError::VmNotRunning(name.to_owned()));
    };
    Delays::from_env().map_err(TartError::Double)?.wait("stop");
    signal("INT", &[state.pid]);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && home::alive(state.pid) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if home::alive(state.pid) {
        signal("KILL", &[state.pid]);
    }
    // Whatever the run process did not finish (it was killed).
    if let Ok(text) = std::fs::read_to_string(dir.join("run.json"))
        && let Ok(latest) = serde_json::from_str::<RunState>(&text)
    {
        teardown(&dir, &latest);
    }
    Ok(())
}

/// `tart exec`: runs `cmd` inside the VM (its cgroup and mount namespace), as the guest
/// agent would. Only returns on error.
pub fn exec(home: &Home, name: &str, interactive: bool, cmd: &[String]) -> Result<i32, TartError> {
    home.require(name)?;
    let Some(state) = home.running(name).filter(|s| s.booted) else {
        return Err(TartError::VmNotRunning(name.to_owned()));
    };
    netiso::enter(&state.cgroup, std::process::id())?;
    let mut command = Command::new("nsenter");
    command
        .arg("--target")
        .arg(state.init_pid.to_string())
        .args(["--mount", "--uts", "--"])
        .args(cmd)
        .current_dir("/")
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/root");
    if !interactive {
        command.stdin(Stdio::null());
    }
    let err = command.exec();
    Err(TartError::Double(format!(
        "running nsenter (util-linux): {err}"
    )))
}

/// `tart ip`: the address once the VM has booted, waiting up to `wait`.
pub fn ip(home: &Home, name: &str, wait: Duration, resolver: &str) -> Result<Ipv4Addr, TartError> {
    home.require(name)?;
    let deadline = Instant::now() + wait;
    loop {
        if let Some(state) = home.running(name).filter(|s| s.booted) {
            return Ok(state.ip);
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut message = "no IP address found".to_owned();
    if home.running(name).is_none() {
        message.push_str(", is your VM running?");
    }
    match resolver {
        "agent" => message
            .push_str(" (also make sure that Guest agent for Tart is running inside of a VM)"),
        "arp" => {
            message.push_str(" (not all Linux distributions are compatible with the ARP resolver)")
        }
        _ => {}
    }
    Err(TartError::NoIpAddressFound(message))
}

/// The per-VM root directory of a VM (its guest files, as bind-mounted inside it).
pub fn root_dir(home: &Home, name: &str) -> PathBuf {
    home.vm_dir(name).join("root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_follows_tarts_networking_flags() {
        assert!(Net::default().isolated());
        let open = Net {
            softnet: true,
            softnet_allow: vec!["10.0.0.0/8,0.0.0.0/0".into()],
            bridged: None,
        };
        assert!(!open.isolated());
        let narrow = Net {
            softnet: true,
            softnet_allow: vec!["10.0.0.0/8".into()],
            bridged: None,
        };
        assert!(narrow.isolated());
        let bridged = Net {
            bridged: Some("en0".into()),
            ..Net::default()
        };
        assert!(!bridged.isolated());
    }

    #[test]
    fn sshd_listens_on_the_vm_address_with_keys_only() {
        let c = sshd_config(Ipv4Addr::new(127, 0, 0, 7));
        assert!(c.contains("ListenAddress 127.0.0.7:22\n"));
        assert!(c.contains("PasswordAuthentication no\n"));
        assert!(c.contains("PermitRootLogin prohibit-password\n"));
    }
}
