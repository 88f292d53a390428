//! The operator's command line: every flag also reads an environment variable, every value
//! is checked where it is parsed (so a bad one stops the operator with the flag's name and
//! the fix, before it connects anywhere), and [`Args::config`] turns them into the
//! library's [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::Config;
use crate::api::ApiConfig;
use crate::api::limits::Limits;
use crate::api::server::Transport;
use crate::api::tls::TlsFiles;
use crate::collectors::CollectorSettings;
use crate::context::{DEFAULT_K6_IMAGE, DEFAULT_STRESS_NG_IMAGE, Images, Settings};
use crate::controllers::managed_cluster::tart::names::TartSettings;
use crate::leader::LeaderConfig;
use crate::telemetry::LogFormat;

/// The tart-infra operator: reconciles ManagedCluster, LoadTest and ScalingExperiment
/// resources. Connects with the in-cluster service account or $KUBECONFIG.
#[derive(Parser, Debug)]
#[command(name = "tart-operator", version)]
pub struct Args {
    /// Address for the API, /healthz and /readyz.
    #[arg(
        long,
        env = "TART_OPERATOR_HTTP_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub http_addr: SocketAddr,
    /// Address for /metrics alone (no token; keep it off public networks, e.g. behind a
    /// NetworkPolicy). Unset: no metrics listener.
    #[arg(long, env = "TART_OPERATOR_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Also serve /metrics, without a token, on the API's address (--http-addr).
    #[arg(long, env = "TART_OPERATOR_METRICS_ON_API_PORT")]
    pub metrics_on_api_port: bool,
    /// The audience callers' tokens must be for: the API refuses tokens the API server
    /// made for anything else (make one with `kubectl create token <sa> --audience
    /// tart-operator`).
    #[arg(long, env = "TART_OPERATOR_TOKEN_AUDIENCE", default_value = crate::api::auth::DEFAULT_AUDIENCE, value_parser = audience)]
    pub token_audience: String,
    /// Log format (on stderr): auto (JSON unless stderr is a terminal), json or text.
    /// Filter with RUST_LOG.
    #[arg(long, env = "TART_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// The namespace of the kubeconfig Secrets; Secrets there are watched, so a changed
    /// kubeconfig reconnects at once (others are re-read every --cluster-recheck-seconds).
    #[arg(long, env = "POD_NAMESPACE", default_value = "tart-system")]
    pub secrets_namespace: String,
    /// At most this many LoadTests run at once per managed cluster; the rest queue.
    #[arg(long, env = "TART_OPERATOR_MAX_TESTS_PER_CLUSTER", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_tests_per_cluster: u32,
    /// At most this many ScalingExperiments sample at once (each keeps its series in memory);
    /// a new one waits in Pending until one ends.
    #[arg(long, env = "TART_OPERATOR_MAX_LIVE_EXPERIMENTS", default_value_t = crate::context::DEFAULT_MAX_LIVE_EXPERIMENTS as u32, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_live_experiments: u32,
    /// Seconds between health checks of a managed cluster.
    #[arg(long, env = "TART_OPERATOR_CLUSTER_RECHECK_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub cluster_recheck_seconds: u64,
    /// Seconds a LoadTest waits for an unreachable cluster before failing (ClusterUnavailable).
    #[arg(long, env = "TART_OPERATOR_CLUSTER_UNAVAILABLE_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub cluster_unavailable_timeout_seconds: u64,
    /// Seconds a runner pod may stay unschedulable before its test fails (Unschedulable), and
    /// a parallel test's runner pods may stay uncreated (RunnerRejected).
    #[arg(long, env = "TART_OPERATOR_UNSCHEDULABLE_GRACE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub unschedulable_grace_seconds: u64,
    /// Seconds deleting a LoadTest keeps trying to remove its runner from an unreachable
    /// cluster before giving up with a Warning event.
    #[arg(long, env = "TART_OPERATOR_CLEANUP_TIMEOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86400))]
    pub cleanup_timeout_seconds: u64,
    /// Seconds after a run ended when its cluster's node CPU and memory are read again for
    /// the run's `after` figures (status.nodeUsage).
    #[arg(long, env = "TART_OPERATOR_NODE_USAGE_SETTLE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub node_usage_settle_seconds: u64,
    /// The k6 image for HTTP tests (pinned to a tag other than latest, or a digest).
    #[arg(long, env = "TART_OPERATOR_K6_IMAGE", default_value = DEFAULT_K6_IMAGE, value_parser = pinned_image)]
    pub k6_image: String,
    /// The stress-ng image for stress tests (pinned to a tag other than latest, or a digest).
    #[arg(long, env = "TART_OPERATOR_STRESS_NG_IMAGE", default_value = DEFAULT_STRESS_NG_IMAGE, value_parser = pinned_image)]
    pub stress_ng_image: String,
    /// The platform cluster's name in the API and dashboard.
    #[arg(long, env = "TART_OPERATOR_PLATFORM_NAME", default_value = "platform")]
    pub platform_name: String,
    /// Allow API reads without a token (only for a lab on a trusted machine).
    #[arg(long, env = "TART_OPERATOR_ANONYMOUS_READ")]
    pub anonymous_read: bool,
    /// Seconds between metrics-API polls per cluster.
    #[arg(long, env = "TART_OPERATOR_USAGE_INTERVAL_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub usage_interval_seconds: u64,
    /// Seconds between HPA samples per cluster (the history keeps 360 points).
    #[arg(long, env = "TART_OPERATOR_SCALING_INTERVAL_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub scaling_interval_seconds: u64,
    /// Reach a cluster's Hubble Relay at an address instead of through a port-forward to
    /// its hubble-relay pod: CLUSTER=HOST:PORT (repeatable).
    #[arg(long = "hubble-relay-address", env = "TART_OPERATOR_HUBBLE_RELAY_ADDRESSES", value_delimiter = ',', value_parser = cluster_address)]
    pub hubble_relay_address: Vec<(String, String)>,
    /// ArgoCD's namespace: where the cluster Secrets of tart clusters go.
    #[arg(long, env = "TART_OPERATOR_ARGOCD_NAMESPACE", default_value = "argocd", value_parser = dns_label)]
    pub argocd_namespace: String,
    /// The Secret (in --secrets-namespace) with the host agent's VM API: keys url, token,
    /// ca.crt. `tart-infra up` writes it.
    #[arg(long, env = "TART_OPERATOR_HOST_AGENT_SECRET", default_value = "host-agent", value_parser = dns_label)]
    pub host_agent_secret: String,
    /// The Secret (in --secrets-namespace, type kubernetes.io/ssh-auth) with the SSH key
    /// the operator logs in to tart VMs with. `tart-infra up` writes it.
    #[arg(long, env = "TART_OPERATOR_SSH_KEY_SECRET", default_value = "tart-operator-ssh", value_parser = dns_label)]
    pub ssh_key_secret: String,
    /// The login user of the tart VMs' image.
    #[arg(long, env = "TART_OPERATOR_VM_SSH_USER", default_value = "admin", value_parser = unix_user)]
    pub vm_ssh_user: String,
    /// Deleting a tart cluster: how long to wait for its workers' pods to be evicted
    /// (PodDisruptionBudgets respected) before the nodes are reset and the VMs deleted anyway.
    #[arg(long, env = "TART_OPERATOR_TEARDOWN_DRAIN_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub teardown_drain_timeout_seconds: u64,
    /// Serve the built dashboard (`npm run build` in dashboard/ writes dashboard/dist) at `/`.
    #[arg(long, env = "TART_OPERATOR_DASHBOARD_DIR", value_parser = dashboard_dir)]
    pub dashboard_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (e.g. tls.crt of a cert-manager Secret
    /// mounted as files); re-read when it changes. Without it the API is plain HTTP, for
    /// behind a TLS-terminating Ingress.
    #[arg(long, env = "TART_OPERATOR_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The certificate's PEM private key (tls.key).
    #[arg(long, env = "TART_OPERATOR_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Seconds between checks of the certificate and key files for a change.
    #[arg(long, env = "TART_OPERATOR_TLS_RELOAD_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub tls_reload_seconds: u64,
    /// Seconds a client has to send a request's headers (and a new connection's TLS
    /// handshake); an HTTP/1 keep-alive connection waits this long for its next request.
    #[arg(long, env = "TART_OPERATOR_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a request may take to be answered (503 after); the event stream's body is
    /// not limited.
    #[arg(long, env = "TART_OPERATOR_REQUEST_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,
    /// A connection with no bytes either way for this many seconds is closed (longer than
    /// the event stream's 15 s keep-alive).
    #[arg(long, env = "TART_OPERATOR_IDLE_TIMEOUT_SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(20..=86400))]
    pub idle_timeout_seconds: u64,
    /// Connections served at once; more wait --connection-wait-seconds for a free slot,
    /// then are closed (plain HTTP: with a 503).
    #[arg(long, env = "TART_OPERATOR_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Seconds a connection beyond --max-connections waits for a free slot.
    #[arg(long, env = "TART_OPERATOR_CONNECTION_WAIT_SECONDS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub connection_wait_seconds: u64,
    /// Event streams (/api/v1/events) open at once per token (per client IP without one);
    /// more get 429.
    #[arg(long, env = "TART_OPERATOR_MAX_EVENT_STREAMS_PER_CLIENT", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_event_streams_per_client: u64,
    /// Failed authentications (401) a client IP may make in a burst; then 429 with
    /// Retry-After until it earns more (--auth-failures-per-minute). 0: no limit (behind a
    /// proxy every client has the proxy's IP).
    #[arg(long, env = "TART_OPERATOR_AUTH_FAILURE_BURST", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub auth_failure_burst: u32,
    /// Failed authentications a client IP earns back per minute.
    #[arg(long, env = "TART_OPERATOR_AUTH_FAILURES_PER_MINUTE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub auth_failures_per_minute: u32,
    /// Proxies whose X-Forwarded-For names the client for the per-IP limits, as CIDRs (an
    /// Ingress controller's pod range, e.g. 10.244.0.0/16); others' X-Forwarded-For is ignored.
    #[arg(long, env = "TART_OPERATOR_TRUSTED_PROXIES", value_delimiter = ',', value_parser = cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Elect a leader on a Lease, so several replicas are safe: only the leader reconciles,
    /// every replica serves the API. A replica that loses leadership exits.
    #[arg(long, env = "TART_OPERATOR_LEADER_ELECT")]
    pub leader_elect: bool,
    /// The Lease of the election.
    #[arg(long, env = "TART_OPERATOR_LEADER_ELECT_LEASE", default_value = "tart-operator", value_parser = dns_label)]
    pub leader_elect_lease: String,
    /// The Lease's namespace [default: --secrets-namespace].
    #[arg(long, env = "TART_OPERATOR_LEADER_ELECT_NAMESPACE", value_parser = dns_label)]
    pub leader_elect_namespace: Option<String>,
    /// Seconds a leader's Lease holds without renewal; it renews every seventh of that and
    /// steps down after two thirds without a renewal.
    #[arg(long, env = "TART_OPERATOR_LEADER_ELECT_LEASE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(2..=300))]
    pub leader_elect_lease_seconds: u64,
    /// This replica's identity in the Lease [default: $POD_NAME, else the host name and
    /// process id].
    #[arg(long, env = "POD_NAME")]
    pub leader_elect_identity: Option<String>,
    /// The platform's Prometheus HTTP API (plain http, e.g.
    /// http://prometheus-operated.monitoring:9090): the operator reads running tests' live
    /// series there. Unset: test series say no Prometheus is configured.
    #[arg(long, env = "TART_OPERATOR_PROMETHEUS_URL", value_parser = prometheus_url)]
    pub prometheus_url: Option<reqwest::Url>,
    /// Where k6 runners remote-write their metrics, as the target clusters reach the
    /// platform's Prometheus (its remote-write receiver, e.g.
    /// http://prometheus.platform.example:9090/api/v1/write). Unset: runners write nowhere.
    #[arg(long, env = "TART_OPERATOR_PROMETHEUS_REMOTE_WRITE_URL", value_parser = remote_write_url)]
    pub prometheus_remote_write_url: Option<String>,
    /// The label of node-exporter's series in that Prometheus that names their cluster
    /// (series without it are the platform's own).
    #[arg(long, env = "TART_OPERATOR_NODE_EXPORTER_CLUSTER_LABEL", default_value = "cluster", value_parser = series_label)]
    pub node_exporter_cluster_label: String,
    /// The label of node-exporter's series that names their node (kube-prometheus-stack's
    /// ServiceMonitor puts the node's name in `instance`; a `:port` suffix is dropped).
    #[arg(long, env = "TART_OPERATOR_NODE_EXPORTER_NODE_LABEL", default_value = "instance", value_parser = series_label)]
    pub node_exporter_node_label: String,
    /// Do not read node disk and network from the kubelet Summary API (through each API
    /// server's node proxy, which needs `get` on `nodes/proxy`) for nodes node-exporter
    /// gives nothing for.
    #[arg(long, env = "TART_OPERATOR_NO_KUBELET_SUMMARY")]
    pub no_kubelet_summary: bool,
}

/// A flag value that cannot be used, with the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlagError {
    /// Not CLUSTER=HOST:PORT.
    #[error("{0:?}: use CLUSTER=HOST:PORT, e.g. dev=127.0.0.1:4245")]
    ClusterAddress(String),
    /// An image without a tag, on latest, or without a digest.
    #[error(
        "{0:?} must be pinned to a tag other than latest or to a digest, e.g. grafana/k6:1.7.1"
    )]
    Unpinned(String),
    /// Not a DNS label.
    #[error(
        "{0:?} must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    )]
    DnsLabel(String),
    /// Not a Unix user name.
    #[error(
        "{0:?} must be a Unix user name: lowercase letters, digits, '_' and '-', starting with a letter or '_'"
    )]
    UnixUser(String),
    /// An empty audience or one with spaces.
    #[error("{0:?} must be a token audience: not empty, without spaces, e.g. tart-operator")]
    Audience(String),
    /// Not an address range.
    #[error("{0:?} must be an address range in CIDR notation, e.g. 10.244.0.0/16 or 192.0.2.7/32")]
    Cidr(String),
    /// Not a usable Prometheus URL.
    #[error("{0}")]
    Prometheus(String),
    /// A dashboard directory without index.html.
    #[error(
        "{0} has no index.html; build the dashboard first (cd dashboard && npm ci && npm run build) and pass its dist directory"
    )]
    NoDashboard(String),
}

