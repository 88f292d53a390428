use std::process::ExitCode;

use clap::Parser;
use operator::cli::Args;

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
    match operator::run(args.config(), client).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
