//! The `tart-infra` command line: its subcommands and flags (each flag also read from an
//! environment variable), the checks of their values, and running what they ask for.
//! Values are checked here, before anything starts, with messages that say what to give.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};

use crate::{config, image, lab, mac, rbac, serve, stats, vm};

/// The tart-infra host agent: the local lab, and the VM API over Tart on a Mac.
#[derive(Debug, Parser)]
#[command(name = "tart-infra", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The local lab: every configured cluster simulated on this machine, with the operator.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// The VM API: Tart VMs over HTTPS for the operator and `up` (runs until SIGTERM or
    /// Ctrl-C; VMs keep running after it stops).
    Serve(ServeArgs),
    /// Golden images: one Tart VM per Kubernetes version that every node VM is cloned from.
    Image {
        #[command(subcommand)]
        command: image::Command,
    },
    /// Builds the lab on this Mac: preflight, the VM API, the platform cluster over SSH,
    /// then the hand-off to the operator (one ManagedCluster per other cluster). Re-run it
    /// after a failure: it continues where it stopped.
    Up(MacUpArgs),
    /// Shows the VM API, every VM, each cluster, the kubeconfig and the platform's service
    /// URLs; exits 1 unless everything runs.
    Status(MacArgs),
    /// Drains the workers (PodDisruptionBudgets respected) and stops every VM, the
    /// platform's last.
    Down {
        /// How long a drain retries evictions a PodDisruptionBudget refuses, in seconds.
        #[arg(long, env = "TART_INFRA_DRAIN_TIMEOUT_SECONDS", default_value_t = 120)]
        drain_timeout_seconds: u64,
        #[command(flatten)]
        mac: MacArgs,
    },
    /// Starts the VMs, follows the platform control plane's new address, uncordons.
    Boot(MacArgs),
    /// Deletes every VM of the file and the state directory's kubeconfigs, token and pins.
    Destroy {
        /// Do not ask (required when stdin is not a terminal).
        #[arg(long, env = "TART_INFRA_DESTROY_YES", value_parser = BoolishValueParser::new())]
        yes: bool,
        #[command(flatten)]
        mac: MacArgs,
    },
    /// Prints the operator's least-privilege rights in a target cluster (a ClusterRole, a
    /// Role for Hubble Relay's port-forward, their bindings and an admission policy that
    /// keeps its writes in its own runner namespaces) as YAML for
    /// `kubectl --context <cluster> apply -f -`. Bind them to the identity in the
    /// cluster's kubeconfig Secret on the platform instead of an admin.
    TargetRbac(TargetRbacArgs),
    /// SSH host key pins.
    Ssh {
        #[command(subcommand)]
        command: SshCommand,
    },
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct TargetRbacArgs {
    /// The user the kubeconfig authenticates as (a client certificate's CN, or an
    /// OIDC or token-file user).
    #[arg(long, env = "TART_INFRA_TARGET_USER", value_parser = user_name)]
    user: Option<String>,
    /// A ServiceAccount as NAMESPACE/NAME, whose token the kubeconfig carries; the output
    /// includes the ServiceAccount (its namespace must exist).
    #[arg(long, env = "TART_INFRA_TARGET_SERVICE_ACCOUNT", value_parser = service_account)]
    service_account: Option<(String, String)>,
}

impl TargetRbacArgs {
    fn subject(self) -> Result<rbac::Subject, ArgError> {
        match (self.user, self.service_account) {
            (None, Some((namespace, name))) => {
                Ok(rbac::Subject::ServiceAccount { namespace, name })
            }
            (Some(user), None) => Ok(rbac::Subject::User(user)),
            // clap's group already refuses both and neither.
            _ => Err(ArgError::TargetSubject),
        }
    }
}

#[derive(Debug, Subcommand)]
enum SshCommand {
    /// Forgets a VM's pinned host keys (after re-creating it on purpose); the next `up`
    /// pins its current keys through the guest agent.
    Forget {
        /// The VM name.
        #[arg(env = "TART_INFRA_SSH_VM", value_parser = cluster_name)]
        vm: String,
        #[command(flatten)]
        mac: MacArgs,
    },
}