/// `CLUSTER=HOST:PORT`.
pub fn cluster_address(s: &str) -> Result<(String, String), FlagError> {
    let bad = || FlagError::ClusterAddress(s.to_owned());
    let (cluster, address) = s.split_once('=').ok_or_else(bad)?;
    match address.rsplit_once(':') {
        Some((host, port))
            if !cluster.is_empty() && !host.is_empty() && port.parse::<u16>().is_ok() =>
        {
            Ok((cluster.to_owned(), address.to_owned()))
        }
        _ => Err(bad()),
    }
}

/// An image reference pinned to a tag other than `latest`, or to a digest.
pub fn pinned_image(image: &str) -> Result<String, FlagError> {
    // The tag follows the last `/`, so a registry port (`host:5000/k6`) is not a tag.
    let last = image.rsplit('/').next().unwrap_or(image);
    let tagged = last
        .split_once(':')
        .is_some_and(|(name, tag)| !name.is_empty() && !tag.is_empty() && tag != "latest");
    if image.contains("@sha256:") || tagged {
        Ok(image.to_owned())
    } else {
        Err(FlagError::Unpinned(image.to_owned()))
    }
}

/// An address range, `ADDRESS/PREFIX`.
pub fn cidr(value: &str) -> Result<ipnet::IpNet, FlagError> {
    value
        .trim()
        .parse()
        .map_err(|_| FlagError::Cidr(value.to_owned()))
}

