//! VM figures for the VM API (`GET /v1/stats`): CPU, memory, the root disk, network
//! throughput and listening TCP ports of every running VM, read from inside the VM.
//!
//! - **How**: one persistent SSH session per running VM (node-bootstrap's russh client) and
//!   one command per tick ([`COMMAND`]: `/proc/stat`'s cpu line, `/proc/meminfo`,
//!   `/proc/net/dev`, `df -P -B1 /` and `ss -tlnpH` between markers), read by pure
//!   parsers ([`parse`]); CPU percent and network rates compare the last two reads
//!   ([`figures`]).
//! - **Access**: the agent's own key (`stats_ed25519` in its state directory, made on first
//!   start) is authorized in the VM through the backend's non-SSH channel (Tart's guest
//!   agent), which also reads the VM's host keys; those are pinned in `stats_known_hosts`
//!   before each connection ([`node_bootstrap::first_contact`]), so no host key is trusted
//!   on first use.
//! - **Failures**: a VM whose session cannot be opened or breaks is retried with a backoff
//!   (the tick, doubling, up to a minute); the error is kept per VM beside its last
//!   figures. A VM that stops is forgotten.
//! - **Tick**: `--stats-interval` (5 s by default, 1 to 300).

pub mod figures;
pub mod parse;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use node_bootstrap::first_contact::first_contact;
use node_bootstrap::keys::{KeyError, SshKey, ensure_key};
use node_bootstrap::script::Script;
use node_bootstrap::ssh::{ClientConfig, KnownHostsFile, Session, SshClient, SshTarget};
use tokio::task::JoinHandle;
use vm_api::wire::VmStatsAnswer;
use vm_api::{VmBackend, VmState};

use parse::Sample;

/// The default tick.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest and longest tick `--stats-interval` accepts, in seconds.
pub const INTERVAL_SECS: std::ops::RangeInclusive<u64> = 1..=300;
/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The agent's key file in its state directory.
pub const KEY_FILE: &str = "stats_ed25519";
/// The pins of the VMs' host keys in its state directory.
pub const KNOWN_HOSTS_FILE: &str = "stats_known_hosts";

/// The command run in the VM on every tick: each section after a [`parse::MARKER`] line, `set
/// -e` so a missing tool fails the run with its own message.
pub const COMMAND: &str = "set -e
echo '@@tart-infra-stats stat'; head -n 1 /proc/stat
echo '@@tart-infra-stats meminfo'; cat /proc/meminfo
echo '@@tart-infra-stats netdev'; cat /proc/net/dev
echo '@@tart-infra-stats df'; df -P -B1 /
echo '@@tart-infra-stats ss'; ss -tlnpH
";

/// The last figures of every VM followed, shared by the collector and the API.
#[derive(Clone, Debug, Default)]
pub struct Cache(Arc<RwLock<BTreeMap<String, VmStatsAnswer>>>);

impl Cache {
    /// Every followed VM, by name.
    pub fn all(&self) -> Vec<VmStatsAnswer> {
        self.0
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One VM, if followed.
    pub fn get(&self, vm: &str) -> Option<VmStatsAnswer> {
        self.0.read().ok().and_then(|m| m.get(vm).cloned())
    }

    fn update(&self, vm: &str, change: impl FnOnce(&mut VmStatsAnswer)) {
        if let Ok(mut map) = self.0.write() {
            let entry = map.entry(vm.to_owned()).or_insert_with(|| VmStatsAnswer {
                name: vm.to_owned(),
                ip: None,
                stats: None,
                error: None,
            });
            change(entry);
        }
    }

    fn forget(&self, vm: &str) {
        if let Ok(mut map) = self.0.write() {
            map.remove(vm);
        }
    }
}

/// How the agent logs in to the VMs.
#[derive(Clone, Debug)]
pub struct SshAccess {
    /// The agent's key.
    pub key: SshKey,
    /// Where the VMs' host keys are pinned.
    pub known_hosts: KnownHostsFile,
    /// The login user of the VMs' image (`admin` on the Cirrus Labs images).
    pub user: String,
}

impl SshAccess {
    /// The agent's key and pins in `state_dir` (the key is made when missing).
    pub fn in_state_dir(state_dir: &Path, user: String) -> Result<Self, KeyError> {
        Ok(Self {
            key: ensure_key(&state_dir.join(KEY_FILE))?,
            known_hosts: KnownHostsFile::new(state_dir.join(KNOWN_HOSTS_FILE)),
            user,
        })
    }
}

/// Follows every running VM of `backend` until the task is dropped: every `interval`,
/// starts a follower for each VM that runs and stops those whose VM no longer does.
pub async fn run<B: VmBackend + 'static>(
    backend: Arc<B>,
    cache: Cache,
    access: SshAccess,
    interval: Duration,
) {
    let access = Arc::new(access);
    let mut followers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let running: Vec<String> = match backend.list().await {
            Ok(vms) => vms
                .into_iter()
                .filter(|v| v.state == VmState::Running)
                .map(|v| v.name)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "stats: listing the VMs failed");
                continue;
            }
        };
        followers.retain(|vm, task| {
            let keep = running.contains(vm) && !task.is_finished();
            if !keep {
                task.abort();
                cache.forget(vm);
            }
            keep
        });
        for vm in running {
            followers.entry(vm.clone()).or_insert_with(|| {
                tokio::spawn(follow(
                    vm,
                    backend.clone(),
                    access.clone(),
                    cache.clone(),
                    interval,
                ))
            });
        }
    }
}