/// What every Mac lifecycle command takes.
#[derive(Debug, clap::Args)]
struct MacArgs {
    /// The clusters file.
    #[arg(long, env = "TART_INFRA_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// The state directory (kubeconfigs, the VM API's state, the operator's key)
    /// [default: $XDG_STATE_HOME/tart-infra/mac or ~/.local/state/tart-infra/mac].
    #[arg(long, env = "TART_INFRA_STATE_DIR", value_parser = state_dir)]
    state_dir: Option<PathBuf>,
    /// The tart binary (a path, or a name looked up on PATH).
    #[arg(long, env = "TART_INFRA_TART_BIN", default_value = "tart")]
    tart_bin: PathBuf,
    /// Where a `tart-infra serve` started by this command listens.
    #[arg(long, env = "TART_INFRA_SERVE_LISTEN", default_value = serve::DEFAULT_LISTEN, value_parser = listen_addr)]
    serve_listen: SocketAddr,
    /// One JSON object per line per event, and a final summary object.
    #[arg(long, env = "TART_INFRA_JSON", value_parser = BoolishValueParser::new())]
    json: bool,
}

impl MacArgs {
    fn options(self) -> mac::MacOptions {
        mac::MacOptions {
            config: self.config,
            state_dir: self.state_dir.unwrap_or_else(mac::default_state_dir),
            tart_bin: self.tart_bin,
            listen: self.serve_listen,
            json: self.json,
        }
    }
}

#[derive(Debug, clap::Args)]
struct MacUpArgs {
    /// The URL the VMs (the operator on the platform) reach the VM API at, written into the
    /// Secret tart-system/host-agent [default: the agent's own URL]. On a Mac with softnet
    /// this is the gateway: https://192.168.64.1:7443.
    #[arg(long, env = "TART_INFRA_AGENT_URL")]
    agent_url: Option<String>,
    /// The helm binary (a path, or a name looked up on PATH) that installs Cilium.
    #[arg(long, env = "TART_INFRA_HELM_BIN", default_value = "helm")]
    helm_bin: PathBuf,
    /// A directory with the upstream charts and manifests `up` installs, for a Mac without
    /// internet access: cilium/chart/ (Cilium's chart) and argo-cd/install.yaml (ArgoCD's
    /// install manifest), at the pinned versions [default: download them].
    #[arg(long, env = "TART_INFRA_UPSTREAM_DIR")]
    upstream_dir: Option<PathBuf>,
    #[command(flatten)]
    mac: MacArgs,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to listen: every address by default, since VMs reach the Mac at their
    /// network's gateway (port 0 picks a free port, written to serve.json).
    #[arg(long, env = "TART_INFRA_SERVE_LISTEN", default_value = serve::DEFAULT_LISTEN, value_parser = listen_addr)]
    listen: SocketAddr,
    /// Where the agent keeps its token, certificate, serve.json and the VMs' logs
    /// [default: $XDG_STATE_HOME/tart-infra/serve or ~/.local/state/tart-infra/serve].
    #[arg(long, env = "TART_INFRA_SERVE_DIR", value_parser = state_dir)]
    state_dir: Option<PathBuf>,
    /// The tart binary (a path, or a name looked up on PATH).
    #[arg(long, env = "TART_INFRA_TART_BIN", default_value = "tart")]
    tart_bin: PathBuf,
    /// CPUs kept for macOS: admission refuses VMs that would take them.
    #[arg(long, env = "TART_INFRA_RESERVE_CPU", default_value_t = serve::Reserve::default().cpu)]
    reserve_cpu: u32,
    /// Memory kept for macOS, in MiB.
    #[arg(long, env = "TART_INFRA_RESERVE_MEMORY_MIB", default_value_t = serve::Reserve::default().memory_mib)]
    reserve_memory_mib: u64,
    /// How often each running VM's CPU, memory, disk, network and ports are read over
    /// SSH, in seconds (1 to 300).
    #[arg(long, env = "TART_INFRA_STATS_INTERVAL", default_value_t = stats::DEFAULT_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(*stats::INTERVAL_SECS.start()..=*stats::INTERVAL_SECS.end()))]
    stats_interval: u64,
    /// The VMs' login user for those SSH sessions (`admin` on the Cirrus Labs images).
    #[arg(long, env = "TART_INFRA_STATS_USER", default_value = "admin", value_parser = ssh_user)]
    stats_user: String,
}