/// A DNS label (a namespace or a Secret name).
pub fn dns_label(value: &str) -> Result<String, FlagError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    ok.then(|| value.to_owned())
        .ok_or_else(|| FlagError::DnsLabel(value.to_owned()))
}

/// A Unix login name, as Debian's adduser accepts it.
pub fn unix_user(value: &str) -> Result<String, FlagError> {
    let ok = value.len() <= 32
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then(|| value.to_owned())
        .ok_or_else(|| FlagError::UnixUser(value.to_owned()))
}

/// A token audience: not empty, no spaces.
pub fn audience(value: &str) -> Result<String, FlagError> {
    let ok = !value.is_empty() && value.len() <= 253 && !value.chars().any(char::is_whitespace);
    ok.then(|| value.to_owned())
        .ok_or_else(|| FlagError::Audience(value.to_owned()))
}

/// Prometheus's base URL for queries (plain http).
pub fn prometheus_url(value: &str) -> Result<reqwest::Url, FlagError> {
    crate::prometheus::base_url(value).map_err(FlagError::Prometheus)
}

/// A Prometheus label name, for the node-exporter series' labels.
pub fn series_label(value: &str) -> Result<String, FlagError> {
    crate::collectors::node_figures::label_name(value).map_err(FlagError::Prometheus)
}

