//! [`TartCli`]: the [`VmBackend`] over the `tart` command line.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use vm_api::{Capacity, HostKey, Resources, Vm, VmBackend, VmError, VmSpec, VmState, validate};

use super::command::{Call, Tart};
use super::errors::{self, Failed};
use super::files::VmFiles;
use super::parse::{self, Got, MIN_VERSION, Version};
use super::supervise::Supervisor;
use super::{args, host};

/// Quick commands (`list`, `get`, `set`, `delete`, `--version`).
const QUICK: Duration = Duration::from_secs(60);
/// `clone` may pull an image first.
const CLONE: Duration = Duration::from_secs(3600);
/// `exec` of the first-contact script.
const EXEC: Duration = Duration::from_secs(60);
/// How long `stop` waits beyond its own timeout, and `delete` gives a running VM to stop.
const STOP_SLACK: Duration = Duration::from_secs(30);
/// How often `start` looks whether the VM runs.
const POLL: Duration = Duration::from_millis(250);

/// How the Tart backend is set up.
#[derive(Clone, Debug)]
pub struct TartOptions {
    /// The `tart` binary: a path, or a name looked up on PATH (default `tart`).
    pub bin: PathBuf,
    /// Where Tart keeps its VMs, for the free disk (default `$TART_HOME` or `~/.tart`).
    pub home: PathBuf,
    /// Where the backend keeps each VM's `tart run` log and networking.
    pub state_dir: PathBuf,
    /// How long `start` waits for Tart to report the VM running.
    pub start_timeout: Duration,
}

impl TartOptions {
    /// The defaults, keeping the backend's files under `state_dir`.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            bin: PathBuf::from("tart"),
            home: host::tart_home(),
            state_dir,
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// The VM backend over the `tart` CLI. Build it with [`TartCli::new`], which checks the
/// installed `tart` once; keep one per process, since it supervises the `tart run` children
/// it starts.
#[derive(Debug)]
pub struct TartCli {
    tart: Tart,
    options: TartOptions,
    files: VmFiles,
    runs: Supervisor,
    /// One start at a time: two at once could both spawn a `tart run` for one VM.
    starting: tokio::sync::Mutex<()>,
    version: Option<Version>,
}

impl TartCli {
    /// Checks that `tart` is installed and at least [`MIN_VERSION`]
    /// ([`VmError::TartMissing`], [`VmError::TartTooOld`]).
    pub async fn new(options: TartOptions) -> Result<Self, VmError> {
        let tart = Tart::new(options.bin.clone());
        let out = tart.ok(&Call::new("", &["--version"], QUICK)).await?;
        let version = parse::version(&out).map_err(|detail| VmError::Protocol { detail })?;
        if let Some(found) = version
            && found < MIN_VERSION
        {
            return Err(VmError::TartTooOld {
                found: found.to_string(),
                required: MIN_VERSION.to_string(),
            });
        }
        let files = VmFiles::new(&options.state_dir);
        files.ensure_dir()?;
        Ok(Self {
            tart,
            files,
            options,
            runs: Supervisor::default(),
            starting: tokio::sync::Mutex::new(()),
            version,
        })
    }

    /// The installed `tart`'s version (`None` for a build from source).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The `tart run` log of a VM.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.files.log(name)
    }

