//! Node and pod usage from the metrics API (`metrics.k8s.io/v1beta1`), where it is served.
//! Absent metrics stay unknown: nothing here ever reports a zero it did not read.

use std::collections::{HashMap, VecDeque};

use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use super::views::parse_quantity;

/// Usage per pod, keyed by (namespace, name): (CPU millicores, memory bytes).
pub type PodUsage = HashMap<(String, String), (u64, u64)>;

/// Usage read from one cluster's metrics API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageData {
    /// Whether the metrics API answered.
    pub available: bool,
    /// Per node: (CPU millicores, memory bytes).
    pub nodes: HashMap<String, (u64, u64)>,
    /// Per pod (namespace, name): summed over containers.
    pub pods: PodUsage,
}

/// One poll of a cluster's node usage, kept in a short history so that a run can be
/// summarised before, during and after: per node (CPU millicores, memory bytes), or why the
/// metrics API gave nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSample {
    /// When it was read.
    pub at: Timestamp,
    /// The figures per node, or why there are none.
    pub nodes: Result<HashMap<String, (u64, u64)>, String>,
}

/// How many polls the history keeps: an hour at the default 15 s. A run's controller folds
/// the readings into its status at least every few seconds while it runs, so the history
/// only has to span the time between two looks, the settle time and a little before.
pub const HISTORY: usize = 240;

/// Appends a sample, dropping the oldest beyond [`HISTORY`].
pub fn push(history: &mut VecDeque<NodeSample>, sample: NodeSample) {
    while history.len() >= HISTORY {
        history.pop_front();
    }
    history.push_back(sample);
}

#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
struct Resources {
    cpu: String,
    memory: String,
}

#[derive(Deserialize)]
struct NodeMetrics {
    metadata: Meta,
    usage: Resources,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    usage: Resources,
}

#[derive(Deserialize)]
struct PodMetrics {
    metadata: Meta,
    containers: Vec<ContainerMetrics>,
}

fn amounts(r: &Resources) -> Option<(u64, u64)> {
    let cpu = parse_quantity(&r.cpu)?;
    let memory = parse_quantity(&r.memory)?;
    Some(((cpu * 1000.0).round() as u64, memory.round() as u64))
}

/// Parses a `NodeMetricsList`; entries with unreadable quantities are left out (unknown).
pub fn parse_nodes(json: &str) -> Result<HashMap<String, (u64, u64)>, serde_json::Error> {
    let list: List<NodeMetrics> = serde_json::from_str(json)?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| Some((n.metadata.name, amounts(&n.usage)?)))
        .collect())
}

/// Parses a `PodMetricsList`, summing containers.
pub fn parse_pods(json: &str) -> Result<PodUsage, serde_json::Error> {
    let list: List<PodMetrics> = serde_json::from_str(json)?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|p| {
            let mut sum = (0, 0);
            for c in &p.containers {
                let (cpu, memory) = amounts(&c.usage)?;
                sum = (sum.0 + cpu, sum.1 + memory);
            }
            Some(((p.metadata.namespace, p.metadata.name), sum))
        })
        .collect())
}

/// Why the metrics API could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The request failed.
    #[error("metrics API: {0}")]
    Request(#[source] kube::Error),
    /// The request could not be built.
    #[error("metrics API request: {0}")]
    Build(#[source] http::Error),
    /// An answer that is not a metrics list.
    #[error("metrics API {what}: {source}")]
    Unreadable {
        /// `nodes` or `pods`.
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads the metrics API: `Ok(None)` when it is not served (404), an error when it is
/// registered but failing.
pub async fn fetch(client: &kube::Client) -> Result<Option<UsageData>, UsageError> {
    let get = |path: &'static str| async move {
        let req = http::Request::get(path)
            .body(Vec::new())
            .map_err(UsageError::Build)?;
        match client.request_text(req).await {
            Ok(text) => Ok(Some(text)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(UsageError::Request(e)),
        }
    };
    let Some(nodes) = get("/apis/metrics.k8s.io/v1beta1/nodes").await? else {
        return Ok(None);
    };
    let pods = get("/apis/metrics.k8s.io/v1beta1/pods")
        .await?
        .unwrap_or_else(|| r#"{"items":[]}"#.into());
    let unreadable = |what| move |source| UsageError::Unreadable { what, source };
    Ok(Some(UsageData {
        available: true,
        nodes: parse_nodes(&nodes).map_err(unreadable("nodes"))?,
        pods: parse_pods(&pods).map_err(unreadable("pods"))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_server_lists_parse_in_their_units() {
        let nodes = r#"{"kind":"NodeMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":[
            {"metadata":{"name":"dev-worker1"},"timestamp":"2026-11-28T10:00:00Z","window":"10s","usage":{"cpu":"253748326n","memory":"1838296Ki"}},
            {"metadata":{"name":"broken"},"usage":{"cpu":"??","memory":"1Ki"}}]}"#;
        let n = parse_nodes(nodes).expect("parses");
        assert_eq!(n.get("dev-worker1"), Some(&(254, 1_882_415_104)));
        assert!(
            !n.contains_key("broken"),
            "unreadable usage is unknown, not zero"
        );
        let pods = r#"{"items":[{"metadata":{"name":"web-1","namespace":"demo"},"containers":[
            {"name":"a","usage":{"cpu":"10m","memory":"10Mi"}},{"name":"b","usage":{"cpu":"5m","memory":"2Mi"}}]}]}"#;
        assert_eq!(
            parse_pods(pods)
                .expect("parses")
                .get(&("demo".into(), "web-1".into())),
            Some(&(15, 12 * 1024 * 1024))
        );
        assert!(parse_nodes("{\"items\": 3}").is_err());
    }
}
