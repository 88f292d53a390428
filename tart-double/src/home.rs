//! TEST DOUBLE, NOT SHIPPED. The double's `$TART_HOME` (default `~/.tart`), laid out like
//! Tart's where a client could look:
//!
//! - `vms/<name>/config.json` (Tart's VMConfig keys: `cpuCount`, `memorySize` in bytes,
//!   `macAddress`, `os`, `display`, `diskFormat`), `vms/<name>/disk.img` (a sparse file
//!   whose length is the disk size, as Tart's), plus the double's own:
//!   `vms/<name>/root/` (the guest's files, bind-mounted inside the VM), `run.json` (the
//!   running VM: `tart run`'s pid, its address), `console.log`;
//! - `cache/OCIs/<escaped ref>/` for "pulled" images;
//! - `dhcpd_leases` ([`crate::lease`]) and `.lock`.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::errors::TartError;

/// One `$TART_HOME`.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

/// Tart's `config.json`, the fields the double uses (unknown fields are kept out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmConfig {
    pub version: u32,
    pub os: String,
    pub arch: String,
    pub cpu_count_min: u32,
    pub cpu_count: u32,
    pub memory_size_min: u64,
    /// Bytes.
    pub memory_size: u64,
    pub mac_address: String,
    pub display: Display,
    pub disk_format: String,
}

/// The display size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    pub width: u32,
    pub height: u32,
}

impl VmConfig {
    /// What a Cirrus Labs Linux image comes with: 4 CPUs, 4 GB, a random MAC.
    pub fn image_default(mac: String) -> Self {
        Self {
            version: 1,
            os: "linux".to_owned(),
            arch: "arm64".to_owned(),
            cpu_count_min: 1,
            cpu_count: 4,
            memory_size_min: 512 * 1024 * 1024,
            memory_size: 4096 * 1024 * 1024,
            mac_address: mac,
            display: Display {
                width: 1024,
                height: 768,
            },
            disk_format: "raw".to_owned(),
        }
    }

    /// Memory in MB as `tart get` shows it.
    pub fn memory_mb(&self) -> u64 {
        self.memory_size / 1024 / 1024
    }
}

/// The running VM, written by `tart run`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// The `tart run` process.
    pub pid: u32,
    /// The VM's address on this boot.
    pub ip: Ipv4Addr,
    /// The VM's first process (the mount namespace's init, later sshd); 0 while booting.
    pub init_pid: u32,
    /// sshd answers: `tart ip` reports the address from now on.
    pub booted: bool,
    /// The VM's cgroup, relative to the cgroup2 root.
    pub cgroup: String,
    /// Whether the VM is isolated from the other VMs (no `--net-softnet-allow=0.0.0.0/0`
    /// and no `--net-bridged`).
    pub isolated: bool,
    /// The VM's mount namespace (`mnt:[inode]`), once booted.
    #[serde(default)]
    pub mnt_ns: String,
}

/// Whether `pid` is a live process (not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Whether `name` is a remote (OCI) reference: Tart treats names with a `/` as remote.
pub fn is_remote(name: &str) -> bool {
    name.contains('/')
}

/// A local VM name Tart accepts here: not empty, no `/`, no leading dot.
pub fn valid_local_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.starts_with('.') && name.len() <= 200
}

