//! `tart-infra`, the host agent: parses the command line and runs it (see the
//! `host_agent` library).

use std::process::ExitCode;

use clap::Parser as _;
use host_agent::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.logs() {
        host_agent::telemetry::init();
    }
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
    match runtime.block_on(cli.run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", cli::report(&e));
            ExitCode::FAILURE
        }
    }
}