/// The wait before connection attempt `failures + 1`: the tick, doubling per failure, at
/// most a minute (or the tick, when that is longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(MAX_BACKOFF.max(interval))
}

/// Why one tick gave no figures.
enum Failed {
    /// The session broke: reconnect.
    Session(String),
    /// The command ran but its output could not be read: keep the session.
    Output(String),
}

/// One VM: connect, collect every tick, reconnect with a backoff when the session fails.
async fn follow<B: VmBackend>(
    vm: String,
    backend: Arc<B>,
    access: Arc<SshAccess>,
    cache: Cache,
    interval: Duration,
) {
    let mut failures = 0u32;
    let mut before: Option<(Sample, Instant)> = None;
    loop {
        match connect(&vm, backend.as_ref(), &access).await {
            Err(e) => {
                tracing::debug!(vm, error = %e, "stats: cannot connect");
                cache.update(&vm, |a| a.error = Some(e));
            }
            Ok(session) => {
                tracing::info!(vm, "stats: session open");
                let ip = match session.target().address {
                    std::net::IpAddr::V4(ip) => Some(ip),
                    std::net::IpAddr::V6(_) => None,
                };
                cache.update(&vm, |a| a.ip = ip);
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match collect(&session, &mut before).await {
                        Ok(stats) => {
                            failures = 0;
                            cache.update(&vm, |a| {
                                a.stats = Some(stats);
                                a.error = None;
                            });
                        }
                        Err(Failed::Output(e)) => cache.update(&vm, |a| a.error = Some(e)),
                        Err(Failed::Session(e)) => {
                            tracing::info!(vm, error = %e, "stats: session lost");
                            cache.update(&vm, |a| a.error = Some(e));
                            break;
                        }
                    }
                }
            }
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(backoff(interval, failures)).await;
    }
}

/// Authorizes the agent's key and pins the host keys (through the backend, not SSH), then
/// opens the session.
async fn connect<B: VmBackend>(
    vm: &str,
    backend: &B,
    access: &SshAccess,
) -> Result<Session, String> {
    let ip = backend
        .ip(vm, Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    first_contact(backend, &access.known_hosts, vm, &access.user, &access.key)
        .await
        .map_err(|e| e.to_string())?;
    let client =
        SshClient::new(access.key.clone(), access.known_hosts.clone()).with_config(ClientConfig {
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(30),
        });
    client
        .connect(&SshTarget::new(vm, ip.into(), access.user.clone()))
        .await
        .map_err(|e| e.to_string())
}

/// One run of [`COMMAND`], read and compared with the run `before` (which it replaces).
async fn collect(
    session: &Session,
    before: &mut Option<(Sample, Instant)>,
) -> Result<vm_api::VmStats, Failed> {
    let script = Script::new("vm-stats", COMMAND);
    let output = session.run(&script).await.map_err(|e| {
        if e.is_transient() {
            Failed::Session(e.to_string())
        } else {
            Failed::Output(e.to_string())
        }
    })?;
    let output = output
        .check(&session.target().vm, script.name())
        .map_err(|e| Failed::Output(e.to_string()))?;
    let read_at = Instant::now();
    let sample = parse::sample(&output.stdout).map_err(|e| Failed::Output(e.to_string()))?;
    let stats = figures::figures(
        before
            .as_ref()
            .map(|(s, at)| (s, read_at.saturating_duration_since(*at))),
        &sample,
        Timestamp::now().to_string(),
    );
    *before = Some((sample, read_at));
    Ok(stats)
}

#[cfg(test)]
mod tests;
