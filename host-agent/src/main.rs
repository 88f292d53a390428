//! `tart-infra`, the host agent. It will create the Tart VMs, bootstrap the platform
//! cluster over SSH and run the local lab; this build has no subcommands yet (see the
//! README's roadmap), so it prints its help.

use clap::{CommandFactory, Parser};

/// The tart-infra host agent: creates Tart VMs and bootstraps the platform cluster.
#[derive(Parser)]
#[command(name = "tart-infra", version)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
    let _ = Cli::command().print_help();
    println!("\n\nNo subcommands in this build yet: see README.md for what runs today.");
}
