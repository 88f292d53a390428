//! Debian's real Prometheus (`/usr/bin/prometheus`, the `prometheus` package) with its
//! remote-write receiver and native histograms on, and a remote-write client that feeds it
//! series as k6's `experimental-prometheus-rw` output writes them: the protobuf WriteRequest
//! of Prometheus's `prompb` (samples and native histograms), snappy-framed as the protocol
//! requires. k6 itself is AGPL and cannot run here, so the test writes what it would.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// Where Debian installs Prometheus.
pub const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";

/// `$TART_INFRA_PROMETHEUS`, else Debian's, else `prometheus` on PATH (Homebrew's).
fn prometheus_bin() -> String {
    if let Ok(bin) = std::env::var("TART_INFRA_PROMETHEUS") {
        return bin;
    }
    if std::path::Path::new(PROMETHEUS_BIN).is_file() {
        return PROMETHEUS_BIN.into();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .map_or_else(|| PROMETHEUS_BIN.into(), |p| p.display().to_string())
}

/// A Prometheus on a loopback port, with its own data directory; killed when dropped.
pub struct PrometheusServer {
    pub url: String,
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus, or `None` (with a SKIPPED line) when it is not installed outside
    /// CI; under `CI=true` a missing binary fails the test.
    pub async fn start() -> Result<Option<Self>> {
        // No scrape targets: every sample comes through remote write.
        Self::start_with("global:\n  scrape_interval: 1h\n").await
    }

    /// Starts Prometheus with `config` (its prometheus.yml), as [`Self::start`] does.
    pub async fn start_with(config_yaml: &str) -> Result<Option<Self>> {
        let bin = prometheus_bin();
        let missing: Vec<String> = (!std::path::Path::new(&bin).is_file())
            .then(|| format!("Prometheus at {bin}"))
            .into_iter()
            .collect();
        if !local_control_plane::tools::met(
            "the live series test",
            &missing,
            "install Debian's prometheus package (scripts/install-test-deps does)",
        ) {
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        let config: PathBuf = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_yaml)?;
        let port = super::free_port()?;
        let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
        let child = tokio::process::Command::new(&bin)
            .arg("--web.enable-remote-write-receiver")
            .arg("--enable-feature=native-histograms")
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", config.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        server.wait_ready().await?;
        Ok(Some(server))
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + super::WAIT;
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url)).send().await
                && r.status() == 200
            {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "Prometheus at {} not ready: {}",
                self.url,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The end of its log.
    pub fn log_tail(&self) -> String {
        let log = self.dir.path().join("prometheus.log");
        local_control_plane::log_tail(&log, 20)
    }

    /// Sends `request` to `/api/v1/write`.
    pub async fn write(&self, request: &WriteRequest) -> Result<()> {
        use prost::Message;
        let body = snappy_literal(&request.encode_to_vec());
        let answer = reqwest::Client::new()
            .post(format!("{}/api/v1/write", self.url))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body)
            .send()
            .await?;
        let status = answer.status();
        if !status.is_success() {
            bail!("remote write answered {status}: {}", answer.text().await?);
        }
        Ok(())
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Where Debian installs node-exporter (the `prometheus-node-exporter` package).
pub const NODE_EXPORTER_BIN: &str = "/usr/bin/prometheus-node-exporter";

/// Debian's node-exporter on a loopback port, reading this machine's /proc and /sys;
/// killed when dropped.
pub struct NodeExporter {
    /// host:port of its /metrics.
    pub address: String,
    child: tokio::process::Child,
}

impl NodeExporter {
    /// Starts node-exporter, or `None` (with a SKIPPED line) when it is not installed
    /// outside CI; under `CI=true` a missing binary fails the test.
    pub async fn start() -> Result<Option<Self>> {
        let bin =
            std::env::var("TART_INFRA_NODE_EXPORTER").unwrap_or_else(|_| NODE_EXPORTER_BIN.into());
        let missing: Vec<String> = (!std::path::Path::new(&bin).is_file())
            .then(|| format!("node-exporter at {bin}"))
            .into_iter()
            .collect();
        if !local_control_plane::tools::met(
            "the node figures test",
            &missing,
            "install Debian's prometheus-node-exporter package (scripts/install-test-deps does)",
        ) {
            return Ok(None);
        }
        let port = super::free_port()?;
        let address = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(&bin)
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let exporter = Self { address, child };
        let deadline = Instant::now() + super::WAIT;
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client
                .get(format!("http://{}/metrics", exporter.address))
                .send()
                .await
                && r.status() == 200
            {
                return Ok(Some(exporter));
            }
            ensure!(
                Instant::now() < deadline,
                "node-exporter at {} not ready",
                exporter.address
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A scrape job of `target` every second, relabelled as kube-prometheus-stack's
/// node-exporter ServiceMonitor labels a node's series (`instance` = the node's name), with
/// `cluster` added when given (as a cluster's external label adds it on remote write).
pub fn node_exporter_job(job: &str, target: &str, node: &str, cluster: Option<&str>) -> String {
    let cluster = cluster
        .map(|c| format!("      - target_label: cluster\n        replacement: {c}\n"))
        .unwrap_or_default();
    format!(
        "  - job_name: {job}\n    scrape_interval: 1s\n    static_configs:\n      - targets: [\"{target}\"]\n    relabel_configs:\n      - target_label: instance\n        replacement: {node}\n{cluster}"
    )
}

/// Snappy's block format with literals only: valid snappy every decoder reads (no
/// compression is needed for a test).
pub fn snappy_literal(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 60 * 3 + 10);
    let mut n = data.len() as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    // Literal elements of at most 65536 bytes: tag 61 << 2 then the length - 1 in two bytes.
    for chunk in data.chunks(65536) {
        let len = (chunk.len() - 1) as u16;
        out.push(61 << 2);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

// Prometheus's prompb messages (types.proto and remote.proto), the fields remote write 1.0
// uses.

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A native histogram (integer counts).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(uint64, tag = "1")]
    pub count_int: u64,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(uint64, tag = "6")]
    pub zero_count_int: u64,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Bucket counts as deltas: the first absolute, then each the difference to the one
    /// before.
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// The schema the feeder writes: buckets grow by 2^(1/8).
pub const SCHEMA: i32 = 3;

/// The native-histogram bucket of `value` at [`SCHEMA`]: bucket i holds
/// (2^((i-1)/8), 2^(i/8)].
pub fn bucket_index(value: f64) -> i32 {
    (value.log2() * f64::from(1 << SCHEMA)).ceil() as i32
}

/// The bounds of bucket `index` at [`SCHEMA`].
pub fn bucket_bounds(index: i32) -> (f64, f64) {
    let f = f64::from(1 << SCHEMA);
    (
        2f64.powf(f64::from(index - 1) / f),
        2f64.powf(f64::from(index) / f),
    )
}

/// A cumulative histogram of `count` observations, all of `value` seconds, at `at_ms`.
pub fn histogram_of(value: f64, count: u64, at_ms: i64) -> Histogram {
    Histogram {
        count_int: count,
        sum: value * count as f64,
        schema: SCHEMA,
        zero_threshold: 2f64.powi(-128),
        zero_count_int: 0,
        positive_spans: vec![BucketSpan {
            offset: bucket_index(value),
            length: 1,
        }],
        positive_deltas: vec![count as i64],
        timestamp: at_ms,
    }
}

/// Labels from pairs, sorted by name as remote write requires.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    let mut labels: Vec<Label> = pairs
        .iter()
        .map(|(n, v)| Label {
            name: (*n).to_owned(),
            value: (*v).to_owned(),
        })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}