impl ServeArgs {
    fn options(self) -> serve::ServeOptions {
        let state_dir = self.state_dir.unwrap_or_else(serve::default_state_dir);
        let mut tart = vm::TartOptions::new(state_dir.clone());
        tart.bin = self.tart_bin;
        serve::ServeOptions {
            listen: self.listen,
            state_dir,
            tart,
            reserve: serve::Reserve {
                cpu: self.reserve_cpu,
                memory_mib: self.reserve_memory_mib,
            },
            stats_interval: std::time::Duration::from_secs(self.stats_interval),
            stats_user: self.stats_user,
        }
    }
}

#[derive(Debug, clap::Args)]
struct StateArgs {
    /// Where the lab keeps certificates, etcd data, kubeconfigs and logs between runs
    /// [default: $XDG_STATE_HOME/tart-infra/lab or ~/.local/state/tart-infra/lab].
    #[arg(long, env = "TART_INFRA_LAB_DIR", value_parser = state_dir)]
    state_dir: Option<PathBuf>,
}

impl StateArgs {
    fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(lab::default_state_dir)
    }
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Starts the lab and runs it in the foreground until Ctrl-C or `lab down`.
    Up(UpArgs),
    /// Stops a running lab (the processes it started, by process id, and nothing else).
    Down {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Shows each process of the lab and whether the operator answers; exits 1 unless all run.
    Status {
        /// Print JSON.
        #[arg(long, env = "TART_INFRA_LAB_JSON", value_parser = BoolishValueParser::new())]
        json: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// The clusters file.
    #[arg(long, env = "TART_INFRA_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Clusters to start, comma-separated (platform is always started) [default: all].
    #[arg(long, env = "TART_INFRA_LAB_CLUSTERS", value_delimiter = ',', value_parser = cluster_name)]
    clusters: Vec<String>,
    /// The operator's dashboard and API address.
    #[arg(long, env = "TART_INFRA_LAB_HTTP_ADDR", default_value = "127.0.0.1:3000", value_parser = http_addr)]
    http_addr: SocketAddr,
    /// Print one JSON object (URL, token, kubeconfigs) on stdout when ready.
    #[arg(long, env = "TART_INFRA_LAB_JSON", value_parser = BoolishValueParser::new())]
    json: bool,
    /// The tart-operator binary [default: next to tart-infra].
    #[arg(long, env = "TART_OPERATOR_BIN")]
    operator_bin: Option<PathBuf>,
    /// The built dashboard to serve at the API's address [default: dashboard/dist when it
    /// has an index.html].
    #[arg(long, env = "TART_INFRA_DASHBOARD_DIR", value_parser = dashboard_dir)]
    dashboard_dir: Option<PathBuf>,
    #[command(flatten)]
    state: StateArgs,
}

impl UpArgs {
    /// What `lab up` starts, with the defaults that depend on the machine filled in.
    fn options(self) -> lab::UpOptions {
        lab::UpOptions {
            config: self.config,
            clusters: self.clusters,
            state_dir: self.state.dir(),
            http_addr: self.http_addr,
            json: self.json,
            operator_bin: self.operator_bin,
            dashboard_dir: self
                .dashboard_dir
                .or_else(|| built_dashboard(Path::new("dashboard/dist"))),
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lab.
    #[error(transparent)]
    Lab(#[from] lab::Error),
    /// The VM API.
    #[error(transparent)]
    Serve(#[from] serve::Error),
    /// A golden image.
    #[error(transparent)]
    Image(#[from] image::Error),
    /// A Mac lifecycle command.
    #[error(transparent)]
    Mac(#[from] mac::MacError),
    /// A flag's value.
    #[error(transparent)]
    Arg(#[from] ArgError),
    /// The RBAC rules file (a bug the unit tests catch).
    #[error(transparent)]
    Rbac(#[from] rbac::RbacError),
    /// Writing the output.
    #[error("writing to stdout: {0}")]
    Stdout(#[source] std::io::Error),
}

impl Cli {
    /// Whether the command logs through `tracing` (the agent does; the lab prints progress
    /// lines of its own).
    pub fn logs(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }

    /// Runs the command. `Ok(false)` means it ran and the answer is no (`lab status` of a
    /// lab that does not fully run): exit 1 without an error message.
    pub async fn run(self) -> Result<bool, Error> {
        match self.command {
            Command::Lab { command } => Ok(match command {
                LabCommand::Up(args) => lab::up(args.options()).await.map(|()| true)?,
                LabCommand::Down { state } => lab::down(&state.dir()).map(|()| true)?,
                LabCommand::Status { json, state } => lab::status(&state.dir(), json).await?,
            }),
            Command::Serve(args) => {
                serve::run(args.options()).await?;
                Ok(true)
            }
            Command::Image { command } => Ok(image::run(command).await.map(|_| true)?),
            Command::Up(args) => Ok(mac::up::up(mac::up::UpOptions {
                mac: args.mac.options(),
                agent_url: args.agent_url,
                helm_bin: args.helm_bin,
                upstream_dir: args.upstream_dir,
            })
            .await?),
            Command::Status(args) => Ok(mac::status::status(&args.options()).await?),
            Command::Down {
                drain_timeout_seconds,
                mac: args,
            } => Ok(mac::lifecycle::down(
                &args.options(),
                std::time::Duration::from_secs(drain_timeout_seconds),
            )
            .await?),
            Command::Boot(args) => Ok(mac::lifecycle::boot(&args.options()).await?),
            Command::Destroy { yes, mac: args } => {
                Ok(mac::destroy::destroy(&args.options(), yes).await?)
            }
            Command::TargetRbac(args) => {
                let subject = args.subject()?;
                let text = rbac::manifest(&rbac::target_objects(&subject)?)?;
                let header = format!(
                    "# tart-operator's rights in a target cluster, for {}.\n# Apply with: kubectl --context <cluster> apply -f -\n",
                    subject.username()
                );
                std::io::Write::write_all(
                    &mut std::io::stdout().lock(),
                    (header + &text).as_bytes(),
                )
                .map_err(Error::Stdout)?;
                Ok(true)
            }
            Command::Ssh {
                command: SshCommand::Forget { vm, mac: args },
            } => Ok(mac::destroy::forget(&args.options(), &vm)?),
        }
    }
}

/// `--listen`: an IP address and a port (0 for any free one).
pub fn listen_addr(value: &str) -> Result<SocketAddr, ArgError> {
    value
        .parse()
        .map_err(|_| ArgError::Address(value.to_owned()))
}

/// `dir` (made absolute) when it holds a built dashboard: how `lab up` finds
/// `dashboard/dist` when run from the repository.
fn built_dashboard(dir: &Path) -> Option<PathBuf> {
    dir.join("index.html")
        .is_file()
        .then(|| std::fs::canonicalize(dir).ok())
        .flatten()
}

/// Why a flag's value is refused. Shown by clap after the flag and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// Not a cluster name.
    #[error(
        "`{0}` is not a cluster name (a DNS label: lowercase letters, digits and '-'); name clusters of config/clusters.yaml, e.g. platform,dev"
    )]
    ClusterName(String),
    /// Neither or both of `--user` and `--service-account`.
    #[error(
        "give exactly one of --user USER and --service-account NAMESPACE/NAME: the identity in the cluster's kubeconfig"
    )]
    TargetSubject,
    /// Not a user name.
    #[error(
        "`{0}` is not a user name: give the name the API server authenticates, without control characters, e.g. tart-operator"
    )]
    UserName(String),
    /// Not NAMESPACE/NAME.
    #[error(
        "`{0}` is not a ServiceAccount: give NAMESPACE/NAME, both lowercase DNS names, e.g. tart-system/tart-operator"
    )]
    ServiceAccount(String),
    /// Not an address.
    #[error("`{0}` is not an address; give an IP address and port, e.g. 127.0.0.1:3000")]
    Address(String),
    /// Port 0.
    #[error(
        "`{0}` has port 0, but the lab must know the port to reach the operator; give a port, e.g. 127.0.0.1:3000"
    )]
    PortZero(String),
    /// A dashboard directory without `index.html`.
    #[error(
        "{} has no index.html; build the dashboard first (cd dashboard && npm ci && npm run build) and pass its dist directory",
        .0.display()
    )]
    NotADashboard(PathBuf),
    /// An empty path.
    #[error("is empty; name a directory, e.g. ~/.local/state/tart-infra/lab")]
    EmptyPath,
    /// A path that exists and is not a directory.
    #[error("{} is not a directory; name a directory (it is created when missing)", .0.display())]
    NotADirectory(PathBuf),
}

