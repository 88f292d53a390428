use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use operator::context::{DEFAULT_K6_IMAGE, DEFAULT_STRESS_NG_IMAGE, Images, Settings};
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
    /// The namespace of the kubeconfig Secrets; Secrets there are watched, so a changed
    /// kubeconfig reconnects at once (others are re-read every --cluster-recheck-seconds).
    #[arg(long, env = "POD_NAMESPACE", default_value = "tart-system")]
    secrets_namespace: String,
    /// At most this many LoadTests run at once per managed cluster; the rest queue.
    #[arg(long, env = "TART_OPERATOR_MAX_TESTS_PER_CLUSTER", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_tests_per_cluster: u32,
    /// Seconds between health checks of a managed cluster.
    #[arg(long, env = "TART_OPERATOR_CLUSTER_RECHECK_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    cluster_recheck_seconds: u64,
    /// Seconds a LoadTest waits for an unreachable cluster before failing (ClusterUnavailable).
    #[arg(long, env = "TART_OPERATOR_CLUSTER_UNAVAILABLE_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    cluster_unavailable_timeout_seconds: u64,
    /// Seconds a runner pod may stay unschedulable before its test fails (Unschedulable).
    #[arg(long, env = "TART_OPERATOR_UNSCHEDULABLE_GRACE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86400))]
    unschedulable_grace_seconds: u64,
    /// Seconds deleting a LoadTest keeps trying to remove its runner from an unreachable
    /// cluster before giving up with a Warning event.
    #[arg(long, env = "TART_OPERATOR_CLEANUP_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86400))]
    cleanup_timeout_seconds: u64,
    /// The k6 image for HTTP tests (pin a tag or digest).
    #[arg(long, env = "TART_OPERATOR_K6_IMAGE", default_value = DEFAULT_K6_IMAGE)]
    k6_image: String,
    /// The platform cluster's name in the API and dashboard.
    #[arg(long, env = "TART_OPERATOR_PLATFORM_NAME", default_value = "platform")]
    platform_name: String,
    /// Allow API reads without a token (only for a lab on a trusted machine).
    #[arg(long, env = "TART_OPERATOR_ANONYMOUS_READ")]
    anonymous_read: bool,
    /// Seconds between metrics-API polls per cluster.
    #[arg(long, env = "TART_OPERATOR_USAGE_INTERVAL_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    usage_interval_seconds: u64,
    /// Seconds between HPA samples per cluster (the history keeps 360 points).
    #[arg(long, env = "TART_OPERATOR_SCALING_INTERVAL_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    scaling_interval_seconds: u64,
    /// Reach a cluster's Hubble Relay at an address instead of through a port-forward to
    /// its hubble-relay pod: CLUSTER=HOST:PORT (repeatable).
    #[arg(long = "hubble-relay-address", env = "TART_OPERATOR_HUBBLE_RELAY_ADDRESSES", value_delimiter = ',', value_parser = cluster_address)]
    hubble_relay_address: Vec<(String, String)>,
    /// Serve the built dashboard (`npm run build` in dashboard/ writes dashboard/dist) at `/`.
    #[arg(long, env = "TART_OPERATOR_DASHBOARD_DIR", value_parser = dashboard_dir)]
    dashboard_dir: Option<std::path::PathBuf>,
    /// The stress-ng image for stress tests (pin a tag or digest).
    #[arg(long, env = "TART_OPERATOR_STRESS_NG_IMAGE", default_value = DEFAULT_STRESS_NG_IMAGE)]
    stress_ng_image: String,
}

fn cluster_address(s: &str) -> Result<(String, String), String> {
    let (cluster, address) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: use CLUSTER=HOST:PORT, e.g. dev=127.0.0.1:4245"))?;
    match address.rsplit_once(':') {
        Some((host, port))
            if !cluster.is_empty() && !host.is_empty() && port.parse::<u16>().is_ok() =>
        {
            Ok((cluster.to_owned(), address.to_owned()))
        }
        _ => Err(format!(
            "{s:?}: use CLUSTER=HOST:PORT, e.g. dev=127.0.0.1:4245"
        )),
    }
}

fn pinned(flag: &str, image: &str) -> Result<(), String> {
    let tag = image.rsplit('/').next().unwrap_or(image);
    if image.contains("@sha256:") || (tag.contains(':') && !tag.ends_with(":latest")) {
        Ok(())
    } else {
        Err(format!(
            "--{flag} {image:?} must be pinned to a tag other than latest or to a digest"
        ))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    operator::telemetry::init(args.log_format);
    for (flag, image) in [
        ("k6-image", &args.k6_image),
        ("stress-ng-image", &args.stress_ng_image),
    ] {
        if let Err(e) = pinned(flag, image) {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    }
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
        secrets_namespace: args.secrets_namespace,
        settings: Settings {
            max_tests_per_cluster: args.max_tests_per_cluster as usize,
            cluster_recheck: Duration::from_secs(args.cluster_recheck_seconds),
            cluster_unavailable_timeout: Duration::from_secs(
                args.cluster_unavailable_timeout_seconds,
            ),
            unschedulable_grace: Duration::from_secs(args.unschedulable_grace_seconds),
            cleanup_timeout: Duration::from_secs(args.cleanup_timeout_seconds),
            images: Images {
                k6: args.k6_image,
                stress_ng: args.stress_ng_image,
            },
        },
        api: operator::api::ApiConfig {
            platform_name: args.platform_name,
            anonymous_read: args.anonymous_read,
            platform_version: None,
            collectors: operator::collectors::CollectorSettings {
                usage: Duration::from_secs(args.usage_interval_seconds),
                scaling: Duration::from_secs(args.scaling_interval_seconds),
                hubble: args.hubble_relay_address.into_iter().collect(),
            },
        },
        dashboard_dir: args.dashboard_dir,
    };
    match operator::run(config, client).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// A directory with the built dashboard's `index.html`.
fn dashboard_dir(value: &str) -> Result<std::path::PathBuf, String> {
    let dir = std::path::PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{value} has no index.html; build the dashboard first (cd dashboard && npm ci && npm run build) and pass its dist directory"
        ))
    }
}