/// The cache directory name of a remote reference (`/` → `%2F`), and back.
pub fn escape_ref(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// See [`escape_ref`].
pub fn unescape_ref(dir: &str) -> String {
    dir.replace("%2F", "/").replace("%25", "%")
}

/// A reference without a tag or digest gets `:latest`, as Tart's RemoteName.
pub fn normalize_ref(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TartError> {
    let text = std::fs::read_to_string(path).map_err(TartError::io("reading", path))?;
    serde_json::from_str(&text)
        .map_err(|e| TartError::Double(format!("{} is not valid: {e}", path.display())))
}

/// Writes JSON atomically (a temporary file renamed into place; the temporary file is this
/// process's own, so concurrent `tart` commands, e.g. two clones pulling one image, do not
/// rename each other's).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TartError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TartError::Double(format!("encoding {}: {e}", path.display())))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(TartError::io("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(TartError::io("renaming", &tmp))
}

impl Home {
    /// `$TART_HOME`, else `$HOME/.tart`; created when missing.
    pub fn from_env() -> Result<Self, TartError> {
        let root = match std::env::var_os("TART_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".tart"))
                .ok_or_else(|| TartError::Double("neither TART_HOME nor HOME is set".into()))?,
        };
        Self::at(root)
    }

    /// A home at `root`, created when missing.
    pub fn at(root: PathBuf) -> Result<Self, TartError> {
        for dir in [root.join("vms"), root.join("cache/OCIs")] {
            std::fs::create_dir_all(&dir).map_err(TartError::io("creating", &dir))?;
        }
        Ok(Self { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A local VM's directory.
    pub fn vm_dir(&self, name: &str) -> PathBuf {
        self.root.join("vms").join(name)
    }

    /// A cached image's directory.
    pub fn oci_dir(&self, name: &str) -> PathBuf {
        self.root
            .join("cache/OCIs")
            .join(escape_ref(&normalize_ref(name)))
    }

    /// The lease file.
    pub fn leases(&self) -> PathBuf {
        self.root.join("dhcpd_leases")
    }

    /// Takes the home's lock (released when the file is dropped): `run`'s checks and
    /// lease, `clone`, `delete` do not interleave.
    pub fn lock(&self) -> Result<File, TartError> {
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(TartError::io("opening", &path))?;
        file.lock().map_err(TartError::io("locking", &path))?;
        Ok(file)
    }

    /// Whether the local VM exists.
    pub fn exists(&self, name: &str) -> bool {
        valid_local_name(name) && self.vm_dir(name).join("config.json").is_file()
    }

    /// Fails with Tart's error when the local VM does not exist.
    pub fn require(&self, name: &str) -> Result<PathBuf, TartError> {
        if self.exists(name) {
            Ok(self.vm_dir(name))
        } else {
            Err(TartError::VmDoesNotExist(name.to_owned()))
        }
    }

    /// A VM's (or cached image's) configuration.
    pub fn config(dir: &Path) -> Result<VmConfig, TartError> {
        read_json(&dir.join("config.json"))
    }

    /// Saves a configuration.
    pub fn save_config(dir: &Path, config: &VmConfig) -> Result<(), TartError> {
        write_json(&dir.join("config.json"), config)
    }

    /// The running state of a local VM; `None` when it is not running (no state, or the
    /// `tart run` process is gone).
    pub fn running(&self, name: &str) -> Option<RunState> {
        let state: RunState = read_json(&self.vm_dir(name).join("run.json")).ok()?;
        alive(state.pid).then_some(state)
    }

    /// Every local VM name, sorted.
    pub fn local_names(&self) -> Result<Vec<String>, TartError> {
        let dir = self.root.join("vms");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(TartError::io("listing", &dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| self.exists(n))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every cached image reference, sorted.
    pub fn oci_names(&self) -> Result<Vec<String>, TartError> {
        let dir = self.root.join("cache/OCIs");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(TartError::io("listing", &dir))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("config.json").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|n| unescape_ref(&n))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The VMs running now, by name.
    pub fn running_vms(&self) -> Result<Vec<(String, RunState)>, TartError> {
        Ok(self
            .local_names()?
            .into_iter()
            .filter_map(|n| self.running(&n).map(|s| (n, s)))
            .collect())
    }
}

/// The disk size in GB (Tart: the disk file's length / 1000³).
pub fn disk_gb(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("disk.img")).map_or(0, |m| m.len() / 1_000_000_000)
}

/// Bytes actually allocated for the disk (sparse: nearly nothing).
pub fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(dir.join("disk.img")).map_or(0, |m| m.blocks() * 512)
}

/// Grows (never shrinks) the sparse disk file to `gb`; Tart's error when smaller.
pub fn resize_disk(dir: &Path, gb: u64) -> Result<(), TartError> {
    let path = dir.join("disk.img");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(TartError::io("opening", &path))?;
    let current = file
        .metadata()
        .map_err(TartError::io("reading", &path))?
        .len();
    let wanted = gb * 1_000_000_000;
    if wanted < current {
        return Err(TartError::InvalidDiskSize(format!(
            "new disk size of {} GB should be larger than the current disk size of {} GB",
            gb,
            current / 1_000_000_000
        )));
    }
    file.set_len(wanted)
        .map_err(TartError::io("resizing", &path))
}

/// A random locally administered unicast MAC, as `VZMACAddress.randomLocallyAdministered`.
pub fn random_mac() -> Result<String, TartError> {
    let mut b = [0u8; 6];
    random_bytes(&mut b)?;
    b[0] = (b[0] & 0xfc) | 0x02;
    Ok(b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Fills `buf` from /dev/urandom.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), TartError> {
    use std::io::Read as _;
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(TartError::io_doing("reading /dev/urandom"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_refs() {
        assert!(is_remote("ghcr.io/cirruslabs/ubuntu:24.04"));
        assert!(!is_remote("dev-cp-0"));
        assert!(valid_local_name("dev-cp-0"));
        assert!(!valid_local_name("a/b") && !valid_local_name("") && !valid_local_name(".."));
        assert_eq!(
            normalize_ref("ghcr.io/cirruslabs/ubuntu"),
            "ghcr.io/cirruslabs/ubuntu:latest"
        );
        assert_eq!(normalize_ref("localhost:5000/u"), "localhost:5000/u:latest");
        assert_eq!(normalize_ref("ghcr.io/a/u:24.04"), "ghcr.io/a/u:24.04");
        let r = "ghcr.io/a/u@sha256:abc";
        assert_eq!(unescape_ref(&escape_ref(r)), r);
        assert!(!escape_ref(r).contains('/'));
    }

    #[test]
    fn macs_are_local_unicast() {
        let mac = random_mac().expect("mac");
        assert_eq!(mac.len(), 17);
        let first = u8::from_str_radix(&mac[..2], 16).expect("hex");
        assert_eq!(first & 0x03, 0x02);
    }

    #[test]
    fn disks_only_grow() {
        let dir = tempfile::tempdir().expect("dir");
        resize_disk(dir.path(), 20).expect("create");
        assert_eq!(disk_gb(dir.path()), 20);
        resize_disk(dir.path(), 50).expect("grow");
        assert_eq!(disk_gb(dir.path()), 50);
        let err = resize_disk(dir.path(), 10).expect_err("shrink").to_string();
        assert!(
            err.contains("should be larger than the current disk size"),
            "{err}"
        );
        assert!(allocated_bytes(dir.path()) < 1_000_000, "sparse");
    }

    #[test]
    fn a_dead_pid_is_not_alive() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }
}