/// A remote-write URL for k6: http or https with a host.
pub fn remote_write_url(value: &str) -> Result<String, FlagError> {
    let ok = reqwest::Url::parse(value.trim())
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    ok.then(|| value.trim().to_owned()).ok_or_else(|| {
        FlagError::Prometheus(format!(
            "{value:?} must be an http(s) URL of a Prometheus remote-write receiver, e.g. http://prometheus.platform.example:9090/api/v1/write"
        ))
    })
}

/// A directory with the built dashboard's `index.html`.
pub fn dashboard_dir(value: &str) -> Result<PathBuf, FlagError> {
    let dir = PathBuf::from(value);
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(FlagError::NoDashboard(value.to_owned()))
    }
}

impl Args {
    /// The operator's configuration.
    pub fn config(self) -> Config {
        Config {
            http_addr: self.http_addr,
            metrics_addr: self.metrics_listen,
            secrets_namespace: self.secrets_namespace.clone(),
            settings: Settings {
                max_tests_per_cluster: self.max_tests_per_cluster as usize,
                cluster_recheck: Duration::from_secs(self.cluster_recheck_seconds),
                cluster_unavailable_timeout: Duration::from_secs(
                    self.cluster_unavailable_timeout_seconds,
                ),
                unschedulable_grace: Duration::from_secs(self.unschedulable_grace_seconds),
                cleanup_timeout: Duration::from_secs(self.cleanup_timeout_seconds),
                node_usage_settle: Duration::from_secs(self.node_usage_settle_seconds),
                max_live_experiments: self.max_live_experiments as usize,
                images: Images {
                    k6: self.k6_image,
                    stress_ng: self.stress_ng_image,
                },
                tart: TartSettings {
                    namespace: self.secrets_namespace.clone(),
                    argocd_namespace: self.argocd_namespace,
                    host_agent_secret: self.host_agent_secret,
                    ssh_key_secret: self.ssh_key_secret,
                    ssh_user: self.vm_ssh_user,
                    drain_timeout: Duration::from_secs(self.teardown_drain_timeout_seconds),
                },
                prometheus_remote_write_url: self.prometheus_remote_write_url,
            },
            api: ApiConfig {
                platform_name: self.platform_name,
                anonymous_read: self.anonymous_read,
                token_audience: self.token_audience,
                metrics_on_api_port: self.metrics_on_api_port,
                platform_version: None,
                collectors: CollectorSettings {
                    usage: Duration::from_secs(self.usage_interval_seconds),
                    scaling: Duration::from_secs(self.scaling_interval_seconds),
                    hubble: self.hubble_relay_address.into_iter().collect(),
                },
                prometheus_url: self.prometheus_url,
                node_series: crate::collectors::node_figures::SeriesLabels {
                    cluster: self.node_exporter_cluster_label,
                    node: self.node_exporter_node_label,
                },
                kubelet_summary: !self.no_kubelet_summary,
            },
            dashboard_dir: self.dashboard_dir,
            transport: Transport {
                tls: self
                    .tls_cert_file
                    .zip(self.tls_key_file)
                    .map(|(cert, key)| TlsFiles {
                        cert,
                        key,
                        reload_every: Duration::from_secs(self.tls_reload_seconds),
                    }),
                limits: Limits {
                    header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
                    request_timeout: Duration::from_secs(self.request_timeout_seconds),
                    idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
                    max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
                    connection_wait: Duration::from_secs(self.connection_wait_seconds),
                    event_streams_per_client: usize::try_from(self.max_event_streams_per_client)
                        .unwrap_or(usize::MAX),
                    auth_failure_burst: self.auth_failure_burst,
                    auth_failures_per_minute: self.auth_failures_per_minute,
                    trusted_proxies: self.trusted_proxies,
                },
            },
            leader_election: self.leader_elect.then(|| LeaderConfig {
                lease: self.leader_elect_lease,
                namespace: self
                    .leader_elect_namespace
                    .unwrap_or_else(|| self.secrets_namespace.clone()),
                identity: self.leader_elect_identity.unwrap_or_else(default_identity),
                lease_duration: Duration::from_secs(self.leader_elect_lease_seconds),
            }),
        }
    }
}

