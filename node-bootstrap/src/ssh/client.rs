//! The SSH client: connects to a VM by address, checks its host key against the pin for
//! its name, logs in with the client key, and runs scripts as `bash -s`.

use std::borrow::Cow;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh::keys::ssh_key::{Algorithm, PublicKey};
use russh::{ChannelMsg, Disconnect, Preferred, Sig};
use tokio::net::TcpStream;
use tokio::time::{Instant as Deadline, timeout, timeout_at};

use super::error::SshError;
use super::known_hosts::{KnownHosts, KnownHostsFile, PinOrigin};
use super::output::{Output, TAIL_BYTES, TAIL_LINES, tail};
use crate::keys::SshKey;
use crate::script::Script;

/// The default SSH port.
pub const DEFAULT_PORT: u16 = 22;

/// At most this much of a script's stdout or stderr is kept; the rest is dropped.
const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;

/// A VM to connect to: its name (what the host key is pinned under), its current address,
/// the port and the login user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    /// The VM name.
    pub vm: String,
    /// The VM's current address.
    pub address: IpAddr,
    /// The SSH port ([`DEFAULT_PORT`] unless changed).
    pub port: u16,
    /// The login user; scripts run through `sudo -n` unless it is `root`.
    pub user: String,
}

impl SshTarget {
    /// `user` at `address` on port 22, for the VM `vm`.
    pub fn new(vm: impl Into<String>, address: IpAddr, user: impl Into<String>) -> Self {
        Self {
            vm: vm.into(),
            address,
            port: DEFAULT_PORT,
            user: user.into(),
        }
    }

    /// The same target on another port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// `address:port`.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

/// How long connecting and commands may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// For each of: the TCP connection, the SSH handshake, the login.
    pub connect_timeout: Duration,
    /// For a script without its own timeout.
    pub command_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            // kubeadm init pulls images and waits for the control plane: minutes, not hours.
            command_timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// Where a client's pins come from.
#[derive(Clone, Debug)]
enum Pins {
    /// A known hosts file, read on every connection.
    File(KnownHostsFile),
    /// A table read elsewhere (the operator's ConfigMap of a cluster's pins).
    Table(KnownHosts, PinOrigin),
}

/// Connects to VMs with one client key and one set of pinned host keys.
#[derive(Clone, Debug)]
pub struct SshClient {
    key: SshKey,
    pins: Pins,
    config: ClientConfig,
}

impl SshClient {
    /// A client logging in with `key`, checking host keys against `known_hosts`.
    pub fn new(key: SshKey, known_hosts: KnownHostsFile) -> Self {
        Self {
            key,
            pins: Pins::File(known_hosts),
            config: ClientConfig::default(),
        }
    }

    /// A client checking host keys against `pins`, kept at `origin`.
    pub fn with_pins(key: SshKey, pins: KnownHosts, origin: PinOrigin) -> Self {
        Self {
            key,
            pins: Pins::Table(pins, origin),
            config: ClientConfig::default(),
        }
    }

    /// The same client with other timeouts.
    pub fn with_config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Opens an authenticated session to `target`. A known hosts file is read on every
    /// call; a VM with no pin is refused before any connection is made.
    pub async fn connect(&self, target: &SshTarget) -> Result<Session, SshError> {
        let (pins, origin) = match &self.pins {
            Pins::File(file) => (file.load()?, file.origin()),
            Pins::Table(table, origin) => (table.clone(), origin.clone()),
        };
        let algorithms = pins.algorithms(&target.vm);
        if algorithms.is_empty() {
            return Err(SshError::NotPinned {
                vm: target.vm.clone(),
                place: origin.place,
            });
        }
        let address = target.socket_addr().to_string();
        let connect_secs = self.config.connect_timeout.as_secs();
        let timed_out = || SshError::ConnectTimeout {
            vm: target.vm.clone(),
            address: address.clone(),
            secs: connect_secs,
        };

        let stream = timeout(
            self.config.connect_timeout,
            TcpStream::connect(target.socket_addr()),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| connect_error(target, &address, connect_secs, &e))?;
        let _ = stream.set_nodelay(true);

        let verdict = Arc::new(Mutex::new(None));
        let verifier = HostKeyVerifier {
            vm: target.vm.clone(),
            pins,
            origin,
            verdict: Arc::clone(&verdict),
        };
        let config = Arc::new(client_config(&algorithms));
        let handshake = client::connect_stream(config, stream, verifier);
        let mut handle = match timeout(self.config.connect_timeout, handshake).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => {
                let rejected = verdict.lock().ok().and_then(|mut slot| slot.take());
                return Err(rejected.unwrap_or_else(|| session_error(target, &address, &e)));
            }
        };