/// `--clusters`: each a DNS label (whether the file lists it is checked with the file).
pub fn cluster_name(value: &str) -> Result<String, ArgError> {
    if config::is_dns_label(value) {
        Ok(value.to_owned())
    } else {
        Err(ArgError::ClusterName(value.to_owned()))
    }
}

/// `--stats-user`: a login user name inside the VMs.
fn ssh_user(value: &str) -> Result<String, String> {
    vm_api::validate::ssh_user(value)
        .map(|()| value.to_owned())
        .map_err(|e| match e {
            vm_api::VmError::Invalid { message, .. } => message,
            other => other.to_string(),
        })
}

/// `--user`: a user name as the API server authenticates it.
pub fn user_name(value: &str) -> Result<String, ArgError> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        Err(ArgError::UserName(value.to_owned()))
    } else {
        Ok(value.to_owned())
    }
}

/// `--service-account`: NAMESPACE/NAME, a DNS label and a DNS subdomain.
pub fn service_account(value: &str) -> Result<(String, String), ArgError> {
    let bad = || ArgError::ServiceAccount(value.to_owned());
    let (namespace, name) = value.split_once('/').ok_or_else(bad)?;
    let subdomain =
        !name.is_empty() && name.len() <= 253 && name.split('.').all(config::is_dns_label);
    if config::is_dns_label(namespace) && subdomain {
        Ok((namespace.to_owned(), name.to_owned()))
    } else {
        Err(bad())
    }
}

