//! TEST DOUBLE, NOT SHIPPED. The `tart` command line (the verbs and flags of Tart's
//! `Sources/tart/Commands/*.swift` that tart-infra uses), and the dispatch by program
//! name to the in-VM doubles.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::commands::{self, SetArgs};
use crate::errors::TartError;
use crate::home::Home;
use crate::vm::{self, Net};

/// The `tart` TEST DOUBLE (tart-infra's CI): Tart's CLI contract over loopback "VMs".
#[derive(Parser, Debug)]
#[command(name = "tart", disable_version_flag = true)]
pub struct Cli {
    /// Print the version (TART_DOUBLE_VERSION overrides it).
    #[arg(long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Verb>,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Clone a VM (a local one, or an OCI image pulled into the cache).
    Clone {
        source: String,
        new_name: String,
        #[arg(long)]
        insecure: bool,
        #[arg(long, default_value_t = 4)]
        concurrency: u32,
    },
    /// Modify a VM's configuration.
    Set {
        name: String,
        #[arg(long)]
        cpu: Option<u32>,
        #[arg(long)]
        memory: Option<u64>,
        #[arg(long)]
        disk_size: Option<u64>,
        #[arg(long)]
        random_mac: bool,
        #[arg(long)]
        random_serial: bool,
    },
    /// Run a VM (a foreground process owning it until SIGINT/SIGTERM).
    Run {
        name: String,
        #[arg(long)]
        no_graphics: bool,
        #[arg(long)]
        net_softnet: bool,
        #[arg(long)]
        net_softnet_allow: Vec<String>,
        #[arg(long)]
        net_softnet_block: Vec<String>,
        #[arg(long)]
        net_bridged: Option<String>,
        #[arg(long)]
        nested: bool,
        #[arg(long)]
        suspendable: bool,
        #[arg(long)]
        dir: Vec<String>,
    },
    /// Get the IP address of a running VM.
    Ip {
        name: String,
        #[arg(long, default_value_t = 0)]
        wait: u64,
        #[arg(long, default_value = "dhcp", value_parser = ["dhcp", "arp", "agent"])]
        resolver: String,
    },
    /// Stop a VM.
    Stop {
        name: String,
        #[arg(short, long, default_value_t = 30)]
        timeout: u64,
    },
    /// Delete VMs.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List created VMs.
    List {
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Get a VM's configuration.
    Get {
        name: String,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Execute a command in a running VM (as the guest agent would).
    Exec {
        #[arg(short, long)]
        interactive: bool,
        #[arg(short, long)]
        tty: bool,
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Internal: the VM's first process, inside its namespaces.
    #[command(name = "__boot", hide = true)]
    Boot { name: String },
}

/// The version `tart --version` prints.
pub fn version() -> String {
    std::env::var("TART_DOUBLE_VERSION").unwrap_or_else(|_| "2.30.0".to_owned())
}

async fn dispatch(verb: Verb) -> Result<i32, TartError> {
    let home = Home::from_env()?;
    match verb {
        Verb::Clone {
            source, new_name, ..
        } => commands::clone(&home, &source, &new_name).map(|_| 0),
        Verb::Set {
            name,
            cpu,
            memory,
            disk_size,
            random_mac,
            ..
        } => commands::set(
            &home,
            &name,
            &SetArgs {
                cpu,
                memory,
                disk_size,
                random_mac,
            },
        )
        .map(|_| 0),
        Verb::Run {
            name,
            net_softnet,
            net_softnet_allow,
            net_bridged,
            ..
        } => {
            let net = Net {
                softnet: net_softnet,
                softnet_allow: net_softnet_allow,
                bridged: net_bridged,
            };
            vm::run(&home, &name, &net).await
        }
        Verb::Ip {
            name,
            wait,
            resolver,
        } => {
            let ip = vm::ip(&home, &name, Duration::from_secs(wait), &resolver)?;
            println!("{ip}");
            Ok(0)
        }
        Verb::Stop { name, timeout } => {
            vm::stop(&home, &name, Duration::from_secs(timeout)).map(|_| 0)
        }
        Verb::Delete { names } => commands::delete(&home, &names).map(|_| 0),
        Verb::List {
            source,
            format,
            quiet,
        } => {
            let out = commands::list(&home, source.as_deref(), format == "json", quiet)?;
            if !out.is_empty() || format == "json" {
                println!("{out}");
            }
            Ok(0)
        }
        Verb::Get { name, format } => {
            println!("{}", commands::get(&home, &name, format == "json")?);
            Ok(0)
        }
        Verb::Exec {
            interactive,
            name,
            command,
            ..
        } => vm::exec(&home, &name, interactive, &command),
        Verb::Boot { name } => vm::boot(&home, &name),
    }
}

/// `tart ...`: returns the exit code; errors go to stderr as Tart prints them.
pub async fn tart(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 64 } else { 0 };
        }
    };
    if cli.version {
        println!("{}", version());
        return 0;
    }
    let Some(verb) = cli.command else {
        eprintln!("Error: Missing expected argument '<subcommand>'");
        return 64;
    };
    match dispatch(verb).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

/// What `containerd config default` prints (an excerpt of containerd 1.7's, with the line
/// the bootstrap turns on).
const CONTAINERD_DEFAULT_CONFIG: &str = "disabled_plugins = []
version = 2

[plugins]
  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]
    runtime_type = \"io.containerd.runc.v2\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]
      SystemdCgroup = false";