/// The host name and process id: unique per replica outside Kubernetes too.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{}-{}",
        if host.is_empty() {
            "tart-operator"
        } else {
            &host
        },
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("tart-operator").chain(args.iter().copied()))
    }

    #[test]
    fn cluster_addresses_need_a_cluster_a_host_and_a_port() {
        assert_eq!(
            cluster_address("dev=127.0.0.1:4245"),
            Ok(("dev".into(), "127.0.0.1:4245".into()))
        );
        assert_eq!(
            cluster_address("dev=[::1]:4245").map(|(c, _)| c),
            Ok("dev".into())
        );
        for bad in [
            "dev",
            "dev=",
            "=127.0.0.1:1",
            "dev=127.0.0.1",
            "dev=:80",
            "dev=h:99999",
            "dev=h:x",
        ] {
            assert_eq!(
                cluster_address(bad),
                Err(FlagError::ClusterAddress(bad.into())),
                "{bad}"
            );
        }
        assert!(
            FlagError::ClusterAddress("x".into())
                .to_string()
                .contains("CLUSTER=HOST:PORT")
        );
    }

    #[test]
    fn images_must_be_pinned() {
        for ok in [
            "grafana/k6:1.7.1",
            "registry.local:5000/k6:1.7.1",
            "grafana/k6@sha256:0123456789abcdef",
        ] {
            assert_eq!(pinned_image(ok), Ok(ok.to_owned()), "{ok}");
        }
        for bad in [
            "grafana/k6",
            "grafana/k6:latest",
            "registry.local:5000/k6",
            "k6:",
            "",
        ] {
            assert_eq!(
                pinned_image(bad),
                Err(FlagError::Unpinned(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_dashboard_dir_needs_its_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_string_lossy().into_owned();
        let err = dashboard_dir(&path).expect_err("empty");
        assert!(err.to_string().contains("npm run build"), "{err}");
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("write");
        assert_eq!(dashboard_dir(&path), Ok(dir.path().to_path_buf()));
    }

    #[test]
    fn flags_become_the_config_with_their_defaults() {
        let config = parse(&[
            "--max-tests-per-cluster",
            "3",
            "--hubble-relay-address",
            "dev=127.0.0.1:4245,prod=127.0.0.2:4245",
        ])
        .expect("valid")
        .config();
        assert_eq!(config.settings.max_tests_per_cluster, 3);
        assert_eq!(
            config.settings.cluster_unavailable_timeout,
            Duration::from_secs(300)
        );
        assert_eq!(config.settings.images.k6, DEFAULT_K6_IMAGE);
        assert_eq!(config.api.collectors.hubble.len(), 2);
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.secrets_namespace, "tart-system");
        assert_eq!(config.settings.tart, TartSettings::default());
        assert_eq!(config.leader_election, None);
        assert_eq!(
            config.metrics_addr, None,
            "no metrics listener unless asked"
        );
        assert!(!config.api.metrics_on_api_port);
        assert_eq!(config.api.token_audience, "tart-operator");
        let config = parse(&["--metrics-listen=0.0.0.0:9090", "--token-audience=ops"])
            .expect("valid")
            .config();
        assert_eq!(config.metrics_addr.map(|a| a.port()), Some(9090));
        assert_eq!(config.api.token_audience, "ops");
        assert_eq!(config.transport, Transport::default());
        assert_eq!(
            config.api.prometheus_url, None,
            "no Prometheus unless given"
        );
        assert_eq!(config.settings.prometheus_remote_write_url, None);
        assert_eq!(
            (
                config.api.node_series.cluster.as_str(),
                config.api.node_series.node.as_str()
            ),
            ("cluster", "instance"),
            "kube-prometheus-stack's labels unless given"
        );
        assert!(
            config.api.kubelet_summary,
            "the kubelet fallback unless refused"
        );
        let config = parse(&[
            "--prometheus-url=http://prometheus-operated.monitoring:9090",
            "--prometheus-remote-write-url=https://prom.example/api/v1/write",
            "--node-exporter-cluster-label=k8s_cluster",
            "--node-exporter-node-label=node",
            "--no-kubelet-summary",
        ])
        .expect("valid")
        .config();
        assert!(!config.api.kubelet_summary);
        assert_eq!(config.api.node_series.cluster, "k8s_cluster");
        assert_eq!(config.api.node_series.node, "node");
        assert_eq!(
            config.api.prometheus_url.map(String::from).as_deref(),
            Some("http://prometheus-operated.monitoring:9090/")
        );
        assert_eq!(
            config.settings.prometheus_remote_write_url.as_deref(),
            Some("https://prom.example/api/v1/write")
        );
    }

    #[test]
    fn tls_needs_both_files_and_limits_have_ranges() {
        let err = parse(&["--tls-cert-file", "/tls/tls.crt"]).expect_err("no key");
        assert!(err.to_string().contains("--tls-key-file"), "{err}");
        let config = parse(&[
            "--tls-cert-file",
            "/tls/tls.crt",
            "--tls-key-file",
            "/tls/tls.key",
            "--max-connections",
            "5",
            "--auth-failure-burst",
            "0",
            "--trusted-proxies",
            "10.244.0.0/16,fd00::/8",
        ])
        .expect("valid")
        .config();
        assert_eq!(
            config.transport.limits.trusted_proxies,
            [
                "10.244.0.0/16".parse::<ipnet::IpNet>().expect("net"),
                "fd00::/8".parse().expect("net")
            ]
        );
        let err = parse(&["--trusted-proxies", "10.244.0.0"]).expect_err("no prefix");
        assert!(err.to_string().contains("CIDR notation"), "{err}");
        let tls = config.transport.tls.expect("tls");
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("/tls/tls.crt"), Some("/tls/tls.key"))
        );
        assert_eq!(config.transport.limits.max_connections, 5);
        assert_eq!(config.transport.limits.auth_failure_burst, 0);
        for bad in [
            ["--max-connections", "0"],
            ["--idle-timeout-seconds", "10"],
            ["--header-read-timeout-seconds", "0"],
        ] {
            let err = parse(&bad).expect_err(bad[0]);
            assert!(err.to_string().contains(bad[0]), "{err}");
        }
    }

    #[test]
    fn leader_election_defaults_to_the_secrets_namespace() {
        let config = parse(&[
            "--leader-elect",
            "--secrets-namespace=ops",
            "--leader-elect-identity=pod-a",
        ])
        .expect("valid")
        .config();
        assert_eq!(
            config.leader_election,
            Some(LeaderConfig {
                lease: "tart-operator".into(),
                namespace: "ops".into(),
                identity: "pod-a".into(),
                lease_duration: Duration::from_secs(15),
            })
        );
        let config = parse(&["--leader-elect", "--leader-elect-namespace=leases"])
            .expect("valid")
            .config();
        let leader = config.leader_election.expect("on");
        assert_eq!(leader.namespace, "leases");
        assert!(!leader.identity.is_empty());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (args, flag) in [
            (
                vec!["--max-tests-per-cluster", "0"],
                "--max-tests-per-cluster",
            ),
            (vec!["--k6-image", "grafana/k6:latest"], "--k6-image"),
            (vec!["--stress-ng-image", "stress-ng"], "--stress-ng-image"),
            (
                vec!["--hubble-relay-address", "dev"],
                "--hubble-relay-address",
            ),
            (vec!["--http-addr", "localhost"], "--http-addr"),
            (vec!["--metrics-listen", "9090"], "--metrics-listen"),
            (vec!["--token-audience", ""], "--token-audience"),
            (vec!["--argocd-namespace", "Argo CD"], "--argocd-namespace"),
            (vec!["--host-agent-secret=x-"], "--host-agent-secret"),
            (vec!["--vm-ssh-user", "Admin"], "--vm-ssh-user"),
            (
                vec!["--prometheus-url", "https://p:9090"],
                "--prometheus-url",
            ),
            (
                vec!["--prometheus-remote-write-url", "prom:9090"],
                "--prometheus-remote-write-url",
            ),
            (
                vec!["--node-exporter-cluster-label", "k8s-cluster"],
                "--node-exporter-cluster-label",
            ),
            (
                vec!["--node-exporter-node-label", "__name__"],
                "--node-exporter-node-label",
            ),
            (
                vec!["--cluster-recheck-seconds", "0"],
                "--cluster-recheck-seconds",
            ),
            (
                vec!["--leader-elect-lease-seconds", "1"],
                "--leader-elect-lease-seconds",
            ),
            (
                vec!["--leader-elect-lease", "Lease"],
                "--leader-elect-lease",
            ),
        ] {
            let err = parse(&args).expect_err("invalid").to_string();
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }
}
