//! The Hubble Relay client: streams flows over gRPC (Observer.GetFlows with `follow`) from
//! an address given in the settings, or through a port-forward over the Kubernetes API to
//! the cluster's `hubble-relay` pod. Keeps the last 200 flows. A cluster without a relay
//! says so instead of showing an empty map.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::{Api, Client};
use tonic::transport::{Channel, Endpoint};

use super::cluster::Health;
use super::traffic::{edges, flow_view, record_from_proto};
use crate::hubble_api::observer_client::ObserverClient;
use crate::hubble_api::{GetFlowsRequest, get_flows_response};
use crate::model::{FlowView, TrafficView};

/// Flows kept per cluster (the original's `--last 200`).
pub const FLOWS_KEPT: usize = 200;
/// Hubble Relay's gRPC port in its pod.
pub const RELAY_PORT: u16 = 4245;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the traffic view of one cluster shows.
#[derive(Debug, Default)]
pub struct TrafficState {
    flows: VecDeque<FlowView>,
    available: bool,
    source: Option<String>,
    message: Option<String>,
}

impl TrafficState {
    /// The view: flows newest first, edges, counts.
    pub fn view(&self, cluster: &str) -> TrafficView {
        let flows: Vec<FlowView> = self.flows.iter().rev().cloned().collect();
        TrafficView {
            cluster: cluster.to_owned(),
            available: self.available,
            source: self.source.clone(),
            message: self.message.clone(),
            simulated: flows.iter().any(|f| f.simulated),
            forwarded: flows.iter().filter(|f| f.verdict == "FORWARDED").count(),
            dropped: flows.iter().filter(|f| f.verdict == "DROPPED").count(),
            edges: edges(&flows),
            flows,
        }
    }

    fn push(&mut self, flow: FlowView) {
        self.flows.push_back(flow);
        while self.flows.len() > FLOWS_KEPT {
            self.flows.pop_front();
        }
    }
}

/// The running hubble-relay pod in kube-system, from the pod cache.
pub fn relay_pod(pods: &Store<Pod>) -> Option<String> {
    pods.state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some("kube-system"))
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("k8s-app"))
                .map(String::as_str)
                == Some("hubble-relay")
        })
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .find_map(|p| p.metadata.name.clone())
}

/// A gRPC channel to Hubble Relay through a port-forward to `pod` (kube-system).
pub async fn port_forward_channel(
    client: Client,
    pod: String,
) -> Result<Channel, tonic::transport::Error> {
    let pods: Api<Pod> = Api::namespaced(client, "kube-system");
    Endpoint::from_static("http://hubble-relay.kube-system")
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_| {
            let (pods, pod) = (pods.clone(), pod.clone());
            async move {
                let mut forwarder = pods.portforward(&pod, &[RELAY_PORT]).await?;
                let stream = forwarder
                    .take_stream(RELAY_PORT)
                    .ok_or_else(|| std::io::Error::other("the port-forward has no stream"))?;
                tokio::spawn(async move {
                    if let Err(e) = forwarder.join().await {
                        tracing::debug!(error = %e, "hubble port-forward ended");
                    }
                });
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(TokioIo::new(stream))
            }
        }))
        .await
}

/// A gRPC channel to Hubble Relay at `address` (`host:port`).
pub async fn address_channel(address: &str) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
}

/// Streams flows into `state` until the stream fails.
async fn follow(
    channel: Channel,
    state: &Mutex<TrafficState>,
    health: &Health,
) -> Result<std::convert::Infallible, tonic::Status> {
    let mut stream = ObserverClient::new(channel)
        .get_flows(GetFlowsRequest {
            number: FLOWS_KEPT as u64,
            follow: true,
        })
        .await?
        .into_inner();
    if let Ok(mut s) = state.lock() {
        s.available = true;
        s.message = None;
    }
    health.ok("hubble");
    while let Some(response) = stream.message().await? {
        if let Some(get_flows_response::ResponseTypes::Flow(flow)) = response.response_types {
            let view = flow_view(&record_from_proto(&flow));
            if let Ok(mut s) = state.lock() {
                s.push(view);
            }
        }
    }
    Err(tonic::Status::unavailable(
        "Hubble Relay closed the flow stream",
    ))
}

fn set(state: &Mutex<TrafficState>, available: bool, source: Option<String>, message: String) {
    if let Ok(mut s) = state.lock() {
        s.available = available;
        s.source = source;
        s.message = Some(message);
    }
}

/// Keeps a flow stream open for one cluster, reconnecting with backoff.
pub async fn run(
    client: Client,
    pods: Store<Pod>,
    address: Option<String>,
    state: Arc<Mutex<TrafficState>>,
    health: Health,
) {
    let _ = pods.wait_until_ready().await;
    let mut backoff = Duration::from_secs(1);
    loop {
        let (channel, source) = match &address {
            Some(a) => (address_channel(a).await, format!("address {a}")),
            None => match relay_pod(&pods) {
                Some(pod) => {
                    let source = format!("port-forward kube-system/{pod}:{RELAY_PORT}");
                    (port_forward_channel(client.clone(), pod).await, source)
                }
                None => {
                    set(
                        &state,
                        false,
                        None,
                        "no Hubble Relay: kube-system has no running pod labelled k8s-app=hubble-relay (enable Cilium's hubble.relay, or give the operator --hubble-relay-address)".into(),
                    );
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    continue;
                }
            },
        };
        if let Ok(mut s) = state.lock() {
            s.source = Some(source.clone());
        }
        let failure = match channel {
            Ok(channel) => {
                let Err(status) = follow(channel, &state, &health).await;
                format!("flow stream from {source} failed: {}", status.message())
            }
            Err(e) => format!("cannot reach Hubble Relay via {source}: {e}"),
        };
        // A stream that was established earns a quick reconnect.
        if state.lock().is_ok_and(|s| s.available) {
            backoff = Duration::from_secs(1);
        }
        health.failed("hubble", failure.clone());
        set(&state, false, Some(source), failure);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(verdict: &str, simulated: bool) -> FlowView {
        FlowView {
            verdict: verdict.into(),
            simulated,
            ..FlowView::default()
        }
    }

    #[test]
    fn a_cluster_shows_simulated_traffic_while_it_keeps_a_simulated_flow() {
        let mut state = TrafficState::default();
        state.push(flow("FORWARDED", false));
        state.push(flow("DROPPED", false));
        let view = state.view("dev");
        assert!(!view.simulated, "a real relay's flows");
        assert_eq!((view.forwarded, view.dropped), (1, 1));
        state.push(flow("FORWARDED", true));
        let view = state.view("dev");
        assert!(view.simulated);
        assert!(view.flows[0].simulated, "newest first");
        for _ in 0..FLOWS_KEPT {
            state.push(flow("FORWARDED", false));
        }
        assert!(
            !state.view("dev").simulated,
            "once the simulated flow is no longer kept"
        );
    }
}
