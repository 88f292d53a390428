//! A real OpenSSH server for the tests: `/usr/sbin/sshd -D -e` with its own config, host key
//! and authorized_keys in a temporary directory, on 127.0.0.1 and a free port. Each test
//! starts its own and it is killed when dropped.
//!
//! Without sshd the tests fail when CI=true and are skipped (with a message) elsewhere.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use node_bootstrap::keys::{SshKey, ensure_key};
use node_bootstrap::ssh::{ClientConfig, KnownHostsFile, SshClient, SshTarget};
use vm_api::HostKey;

pub const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd.
pub struct Sshd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub address: IpAddr,
    pub port: u16,
    pub host_key: HostKey,
    log: Arc<Mutex<String>>,
}

impl Sshd {
    /// Starts sshd accepting `authorized` public key lines for root; `None` (after saying
    /// why) when sshd is not installed and this is not CI.
    pub fn start(authorized: &[&str]) -> Option<Self> {
        if !Path::new(SSHD).exists() {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !in_ci,
                "{SSHD} is missing; install openssh-server (scripts/install-test-deps does)"
            );
            eprintln!("SKIPPED: {SSHD} is missing; install openssh-server to run this test");
            return None;
        }
        match Self::try_start(authorized) {
            Ok(sshd) => Some(sshd),
            Err(e) => panic!("cannot start sshd: {e:#}"),
        }
    }

    fn try_start(authorized: &[&str]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").context("create /run/sshd")?;
        let host_key_path = dir.path().join("ssh_host_ed25519_key");
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test-vm", "-f"])
            .arg(&host_key_path)
            .output()
            .context("run ssh-keygen")?;
        if !keygen.status.success() {
            bail!("ssh-keygen: {}", String::from_utf8_lossy(&keygen.stderr));
        }
        let host_key = read_host_key(&dir.path().join("ssh_host_ed25519_key.pub"))?;
        let authorized_keys = dir.path().join("authorized_keys");
        std::fs::write(&authorized_keys, authorized.join("\n") + "\n")?;

        let address = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let port = free_port()?;
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:{port}\n\
                 HostKey {host_key}\n\
                 AuthorizedKeysFile {authorized_keys}\n\
                 PidFile none\n\
                 PermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 LogLevel VERBOSE\n",
                host_key = host_key_path.display(),
                authorized_keys = authorized_keys.display(),
            ),
        )?;
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn sshd")?;

        // sshd logs to stderr; a thread keeps reading it (so sshd never blocks on a full
        // pipe) and says when sshd listens.
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = child.stderr.take().context("sshd stderr")?;
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Server listening on") {
                    let _ = ready_tx.send(());
                }
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let mut sshd = Self {
            child,
            dir,
            address,
            port,
            host_key,
            log,
        };
        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let status = sshd.child.try_wait()?;
            bail!("sshd did not start listening ({status:?}):\n{}", sshd.log());
        }
        Ok(sshd)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The target for the VM `vm` served by this sshd, as root.
    pub fn target(&self, vm: &str) -> SshTarget {
        SshTarget::new(vm, self.address, "root").with_port(self.port)
    }

    /// A path in the server's temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client with a fresh key (in `dir`) and a known hosts file in `dir`.
pub fn client_in(dir: &Path) -> (SshClient, SshKey, KnownHostsFile) {
    let key = ensure_key(&dir.join("client/id_ed25519")).expect("client key");
    let known_hosts = KnownHostsFile::new(dir.join("client/known_hosts"));
    let client = SshClient::new(key.clone(), known_hosts.clone()).with_config(ClientConfig {
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(30),
    });
    (client, key, known_hosts)
}

/// A free TCP port on 127.0.0.1 (bound and released; the race is acceptable for tests).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `<algorithm> <base64> [comment]` from a `.pub` file.
pub fn read_host_key(path: &Path) -> Result<HostKey> {
    let text = std::fs::read_to_string(path)?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(algorithm), Some(key)) => Ok(HostKey {
            algorithm: algorithm.to_owned(),
            key: key.to_owned(),
        }),
        _ => bail!("{} is not a public key file", path.display()),
    }
}