    /// `tart get`, `None` when the VM does not exist.
    async fn got(&self, name: &str) -> Result<Option<Got>, VmError> {
        let call = Call::new(name, &["get", name, "--format", "json"], QUICK);
        match self.tart.ok(&call).await {
            Ok(out) => parse::get(&out)
                .map(Some)
                .map_err(|detail| VmError::Protocol { detail }),
            Err(VmError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn existing(&self, name: &str) -> Result<Got, VmError> {
        self.got(name).await?.ok_or_else(|| VmError::NotFound {
            vm: name.to_owned(),
        })
    }

    fn vm(&self, name: &str, got: Got) -> Vm {
        Vm {
            name: name.to_owned(),
            state: got.state,
            resources: Resources {
                cpu: got.cpu,
                memory_mib: got.memory_mib,
                disk_gib: got.disk_gib,
            },
            failure: (got.state != VmState::Running)
                .then(|| self.runs.exit(name).map(|e| e.failure()))
                .flatten(),
        }
    }

    /// A VM must run for `ip` and `authorize_ssh`; a failed one says why it does not.
    async fn running(&self, name: &str) -> Result<(), VmError> {
        let got = self.existing(name).await?;
        if got.state == VmState::Running {
            return Ok(());
        }
        match self.runs.exit(name) {
            Some(exit) => Err(VmError::Exited {
                vm: name.to_owned(),
                detail: exit.detail(),
            }),
            None => Err(VmError::NotRunning {
                vm: name.to_owned(),
            }),
        }
    }

    /// Waits until Tart reports the VM running, or its child exits (then Tart's error from
    /// the run's log: the VM limit, ...).
    async fn wait_running(&self, name: &str, line: &str) -> Result<(), VmError> {
        let deadline = tokio::time::Instant::now() + self.options.start_timeout;
        loop {
            if let Some(exit) = self.runs.take_exit(name) {
                return Err(errors::map(Failed {
                    command: line,
                    vm: name,
                    code: exit.code,
                    stderr: &exit.output,
                    waited_secs: 0,
                }));
            }
            if self.existing(name).await?.state == VmState::Running {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(VmError::Tart {
                    command: line.to_owned(),
                    code: -1,
                    stderr_tail: format!(
                        "the VM is not running after {} s; it is left starting, see {}",
                        self.options.start_timeout.as_secs(),
                        self.files.log(name).display()
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// A local image name `tart` takes (`tart-infra-k8s-1.33`): unlike a VM name it may hold
/// dots, but not `/` (a remote reference), whitespace, or a leading `-` or `.`.
pub fn local_image_name(name: &str) -> Result<(), VmError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['-', '.'])
        && !name.contains('/')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(VmError::Invalid {
            field: "image".to_owned(),
            message: format!(
                "`{}` is not a local image name; use letters, digits, '.', '-' and '_', e.g. tart-infra-k8s-1.33",
                name.escape_debug()
            ),
        })
    }
}

/// Local images (golden images), beyond the [`VmBackend`] contract: `image build` runs only
/// on the Mac, with the Tart CLI, so the trait stays what a bring-up needs.
impl TartCli {
    /// `tart clone <source> <target>` of a stopped local VM into a local image. A clone
    /// that fails part-way is deleted, so `target` is either whole or absent.
    pub async fn clone_image(&self, source: &str, target: &str) -> Result<(), VmError> {
        local_image_name(source)?;
        local_image_name(target)?;
        let call = Call::new(target, &["clone", source, target], CLONE);
        if let Err(e) = self.tart.ok(&call).await {
            let _ = self.delete_image(target).await;
            return Err(e);
        }
        Ok(())
    }

    /// `tart delete <name>` of a local image; a missing one is not an error.
    pub async fn delete_image(&self, name: &str) -> Result<(), VmError> {
        local_image_name(name)?;
        match self
            .tart
            .ok(&Call::new(name, &["delete", name], QUICK))
            .await
        {
            Ok(_) | Err(VmError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether a local VM or image called `name` exists.
    pub async fn has_local(&self, name: &str) -> Result<bool, VmError> {
        local_image_name(name)?;
        let call = Call::new(
            "",
            &["list", "--source", "local", "--format", "json"],
            QUICK,
        );
        let listed = parse::list(&self.tart.ok(&call).await?)
            .map_err(|detail| VmError::Protocol { detail })?;
        Ok(listed.iter().any(|entry| entry.name == name))
    }
}

/// Whether an existing VM is what was asked: the same CPUs and memory, and at least the
/// disk (Tart cannot shrink a disk, and an image's may be larger than asked).
pub fn matches(want: Resources, have: Resources) -> bool {
    want.cpu == have.cpu && want.memory_mib == have.memory_mib && have.disk_gib >= want.disk_gib
}

impl VmBackend for TartCli {
    async fn list(&self) -> Result<Vec<Vm>, VmError> {
        let call = Call::new(
            "",
            &["list", "--source", "local", "--format", "json"],
            QUICK,
        );
        let listed = parse::list(&self.tart.ok(&call).await?)
            .map_err(|detail| VmError::Protocol { detail })?;
        let mut vms = Vec::with_capacity(listed.len());
        for entry in listed {
            // A VM deleted between `list` and `get` is simply no longer listed.
            if let Some(got) = self.got(&entry.name).await? {
                vms.push(self.vm(&entry.name, got));
            }
        }
        Ok(vms)
    }

    async fn get(&self, name: &str) -> Result<Option<Vm>, VmError> {
        validate::vm_name(name)?;
        Ok(self.got(name).await?.map(|got| self.vm(name, got)))
    }

    async fn create(&self, spec: &VmSpec) -> Result<Vm, VmError> {
        validate::vm_spec(spec)?;
        let name = spec.name.as_str();
        let want = spec.resources;
        if let Some(got) = self.got(name).await? {
            let have = self.vm(name, got);
            if !matches(want, have.resources) {
                return Err(VmError::SpecMismatch {
                    vm: name.to_owned(),
                    have_cpu: have.resources.cpu,
                    have_memory_mib: have.resources.memory_mib,
                    have_disk_gib: have.resources.disk_gib,
                    want_cpu: want.cpu,
                    want_memory_mib: want.memory_mib,
                    want_disk_gib: want.disk_gib,
                });
            }
            self.files.save_networking(name, &spec.networking)?;
            return Ok(have);
        }
        let clone = Call::new(name, &["clone", &spec.image, name], CLONE);
        match self.tart.ok(&clone).await {
            Ok(_) => {}
            // Tart's "does not exist" is about the source here, not the new VM.
            Err(VmError::NotFound { .. }) => {
                return Err(VmError::Invalid {
                    field: "image".to_owned(),
                    message: format!(
                        "`{}` is neither a local VM nor an image tart can pull; check the name (`tart list`) or build the golden image first",
                        spec.image
                    ),
                });
            }
            Err(e) => return Err(e),
        }
        let cloned = self.existing(name).await?;
        let set = args::set(name, want, cloned.disk_gib);
        let set_call = Call {
            args: set,
            ..Call::new(name, &[], QUICK)
        };
        if let Err(e) = self.tart.ok(&set_call).await {
            // A half-made VM would be a SpecMismatch on the next try: remove it.
            let _ = self
                .tart
                .ok(&Call::new(name, &["delete", name], QUICK))
                .await;
            return Err(e);
        }
        self.files.save_networking(name, &spec.networking)?;
        let got = self.existing(name).await?;
        Ok(self.vm(name, got))
    }

    async fn start(&self, name: &str) -> Result<(), VmError> {
        validate::vm_name(name)?;
        let _one_at_a_time = self.starting.lock().await;
        let got = self.existing(name).await?;
        if got.state == VmState::Running {
            return Ok(());
        }
        let args = args::run(name, &self.files.networking(name));
        let line = args.join(" ");
        if !self.runs.alive(name) {
            self.runs.clear_failure(name);
            self.files.ensure_dir()?;
            let mut command = self.tart.command();
            command.args(&args);
            self.runs
                .spawn(name, command, &self.files.log(name))
                .map_err(|e| self.tart.spawn_error(&line, &e))?;
            tracing::info!(vm = name, "started tart run");
        }
        self.wait_running(name, &line).await
    }

    async fn ip(&self, name: &str, wait: Duration) -> Result<Ipv4Addr, VmError> {
        validate::vm_name(name)?;
        self.running(name).await?;
        let call = Call {
            args: args::ip(name, &self.files.networking(name), wait),
            waited_secs: u64::from(args::wait_secs(wait)),
            ..Call::new(name, &[], wait + STOP_SLACK)
        };
        let out = self.tart.ok(&call).await?;
        parse::ip(&out).map_err(|detail| VmError::Protocol { detail })
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), VmError> {
        validate::vm_name(name)?;
        let got = self.existing(name).await?;
        self.runs.clear_failure(name);
        if got.state == VmState::Stopped && !self.runs.alive(name) {
            return Ok(());
        }
        self.runs.set_stopping(name, true);
        let call = Call::new(name, &[], timeout + STOP_SLACK);
        let call = Call {
            args: args::stop(name, timeout),
            ..call
        };
        match self.tart.ok(&call).await {
            Ok(_) | Err(VmError::NotRunning { .. }) => {}
            Err(e) => {
                self.runs.set_stopping(name, false);
                return Err(e);
            }
        }
        if !self.runs.wait_gone(name, STOP_SLACK).await {
            tracing::warn!(vm = name, "tart run still runs after tart stop");
        }
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), VmError> {
        validate::vm_name(name)?;
        let Some(got) = self.got(name).await? else {
            self.runs.clear_failure(name);
            self.files.forget(name);
            return Ok(());
        };
        if got.state != VmState::Stopped || self.runs.alive(name) {
            self.stop(name, STOP_SLACK).await?;
        }
        match self
            .tart
            .ok(&Call::new(name, &["delete", name], QUICK))
            .await
        {
            Ok(_) | Err(VmError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.runs.clear_failure(name);
        self.files.forget(name);
        Ok(())
    }

    async fn authorize_ssh(
        &self,
        name: &str,
        user: &str,
        public_key: &str,
    ) -> Result<Vec<HostKey>, VmError> {
        validate::vm_name(name)?;
        validate::ssh_user(user)?;
        validate::public_key(public_key)?;
        self.running(name).await?;
        let input = format!("{}\n", public_key.trim());
        let call = Call {
            args: args::authorize(name, user),
            stdin: Some(&input),
            ..Call::new(name, &[], EXEC)
        };
        let out = self.tart.ok(&call).await?;
        let keys = parse::host_keys(&out);
        if keys.is_empty() {
            return Err(VmError::Tart {
                command: format!("exec -i {name} sh -c <authorize script> sh {user}"),
                code: 0,
                stderr_tail:
                    "the VM has no SSH host key in /etc/ssh; install openssh-server in the image"
                        .to_owned(),
            });
        }
        Ok(keys)
    }

    async fn capacity(&self) -> Result<Capacity, VmError> {
        let host = host::size(&self.options.home).await?;
        let vms = self.list().await?;
        let sum = |running_only: bool| {
            vms.iter()
                .filter(|vm| !running_only || vm.state == VmState::Running)
                .fold(Resources::zero(), |sum, vm| sum.plus(vm.resources))
        };
        Ok(Capacity {
            host,
            allocated: sum(false),
            running: sum(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: u32, memory_mib: u64, disk_gib: u64) -> Resources {
        Resources {
            cpu,
            memory_mib,
            disk_gib,
        }
    }

    #[test]
    fn an_existing_vm_matches_with_the_same_cpu_and_memory_and_enough_disk() {
        assert!(matches(r(2, 4096, 20), r(2, 4096, 20)));
        assert!(
            matches(r(2, 4096, 20), r(2, 4096, 50)),
            "an image's larger disk"
        );
        assert!(!matches(r(2, 4096, 20), r(4, 4096, 20)));
        assert!(!matches(r(2, 4096, 20), r(2, 2048, 20)));
        assert!(!matches(r(2, 4096, 60), r(2, 4096, 50)));
    }

    #[test]
    fn local_image_names_may_have_dots_but_no_slash_or_leading_dash() {
        assert!(local_image_name("tart-infra-k8s-1.33").is_ok());
        for bad in ["", "-rf", ".hidden", "ghcr.io/x", "a b", "a\nb"] {
            assert!(local_image_name(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_missing_tart_is_tart_missing() {
        let dir = tempfile::tempdir().expect("dir");
        let mut options = TartOptions::new(dir.path().to_owned());
        options.bin = dir.path().join("no-such-tart");
        assert_eq!(
            TartCli::new(options).await.err(),
            Some(VmError::TartMissing)
        );
    }
}