/// `--http-addr`: an IP address and a port other than 0.
pub fn http_addr(value: &str) -> Result<SocketAddr, ArgError> {
    let addr: SocketAddr = value
        .parse()
        .map_err(|_| ArgError::Address(value.to_owned()))?;
    if addr.port() == 0 {
        return Err(ArgError::PortZero(value.to_owned()));
    }
    Ok(addr)
}

/// `--dashboard-dir`: a directory with the built dashboard's `index.html`.
pub fn dashboard_dir(value: &str) -> Result<PathBuf, ArgError> {
    let dir = PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(ArgError::NotADashboard(dir))
    }
}

/// `--state-dir`: a directory, or a path where one can be created.
pub fn state_dir(value: &str) -> Result<PathBuf, ArgError> {
    let dir = PathBuf::from(value);
    if value.is_empty() {
        Err(ArgError::EmptyPath)
    } else if dir.exists() && !dir.is_dir() {
        Err(ArgError::NotADirectory(dir))
    } else {
        Ok(dir)
    }
}

/// An error and its causes on one line, leaving out a cause the message already quotes.
pub fn report(error: &dyn StdError) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tart-infra").chain(args.iter().copied()))
    }

    fn up(args: &[&str]) -> UpArgs {
        let mut all = vec!["lab", "up"];
        all.extend(args);
        match parse(&all).expect("parses").command {
            Command::Lab {
                command: LabCommand::Up(args),
            } => args,
            other => panic!("not up: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent_and_every_flag_has_an_environment_variable() {
        let command = Cli::command();
        command.clone().debug_assert();
        let lab = command.find_subcommand("lab").expect("lab");
        let serve = command.find_subcommand("serve").expect("serve");
        let image = command.find_subcommand("image").expect("image");
        let ssh = command.find_subcommand("ssh").expect("ssh");
        let mac = ["up", "status", "down", "boot", "destroy", "target-rbac"]
            .map(|name| command.find_subcommand(name).expect(name));
        for sub in lab
            .get_subcommands()
            .chain([serve])
            .chain(image.get_subcommands())
            .chain(mac)
            .chain(ssh.get_subcommands())
        {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_env().is_some(),
                    "lab {} --{id} has no environment variable",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn up_has_the_documented_defaults() {
        let args = up(&["--state-dir", "/tmp/lab"]);
        assert_eq!(args.config, PathBuf::from("config/clusters.yaml"));
        assert!(args.clusters.is_empty());
        assert_eq!(args.http_addr, SocketAddr::from(([127, 0, 0, 1], 3000)));
        assert!(!args.json && args.operator_bin.is_none() && args.dashboard_dir.is_none());
        let options = args.options();
        assert_eq!(options.state_dir, PathBuf::from("/tmp/lab"));
        assert_eq!(
            up(&[]).options().state_dir,
            lab::default_state_dir(),
            "the state directory defaults to the user's"
        );
        assert_eq!(options.http_addr.port(), 3000);
    }

    #[test]
    fn clusters_are_comma_separated_dns_labels() {
        assert_eq!(
            up(&["--clusters", "platform,dev"]).clusters,
            ["platform", "dev"]
        );
        assert_eq!(cluster_name("qa").expect("label"), "qa");
        for bad in ["Dev", "", "dev_1", "-dev"] {
            let err = cluster_name(bad).expect_err(bad).to_string();
            assert!(
                err.contains(&format!("`{bad}`")) && err.contains("e.g. platform,dev"),
                "{err}"
            );
        }
        let err = parse(&["lab", "up", "--clusters", "platform,,dev"])
            .expect_err("empty name")
            .to_string();
        assert!(
            err.contains("--clusters") && err.contains("not a cluster name"),
            "{err}"
        );
    }

    #[test]
    fn the_address_needs_a_port() {
        assert_eq!(
            http_addr("0.0.0.0:8080").expect("addr"),
            SocketAddr::from(([0, 0, 0, 0], 8080))
        );
        let err = http_addr("localhost:3000").expect_err("a name").to_string();
        assert!(err.contains("e.g. 127.0.0.1:3000"), "{err}");
        assert!(matches!(http_addr("127.0.0.1"), Err(ArgError::Address(_))));
        let err = http_addr("127.0.0.1:0").expect_err("port 0").to_string();
        assert!(err.contains("port 0"), "{err}");
    }

    #[test]
    fn a_dashboard_dir_must_hold_a_built_dashboard() {
        let dir = tempfile::tempdir().expect("dir");
        let value = dir.path().to_str().expect("utf-8");
        let err = dashboard_dir(value).expect_err("empty").to_string();
        assert!(
            err.contains("has no index.html") && err.contains("npm run build"),
            "{err}"
        );
        assert_eq!(built_dashboard(dir.path()), None);
        std::fs::write(dir.path().join("index.html"), "<html>").expect("write");
        assert_eq!(dashboard_dir(value).expect("built"), dir.path());
        assert_eq!(
            built_dashboard(dir.path()),
            Some(std::fs::canonicalize(dir.path()).expect("canonical"))
        );
    }

    #[test]
    fn a_state_dir_is_a_directory_or_not_yet_there() {
        let dir = tempfile::tempdir().expect("dir");
        let existing = dir.path().to_str().expect("utf-8");
        assert_eq!(state_dir(existing).expect("dir"), dir.path());
        let missing = dir.path().join("lab");
        assert_eq!(
            state_dir(missing.to_str().expect("utf-8")).expect("created later"),
            missing
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "").expect("write");
        let err = state_dir(file.to_str().expect("utf-8"))
            .expect_err("a file")
            .to_string();
        assert!(err.contains("is not a directory"), "{err}");
        assert!(matches!(state_dir(""), Err(ArgError::EmptyPath)));
        let err = parse(&["lab", "down", "--state-dir", ""])
            .expect_err("empty")
            .to_string();
        assert!(err.contains("--state-dir"), "{err}");
    }

    #[test]
    fn down_and_status_take_the_state_dir() {
        let cli = parse(&["lab", "status", "--json", "--state-dir", "/tmp/lab"]).expect("status");
        let Command::Lab {
            command: LabCommand::Status { json, state },
        } = cli.command
        else {
            panic!("not status");
        };
        assert!(json);
        assert_eq!(state.dir(), PathBuf::from("/tmp/lab"));
        assert!(parse(&["lab", "down"]).is_ok());
        assert!(parse(&["lab", "restart"]).is_err());
    }

    #[test]
    fn serve_has_the_documented_defaults() {
        let Command::Serve(args) = parse(&["serve"]).expect("serve").command else {
            panic!("not serve");
        };
        let options = args.options();
        assert_eq!(options.listen, SocketAddr::from(([0, 0, 0, 0], 7443)));
        assert_eq!(options.state_dir, serve::default_state_dir());
        assert_eq!(options.tart.bin, PathBuf::from("tart"));
        assert_eq!(options.reserve, serve::Reserve::default());
        assert_eq!(options.stats_interval, stats::DEFAULT_INTERVAL);
        assert_eq!(options.stats_user, "admin");
        for bad in [
            ["--stats-interval", "0"],
            ["--stats-interval", "301"],
            ["--stats-user", "Root;"],
        ] {
            let refused = parse(&["serve", bad[0], bad[1]])
                .err()
                .map(|e| e.to_string());
            assert!(
                refused.as_deref().is_some_and(|e| e.contains(bad[0])),
                "{bad:?}: {refused:?}"
            );
        }
        let Command::Serve(args) = parse(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            "/tmp/s",
            "--tart-bin",
            "/opt/tart",
            "--reserve-cpu",
            "0",
            "--reserve-memory-mib",
            "0",
        ])
        .expect("serve")
        .command
        else {
            panic!("not serve");
        };
        let options = args.options();
        assert_eq!(options.listen.port(), 0);
        assert_eq!(options.tart.state_dir, PathBuf::from("/tmp/s"));
        assert_eq!(options.reserve.cpu, 0);
        assert!(parse(&["serve", "--listen", "localhost:1"]).is_err());
    }

    #[test]
    fn the_mac_commands_have_the_documented_defaults() {
        let Command::Up(args) = parse(&["up"]).expect("up").command else {
            panic!("not up");
        };
        assert!(args.agent_url.is_none());
        let options = args.mac.options();
        assert_eq!(options.state_dir, mac::default_state_dir());
        assert_eq!(options.config, PathBuf::from("config/clusters.yaml"));
        assert_eq!(options.tart_bin, PathBuf::from("tart"));
        assert_eq!(options.listen, SocketAddr::from(([0, 0, 0, 0], 7443)));
        assert!(!options.json);
        let Command::Destroy { yes, mac } = parse(&["destroy", "--yes", "--state-dir", "/tmp/m"])
            .expect("destroy")
            .command
        else {
            panic!("not destroy");
        };
        assert!(yes);
        assert_eq!(mac.options().state_dir, PathBuf::from("/tmp/m"));
        assert!(parse(&["ssh", "forget", "platform-master"]).is_ok());
        assert!(parse(&["ssh", "forget", "Not_A_Vm"]).is_err());
        for command in ["status", "down", "boot"] {
            assert!(parse(&[command, "--json"]).is_ok(), "{command}");
        }
    }

    #[test]
    fn target_rbac_takes_one_user_or_one_service_account() {
        let subject = |args: &[&str]| {
            let mut all = vec!["target-rbac"];
            all.extend(args);
            match parse(&all).map(|c| c.command) {
                Ok(Command::TargetRbac(args)) => args.subject().map_err(|e| e.to_string()),
                Ok(other) => panic!("not target-rbac: {other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        assert_eq!(
            subject(&["--user", "tart-operator"]),
            Ok(rbac::Subject::User("tart-operator".into()))
        );
        assert_eq!(
            subject(&["--service-account", "tart-system/tart-operator"]),
            Ok(rbac::Subject::ServiceAccount {
                namespace: "tart-system".into(),
                name: "tart-operator".into()
            })
        );
        for (args, expected) in [
            (&[][..], "--user"),
            (
                &["--user", "a", "--service-account", "b/c"][..],
                "cannot be used with",
            ),
            (&["--user", ""][..], "not a user name"),
            (&["--user", "a\nb"][..], "not a user name"),
            (
                &["--service-account", "tart-operator"][..],
                "NAMESPACE/NAME",
            ),
            (&["--service-account", "Tart/x"][..], "NAMESPACE/NAME"),
            (&["--service-account", "ns/"][..], "NAMESPACE/NAME"),
            (&["--service-account", "ns/a/b"][..], "NAMESPACE/NAME"),
        ] {
            let err = subject(args).expect_err(&format!("{args:?}"));
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_report_is_one_line_without_repeating_a_quoted_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: {0}")]
        struct Quoting(#[source] std::io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Wrapping(#[source] std::io::Error);
        let cause = || std::io::Error::other("the cause");
        assert_eq!(report(&Quoting(cause())), "outer: the cause");
        assert_eq!(report(&Wrapping(cause())), "outer: the cause");
    }
}
