//! The build itself: clone the base image to a build VM, boot it, first contact through
//! the guest agent, run the provisioning script over SSH, stop, clone the build VM to the
//! image's name, delete the build VM. The build VM never outlives the build (failure,
//! Ctrl-C or success), and the image's name only ever holds a whole image.

use std::path::{Path, PathBuf};
use std::time::Duration;

use node_bootstrap::first_contact::first_contact;
use node_bootstrap::keys::{self, SshKey};
use node_bootstrap::ssh::{KnownHostsFile, Session, SshClient, SshTarget};
use node_bootstrap::steps;
use vm_api::{VmBackend as _, VmError};

use super::error::Error;
use super::plan::{CILIUM_VERSION, Overrides, Plan};
use super::progress::{Event, Reporter};
use crate::config::{self, Config};
use crate::host::facts::expand_home;
use crate::vm::{TartCli, TartOptions};

/// How long the build VM may take to get an address.
const IP_WAIT: Duration = Duration::from_secs(300);
/// How long sshd may take to accept the first login after that.
const SSH_WAIT: Duration = Duration::from_secs(120);
/// A clean shutdown before Tart forces it.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// What `tart-infra image build` was asked.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The cluster file: `baseImage`, `kubernetesVersion`, `ssh`.
    pub config: PathBuf,
    /// The flags that override it.
    pub overrides: Overrides,
    /// Build even when the image exists (it is replaced once the new one is made).
    pub rebuild: bool,
    /// Progress as JSON lines.
    pub json: bool,
    /// Where the build keeps its known hosts, `tart run` logs and the images' records.
    pub state_dir: PathBuf,
    /// The `tart` binary.
    pub tart_bin: PathBuf,
}

/// What the build did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The image was there; nothing was done.
    Exists,
    /// The image was built.
    Built,
}

/// The default state directory: `$XDG_STATE_HOME/tart-infra/image`, else
/// `~/.local/state/tart-infra/image`.
pub fn default_state_dir() -> PathBuf {
    crate::lab::default_state_dir()
        .parent()
        .map(|p| p.join("image"))
        .unwrap_or_else(|| PathBuf::from("image"))
}

/// The record of a built image (`<state dir>/images/<image>.json`): what it pins.
pub fn record(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "name": plan.image,
        "baseImage": plan.base_image,
        "kubernetesVersion": plan.versions.patch,
        "kubeDebVersion": plan.provision.kube_deb_version,
        "criToolsDebVersion": plan.provision.cri_tools_deb_version,
        "containerdVersion": plan.provision.containerd_version,
        "ciliumVersion": CILIUM_VERSION,
        "ciliumImages": plan.provision.extra_images,
        "builtBy": concat!("tart-infra ", env!("CARGO_PKG_VERSION")),
    })
}

/// Builds the golden image of the cluster file's Kubernetes version unless it exists.
pub async fn build(options: BuildOptions) -> Result<Outcome, Error> {
    let config = config::load(&options.config)?;
    let plan = Plan::new(
        &config.base_image,
        &config.kubernetes_version,
        &options.overrides,
    )?;
    let report = Reporter::new(options.json, &plan.image);
    let result = run(&options, &config, &plan, &report).await;
    // People read the error on stderr; a program reading the JSON lines gets it there too.
    if let (Err(e), true) = (&result, options.json) {
        report.emit(Event::Failed, "failed", &crate::cli::report(e));
    }
    result
}

fn vm_error<'a>(plan: &'a Plan, step: &'static str) -> impl FnOnce(VmError) -> Error + 'a {
    move |source| Error::Vm {
        image: plan.image.clone(),
        step,
        source,
    }
}

async fn run(
    options: &BuildOptions,
    config: &Config,
    plan: &Plan,
    report: &Reporter,
) -> Result<Outcome, Error> {
    let state_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::State {
            image: plan.image.clone(),
            path,
            source,
        }
    };
    std::fs::create_dir_all(&options.state_dir).map_err(state_error(&options.state_dir))?;
    let mut tart_options = TartOptions::new(options.state_dir.join("tart"));
    tart_options.bin = options.tart_bin.clone();
    let tart = TartCli::new(tart_options)
        .await
        .map_err(vm_error(plan, "checking tart"))?;

    report.step("check", "looking for the image among tart's local VMs");
    let exists = tart
        .has_local(&plan.image)
        .await
        .map_err(vm_error(plan, "tart list"))?;
    if exists && !options.rebuild {
        report.emit(
            Event::Exists,
            "check",
            "exists; nothing to do (--rebuild makes it again)",
        );
        return Ok(Outcome::Exists);
    }

    let key_path = expand_home(&config.ssh.private_key_path);
    let key = keys::ensure_key(&key_path).map_err(|source| Error::Key {
        image: plan.image.clone(),
        source,
    })?;
    let known_hosts = KnownHostsFile::new(options.state_dir.join("known_hosts"));
    let work = provision(&tart, plan, &config.ssh.user, &key, &known_hosts, report);
    let outcome = tokio::select! {
        result = work => result,
        () = shutdown() => Err(Error::Interrupted {
            image: plan.image.clone(),
            vm: plan.build_vm.clone(),
        }),
    };
    report.step(
        "clean up",
        &format!("deleting the build VM {}", plan.build_vm),
    );
    let cleanup = tart.delete(&plan.build_vm).await;
    // The pin belongs to a VM that no longer exists.
    let _ = known_hosts.forget(&plan.build_vm);
    outcome?;
    cleanup.map_err(vm_error(plan, "deleting the build VM"))?;

    let dir = options.state_dir.join("images");
    std::fs::create_dir_all(&dir).map_err(state_error(&dir))?;
    let path = dir.join(format!("{}.json", plan.image));
    let text = serde_json::to_string_pretty(&record(plan)).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(state_error(&path))?;
    report.emit(
        Event::Built,
        "done",
        &format!(
            "built: Kubernetes {}, Cilium {CILIUM_VERSION} images; use it with `baseImage: {}` (record: {})",
            plan.versions.patch,
            plan.image,
            path.display()
        ),
    );
    Ok(Outcome::Built)
}

