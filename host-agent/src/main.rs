//! `tart-infra`, the host agent. Today it runs the local lab (`tart-infra lab up|down|status`):
//! every cluster of `config/clusters.yaml` as a simulated control plane on this machine, with
//! the operator. Creating Tart VMs and bootstrapping them over SSH come later.

mod config;
mod lab;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The tart-infra host agent: the local lab today; Tart VMs and the platform bootstrap later.
#[derive(Parser)]
#[command(name = "tart-infra", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The local lab: every configured cluster simulated on this machine, with the operator.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
}

#[derive(clap::Args)]
struct StateArgs {
    /// Where the lab keeps certificates, etcd data, kubeconfigs and logs between runs
    /// [default: $XDG_STATE_HOME/tart-infra/lab or ~/.local/state/tart-infra/lab].
    #[arg(long, env = "TART_INFRA_LAB_DIR")]
    state_dir: Option<PathBuf>,
}

impl StateArgs {
    fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(lab::default_state_dir)
    }
}

#[derive(Subcommand)]
enum LabCommand {
    /// Starts the lab and runs it in the foreground until Ctrl-C or `lab down`.
    Up {
        /// The clusters file.
        #[arg(long, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// Clusters to start, comma-separated (platform is always started) [default: all].
        #[arg(long, value_delimiter = ',')]
        clusters: Vec<String>,
        /// The operator's dashboard and API address.
        #[arg(long, default_value = "127.0.0.1:3000")]
        http_addr: SocketAddr,
        /// Print one JSON object (URL, token, kubeconfigs) on stdout when ready.
        #[arg(long)]
        json: bool,
        /// The tart-operator binary [default: next to tart-infra].
        #[arg(long, env = "TART_OPERATOR_BIN")]
        operator_bin: Option<PathBuf>,
        /// The built dashboard to serve at the API's address [default: dashboard/dist when it
        /// has an index.html].
        #[arg(long, env = "TART_INFRA_DASHBOARD_DIR")]
        dashboard_dir: Option<PathBuf>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Stops a running lab (the processes it started, by process id, and nothing else).
    Down {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Shows each process of the lab and whether the operator answers; exits 1 unless all run.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Lab { command } => match command {
                LabCommand::Up {
                    config,
                    clusters,
                    http_addr,
                    json,
                    operator_bin,
                    dashboard_dir,
                    state,
                } => lab::up(lab::UpOptions {
                    config,
                    clusters,
                    state_dir: state.dir(),
                    http_addr,
                    json,
                    operator_bin,
                    dashboard_dir: dashboard_dir.or_else(|| {
                        let built = PathBuf::from("dashboard/dist");
                        built
                            .join("index.html")
                            .is_file()
                            .then(|| std::fs::canonicalize(&built).ok())
                            .flatten()
                    }),
                })
                .await
                .map(|()| true),
                LabCommand::Down { state } => lab::down(&state.dir()).map(|()| true),
                LabCommand::Status { json, state } => lab::status(&state.dir(), json).await,
            },
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