        let key = PrivateKeyWithHashAlg::new(self.key.private_key(), None);
        let auth = timeout(
            self.config.connect_timeout,
            handle.authenticate_publickey(target.user.clone(), key),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| session_error(target, &address, &e))?;
        if !auth.success() {
            return Err(SshError::AuthRefused {
                vm: target.vm.clone(),
                user: target.user.clone(),
                key: self.key.origin().to_owned(),
                fingerprint: self.key.fingerprint().to_owned(),
            });
        }
        tracing::debug!(vm = %target.vm, %address, user = %target.user, "ssh session open");
        Ok(Session {
            handle,
            target: target.clone(),
            address,
            command_timeout: self.config.command_timeout,
        })
    }
}

/// An authenticated SSH session to one VM. Scripts may run one after another or at once.
pub struct Session {
    handle: Handle<HostKeyVerifier>,
    target: SshTarget,
    address: String,
    command_timeout: Duration,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The VM this session is connected to.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Runs `script` as `bash -s` (through `sudo -n` for a user other than root), sending
    /// it on stdin, and returns its exit status and output whatever the status. A script
    /// that outlives its timeout (the script's own, else the client's) is signalled, its
    /// channel closed, and [`SshError::CommandTimeout`] returned.
    pub async fn run(&self, script: &Script) -> Result<Output, SshError> {
        let limit = script.timeout_override().unwrap_or(self.command_timeout);
        let deadline = Deadline::now() + limit;
        let started = Instant::now();

        let start = async {
            let channel = self.handle.channel_open_session().await?;
            channel
                .exec(true, remote_command(&self.target.user))
                .await?;
            channel.data(script.render().as_bytes()).await?;
            channel.eof().await?;
            Ok::<_, russh::Error>(channel)
        };
        let mut channel = match timeout_at(deadline, start).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(session_error(&self.target, &self.address, &e)),
            Err(_) => return Err(self.timeout_error(script, limit, &[])),
        };

        let mut collected = Collected::default();
        if timeout_at(deadline, collected.read(&mut channel))
            .await
            .is_err()
        {
            let _ = channel.signal(Sig::TERM).await;
            let _ = channel.close().await;
            return Err(self.timeout_error(script, limit, &collected.stderr));
        }
        if collected.refused {
            return Err(SshError::Session {
                vm: self.target.vm.clone(),
                address: self.address.clone(),
                detail: format!(
                    "the server refused to run `{}`",
                    remote_command(&self.target.user)
                ),
            });
        }
        let output = collected.into_output();
        tracing::info!(
            vm = %self.target.vm,
            script = script.name(),
            status = %output.status(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "script finished"
        );
        Ok(output)
    }

    /// [`Session::run`], with a non-zero exit turned into [`SshError::CommandFailed`]
    /// carrying the last lines of stderr.
    pub async fn run_checked(&self, script: &Script) -> Result<Output, SshError> {
        self.run(script)
            .await?
            .check(&self.target.vm, script.name())
    }

    /// Says goodbye to the server.
    pub async fn close(self) -> Result<(), SshError> {
        self.handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await
            .map_err(|e| session_error(&self.target, &self.address, &e))
    }

    fn timeout_error(&self, script: &Script, limit: Duration, stderr: &[u8]) -> SshError {
        SshError::CommandTimeout {
            vm: self.target.vm.clone(),
            script: script.name().to_owned(),
            secs: limit.as_secs(),
            stderr_tail: tail(&String::from_utf8_lossy(stderr), TAIL_LINES, TAIL_BYTES),
        }
    }
}

/// What a script's channel delivered so far.
#[derive(Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit_code: Option<u32>,
    signal: Option<String>,
    refused: bool,
}