/// Every step up to the saved image; the caller deletes the build VM whatever happens.
async fn provision(
    tart: &TartCli,
    plan: &Plan,
    user: &str,
    key: &SshKey,
    known_hosts: &KnownHostsFile,
    report: &Reporter,
) -> Result<(), Error> {
    let vm = plan.build_vm.as_str();
    if tart
        .get(vm)
        .await
        .map_err(vm_error(plan, "tart get"))?
        .is_some()
    {
        report.step(
            "clean up",
            &format!("deleting {vm}, left by an earlier build"),
        );
        tart.delete(vm)
            .await
            .map_err(vm_error(plan, "deleting the old build VM"))?;
    }
    report.step("clone", &format!("{vm} from {}", plan.base_image));
    tart.create(&plan.build_spec())
        .await
        .map_err(vm_error(plan, "cloning the base image"))?;
    report.step("boot", &format!("starting {vm}"));
    tart.start(vm)
        .await
        .map_err(vm_error(plan, "starting the build VM"))?;
    report.step("ip", "waiting for the VM's address");
    let ip = tart
        .ip(vm, IP_WAIT)
        .await
        .map_err(vm_error(plan, "waiting for the build VM's address"))?;
    report.step(
        "first contact",
        &format!(
            "authorising the key for {user} and pinning {vm}'s host key through the guest agent"
        ),
    );
    first_contact(tart, known_hosts, vm, user, key)
        .await
        .map_err(|source| Error::FirstContact {
            image: plan.image.clone(),
            vm: vm.to_owned(),
            source,
        })?;
    report.step("ssh", &format!("{user}@{ip}"));
    let client = SshClient::new(key.clone(), known_hosts.clone());
    let session = connect(&client, &SshTarget::new(vm, ip.into(), user))
        .await
        .map_err(|source| Error::Ssh {
            image: plan.image.clone(),
            vm: vm.to_owned(),
            step: "connecting",
            source,
        })?;
    report.step(
        "provision",
        &format!(
            "kubelet, kubeadm, kubectl {}, cri-tools {}, containerd {}, control-plane images v{}, Cilium {CILIUM_VERSION} images",
            plan.provision.kube_deb_version,
            plan.provision.cri_tools_deb_version,
            plan.provision
                .containerd_version
                .as_deref()
                .unwrap_or("(Ubuntu's)"),
            plan.versions.patch,
        ),
    );
    let script = steps::image_provision(&plan.provision).map_err(|source| Error::Script {
        image: plan.image.clone(),
        source,
    })?;
    let ran = session.run_checked(&script).await;
    let _ = session.close().await;
    ran.map_err(|source| Error::Ssh {
        image: plan.image.clone(),
        vm: vm.to_owned(),
        step: "the provisioning script",
        source,
    })?;
    report.step("stop", &format!("shutting {vm} down"));
    tart.stop(vm, STOP_TIMEOUT)
        .await
        .map_err(vm_error(plan, "stopping the build VM"))?;
    if tart
        .has_local(&plan.image)
        .await
        .map_err(vm_error(plan, "tart list"))?
    {
        report.step("replace", "deleting the previous image (--rebuild)");
        tart.delete_image(&plan.image)
            .await
            .map_err(vm_error(plan, "deleting the previous image"))?;
    }
    report.step("save", &format!("cloning {vm} to {}", plan.image));
    tart.clone_image(vm, &plan.image)
        .await
        .map_err(vm_error(plan, "saving the image"))
}

/// Connects, retrying while sshd is still starting (an address comes before sshd does).
async fn connect(
    client: &SshClient,
    target: &SshTarget,
) -> Result<Session, node_bootstrap::ssh::SshError> {
    let deadline = tokio::time::Instant::now() + SSH_WAIT;
    loop {
        match client.connect(target).await {
            Ok(session) => return Ok(session),
            Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_every_pinned_version() {
        let plan = Plan::new(
            "ghcr.io/cirruslabs/ubuntu:24.04",
            "1.33",
            &Overrides::default(),
        )
        .expect("plan");
        let r = record(&plan);
        assert_eq!(r["name"], "tart-infra-k8s-1.33");
        assert_eq!(r["kubernetesVersion"], "1.33.4");
        assert_eq!(r["kubeDebVersion"], "1.33.4-1.1");
        assert_eq!(r["criToolsDebVersion"], "1.33.0-1.1");
        assert_eq!(r["containerdVersion"], serde_json::Value::Null);
        assert_eq!(r["ciliumVersion"], CILIUM_VERSION);
        assert_eq!(r["ciliumImages"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn the_state_dir_is_beside_the_labs() {
        assert!(default_state_dir().ends_with("tart-infra/image"));
    }
}
