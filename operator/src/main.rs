use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use operator::telemetry::LogFormat;

/// The tart-infra operator: reconciles ManagedCluster, LoadTest and ScalingExperiment
/// resources. Connects with the in-cluster service account or $KUBECONFIG.
#[derive(Parser)]
#[command(name = "tart-operator", version)]
struct Args {
    /// Address for /healthz, /readyz and /metrics.
    #[arg(
        long,
        env = "TART_OPERATOR_HTTP_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    http_addr: SocketAddr,
    /// Log format (on stderr): auto (JSON unless stderr is a terminal), json or text.
    /// Filter with RUST_LOG.
    #[arg(long, env = "TART_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    operator::telemetry::init(args.log_format);
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(
                "cannot configure a Kubernetes client: set KUBECONFIG to a kubeconfig file, \
                 or run in a pod with a service account ({e})"
            );
            return ExitCode::FAILURE;
        }
    };
    let config = operator::Config {
        http_addr: args.http_addr,
    };
    match operator::run(config, client).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