impl Collected {
    /// Reads the channel until the server closes it.
    async fn read(&mut self, channel: &mut russh::Channel<client::Msg>) {
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => append(&mut self.stdout, &data),
                ChannelMsg::ExtendedData { data, ext: 1 } => append(&mut self.stderr, &data),
                ChannelMsg::ExitStatus { exit_status } => self.exit_code = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    self.signal = Some(signal_name_of(&signal_name));
                }
                ChannelMsg::Failure => self.refused = true,
                ChannelMsg::Close => break,
                _ => {}
            }
        }
    }

    fn into_output(self) -> Output {
        Output {
            exit_code: self.exit_code,
            signal: self.signal,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
        }
    }
}

/// The command the server runs: the script comes on stdin, so it never shows in a
/// process list; `sudo -n` fails instead of waiting for a password nobody types.
pub fn remote_command(user: &str) -> &'static str {
    if user == "root" {
        "bash -s"
    } else {
        "sudo -n bash -s"
    }
}

/// Accepts the server's host key only if it is pinned for the VM, and records why not.
struct HostKeyVerifier {
    vm: String,
    pins: KnownHosts,
    origin: PinOrigin,
    verdict: Arc<Mutex<Option<SshError>>>,
}

impl client::Handler for HostKeyVerifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let result = match server_public_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => {
                self.pins.verify(&self.vm, key, &self.origin)
            }
            // Host certificates are not used; a certificate is checked as its bare key.
            russh::keys::PublicKeyOrCertificate::Certificate(certificate) => {
                let key = PublicKey::from(certificate.public_key().clone());
                self.pins.verify(&self.vm, &key, &self.origin)
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(rejection) => {
                tracing::warn!(vm = %self.vm, error = %rejection, "host key rejected");
                if let Ok(mut slot) = self.verdict.lock() {
                    *slot = Some(rejection);
                }
                Ok(false)
            }
        }
    }
}

/// russh's client configuration, asking first for the host key algorithms pinned for the
/// VM so the server presents a key we can check.
fn client_config(pinned: &[Algorithm]) -> client::Config {
    let defaults = Preferred::default();
    let mut keys: Vec<Algorithm> = pinned
        .iter()
        .filter(|algorithm| defaults.key.contains(algorithm))
        .cloned()
        .collect();
    keys.extend(
        defaults
            .key
            .iter()
            .filter(|a| !keys.contains(a))
            .cloned()
            .collect::<Vec<_>>(),
    );
    client::Config {
        preferred: Preferred {
            key: Cow::Owned(keys),
            ..defaults
        },
        // A quiet kubeadm init is fine; a dead VM is noticed by the keepalives.
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        ..client::Config::default()
    }
}

fn connect_error(target: &SshTarget, address: &str, secs: u64, error: &io::Error) -> SshError {
    let vm = target.vm.clone();
    let address = address.to_owned();
    match error.kind() {
        io::ErrorKind::ConnectionRefused => SshError::ConnectionRefused { vm, address },
        io::ErrorKind::TimedOut => SshError::ConnectTimeout { vm, address, secs },
        _ => SshError::Connect {
            vm,
            address,
            detail: error.to_string(),
        },
    }
}

fn session_error(target: &SshTarget, address: &str, error: &russh::Error) -> SshError {
    SshError::Session {
        vm: target.vm.clone(),
        address: address.to_owned(),
        detail: error.to_string(),
    }
}

fn append(buffer: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_STREAM_BYTES.saturating_sub(buffer.len());
    buffer.extend_from_slice(&data[..data.len().min(room)]);
}

fn signal_name_of(signal: &Sig) -> String {
    match signal {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_through_sudo_unless_root() {
        assert_eq!(remote_command("root"), "bash -s");
        assert_eq!(remote_command("admin"), "sudo -n bash -s");
    }

    #[test]
    fn pinned_algorithms_are_asked_for_first() {
        let config = client_config(&[Algorithm::Ecdsa {
            curve: russh::keys::EcdsaCurve::NistP256,
        }]);
        assert_eq!(
            config.preferred.key.first(),
            Some(&Algorithm::Ecdsa {
                curve: russh::keys::EcdsaCurve::NistP256
            })
        );
        assert!(config.preferred.key.contains(&Algorithm::Ed25519));
        let len = config.preferred.key.len();
        assert_eq!(len, Preferred::default().key.len(), "no algorithm twice");
    }

    #[test]
    fn signals_are_named_like_openssh() {
        assert_eq!(signal_name_of(&Sig::KILL), "KILL");
        assert_eq!(signal_name_of(&Sig::Custom("XCPU".into())), "XCPU");
    }
}