/// Runs the program named by `argv[0]`: `tart`, or an in-VM double.
pub async fn main(args: Vec<String>) -> i32 {
    let program = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("tart")
        .to_owned();
    let rest: Vec<String> = args.iter().skip(1).cloned().collect();
    match program.as_str() {
        "kubeadm" => crate::guest::kubeadm::main(&rest).await,
        "kubelet" => crate::guest::kubelet::main().await,
        "containerd" if rest.first().map(String::as_str) == Some("config") => {
            // `containerd config default`: the part of containerd 1.7's default config the
            // bootstrap edits (the runc runtime's cgroup driver).
            println!("{CONTAINERD_DEFAULT_CONFIG}");
            0
        }
        "containerd" => {
            // Nothing to run: pods are simulated by kwok.
            let _ = tokio::signal::ctrl_c().await;
            0
        }
        "systemctl" => crate::guest::systemctl::main(&rest),
        "apt-get" | "apt" => crate::guest::record::apt_get(&rest),
        "apt-mark" => crate::guest::record::apt_mark(&rest),
        "modprobe" => crate::guest::record::modprobe(&rest),
        "sysctl" => crate::guest::record::sysctl(&rest),
        _ => tart(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarts_flags_parse() {
        let cli = Cli::try_parse_from([
            "tart",
            "run",
            "vm",
            "--no-graphics",
            "--net-softnet",
            "--net-softnet-allow=0.0.0.0/0",
        ])
        .expect("run");
        assert!(
            matches!(cli.command, Some(Verb::Run { ref net_softnet_allow, .. }) if net_softnet_allow == &["0.0.0.0/0"])
        );
        let cli =
            Cli::try_parse_from(["tart", "exec", "-i", "vm", "sh", "-c", "echo hi"]).expect("exec");
        assert!(
            matches!(cli.command, Some(Verb::Exec { interactive: true, ref command, .. }) if command == &["sh", "-c", "echo hi"])
        );
        let cli = Cli::try_parse_from(["tart", "stop", "vm", "-t", "5"]).expect("stop");
        assert!(matches!(cli.command, Some(Verb::Stop { timeout: 5, .. })));
        assert!(Cli::try_parse_from(["tart", "ip", "vm", "--resolver", "mdns"]).is_err());
        assert!(Cli::try_parse_from(["tart", "list", "--format", "yaml"]).is_err());
        let cli = Cli::try_parse_from([
            "tart",
            "set",
            "vm",
            "--cpu",
            "2",
            "--memory",
            "4096",
            "--disk-size",
            "50",
            "--random-mac",
        ])
        .expect("set");
        assert!(matches!(
            cli.command,
            Some(Verb::Set {
                cpu: Some(2),
                memory: Some(4096),
                disk_size: Some(50),
                random_mac: true,
                ..
            })
        ));
    }
}
