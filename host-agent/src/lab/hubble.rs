//! The simulated Hubble Relay of a lab cluster (`hubble-sim`): a gRPC Observer server on
//! loopback, speaking Hubble's wire format (the `hubble-api` crate, the same one the operator
//! reads with), whose flows are generated every second by [`super::traffic_model`] from what
//! the load simulator last saw in the cluster. The operator is pointed at it with
//! `--hubble-relay-address`, so its Traffic page shows the lab's probes and simulated load.
//! The flows are simulated: the lab says so where it lists the relay, and every flow says
//! so itself, with [`SIMULATED_NODE_LABEL`] among its node labels (a field Cilium fills with
//! the observing node's labels, so the flows stay wire-compatible with a real relay's), which
//! the operator's traffic view and the dashboard show as simulated.
//!
//! `GetFlows` sends the last `number` flows kept (a ring of [`RING`], like Hubble's per-node
//! buffer), then, with `follow`, every new flow as it is generated; without `follow` the
//! stream ends after the buffered ones.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use hubble_api::observer_server::{Observer, ObserverServer};
use hubble_api::{
    self as pb, GetFlowsRequest, GetFlowsResponse, SIMULATED_NODE_LABEL, get_flows_response,
};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{BroadcastStream, TcpListenerStream};
use tonic::{Request, Response, Status};

use super::simulator::Observed;
use super::traffic_model::Flows;

/// The component name the lab lists the relay under.
pub const COMPONENT: &str = "hubble-sim";
/// Flows kept for `number`.
pub const RING: usize = 4096;
/// How often flows are generated.
const TICK: Duration = Duration::from_secs(1);

/// The flows of one cluster: the ring and the live feed, updated together so a new
/// follower gets each flow exactly once.
struct Hub {
    ring: Mutex<VecDeque<pb::Flow>>,
    live: broadcast::Sender<pb::Flow>,
}

impl Hub {
    fn new() -> Self {
        Self {
            ring: Mutex::new(VecDeque::with_capacity(RING)),
            live: broadcast::Sender::new(RING),
        }
    }

    /// Keeps and sends `flows`, each marked as simulated.
    fn publish(&self, flows: Vec<pb::Flow>) {
        let Ok(mut ring) = self.ring.lock() else {
            return;
        };
        for flow in flows.into_iter().map(simulated) {
            // No follower is not an error.
            let _ = self.live.send(flow.clone());
            ring.push_back(flow);
            while ring.len() > RING {
                ring.pop_front();
            }
        }
    }

    /// The last `number` flows and a receiver of every later one.
    fn subscribe(&self, number: u64) -> (Vec<pb::Flow>, broadcast::Receiver<pb::Flow>) {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let skip = ring
            .len()
            .saturating_sub(usize::try_from(number).unwrap_or(usize::MAX));
        (
            ring.iter().skip(skip).cloned().collect(),
            self.live.subscribe(),
        )
    }
}

/// `flow` marked as made up by this relay.
fn simulated(mut flow: pb::Flow) -> pb::Flow {
    if !pb::is_simulated(&flow.node_labels) {
        flow.node_labels.push(SIMULATED_NODE_LABEL.to_owned());
    }
    flow
}

fn response(flow: pb::Flow) -> GetFlowsResponse {
    GetFlowsResponse {
        node_name: flow.node_name.clone(),
        time: flow.time,
        response_types: Some(get_flows_response::ResponseTypes::Flow(flow)),
    }
}

struct SimObserver {
    hub: Arc<Hub>,
}

#[tonic::async_trait]
impl Observer for SimObserver {
    type GetFlowsStream = Pin<Box<dyn Stream<Item = Result<GetFlowsResponse, Status>> + Send>>;

    async fn get_flows(
        &self,
        request: Request<GetFlowsRequest>,
    ) -> Result<Response<Self::GetFlowsStream>, Status> {
        let request = request.into_inner();
        let (history, live) = self.hub.subscribe(request.number);
        let history = futures::stream::iter(history);
        let stream: Self::GetFlowsStream = if request.follow {
            // A follower too slow for the feed skips what it missed, as Hubble's ring does.
            let live = BroadcastStream::new(live).filter_map(|f| async move { f.ok() });
            Box::pin(history.chain(live).map(|f| Ok(response(f))))
        } else {
            Box::pin(history.map(|f| Ok(response(f))))
        };
        Ok(Response::new(stream))
    }
}

/// A running simulated relay; stopped when dropped.
pub struct Relay {
    /// The cluster it simulates.
    pub cluster: String,
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    server: JoinHandle<()>,
    generator: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port and generates flows from each round of the cluster's
    /// load simulator (`observed`).
    pub async fn start(
        cluster: &str,
        mut observed: watch::Receiver<Arc<Observed>>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let hub = Arc::new(Hub::new());
        let name = cluster.to_owned();
        let server = tokio::spawn({
            let hub = hub.clone();
            async move {
                let served = tonic::transport::Server::builder()
                    .add_service(ObserverServer::new(SimObserver { hub }))
                    .serve_with_incoming(TcpListenerStream::new(listener))
                    .await;
                if let Err(e) = served {
                    eprintln!("lab: {COMPONENT} of cluster {name} on {addr} stopped: {e}");
                }
            }
        });
        let generator = tokio::spawn(async move {
            let mut flows = Flows::default();
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = observed.borrow_and_update().clone();
                hub.publish(flows.step(&now, Timestamp::now()));
            }
        });
        Ok(Self {
            cluster: cluster.to_owned(),
            addr,
            server,
            generator,
        })
    }

    /// Whether it stopped by itself (its server failed).
    pub fn stopped(&self) -> bool {
        self.server.is_finished() || self.generator.is_finished()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.server.abort();
        self.generator.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubble_api::observer_client::ObserverClient;

    fn flow(node: &str, seconds: i64) -> pb::Flow {
        pb::Flow {
            node_name: node.into(),
            time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_flows_and_followers_get_each_new_one_once() {
        let hub = Hub::new();
        hub.publish((0..RING as i64 + 10).map(|i| flow("n", i)).collect());
        let (history, mut live) = hub.subscribe(3);
        let seconds: Vec<i64> = history
            .iter()
            .filter_map(|f| f.time.map(|t| t.seconds))
            .collect();
        assert_eq!(seconds, [RING as i64 + 7, RING as i64 + 8, RING as i64 + 9]);
        assert!(
            history
                .iter()
                .all(|f| f.node_labels == [SIMULATED_NODE_LABEL]),
            "every flow is marked simulated, once"
        );
        assert_eq!(hub.subscribe(u64::MAX).0.len(), RING);
        assert!(hub.subscribe(0).0.is_empty());
        hub.publish(vec![flow("n", -1)]);
        assert_eq!(
            live.try_recv().ok().and_then(|f| f.time).map(|t| t.seconds),
            Some(-1)
        );
        assert!(live.try_recv().is_err());
    }

    #[test]
    fn flows_are_marked_simulated_once_keeping_their_node_labels() {
        let mut f = flow("dev-worker1", 1);
        f.node_labels = vec!["kubernetes.io/hostname=dev-worker1".into()];
        assert!(!pb::is_simulated(&f.node_labels), "a real node's labels");
        let marked = simulated(simulated(f));
        assert_eq!(
            marked.node_labels,
            ["kubernetes.io/hostname=dev-worker1", SIMULATED_NODE_LABEL]
        );
        assert!(pb::is_simulated(&marked.node_labels));
    }

    /// The relay over gRPC with the generated client: history first, then follow.
    #[tokio::test]
    async fn get_flows_sends_the_last_n_then_follows() {
        let (tx, rx) = watch::channel(Arc::new(Observed::default()));
        let relay = Relay::start("dev", rx).await.expect("relay");
        assert!(relay.addr.ip().is_loopback());
        drop(tx);
        let hub = Arc::new(Hub::new());
        hub.publish((1..=5).map(|i| flow("dev-worker1", i)).collect());
        // The relay's Observer on a hub the test fills, so the flows are known.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(ObserverServer::new(SimObserver { hub: hub.clone() }))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        let mut client = ObserverClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let mut once = client
            .get_flows(GetFlowsRequest {
                number: 2,
                follow: false,
            })
            .await
            .expect("flows")
            .into_inner();
        let mut got = Vec::new();
        while let Some(r) = once.message().await.expect("message") {
            got.push(r.time.map(|t| t.seconds));
        }
        assert_eq!(got, [Some(4), Some(5)], "without follow the stream ends");

        let mut follow = client
            .get_flows(GetFlowsRequest {
                number: 1,
                follow: true,
            })
            .await
            .expect("flows")
            .into_inner();
        let first = follow.message().await.expect("message").expect("flow");
        assert_eq!(
            (first.node_name.as_str(), first.time.map(|t| t.seconds)),
            ("dev-worker1", Some(5))
        );
        hub.publish(vec![flow("dev-worker1", 6)]);
        let next = tokio::time::timeout(Duration::from_secs(10), follow.message())
            .await
            .expect("in time")
            .expect("message")
            .expect("flow");
        assert_eq!(next.time.map(|t| t.seconds), Some(6));
        match next.response_types {
            Some(get_flows_response::ResponseTypes::Flow(f)) => {
                assert_eq!(f.node_name, "dev-worker1");
                assert!(
                    pb::is_simulated(&f.node_labels),
                    "the mark crosses the wire: {:?}",
                    f.node_labels
                );
            }
            None => panic!("no flow"),
        }
        server.abort();

        // The relay itself answers too (an empty cluster has no flows yet).
        let mut relay_client = ObserverClient::connect(format!("http://{}", relay.addr))
            .await
            .expect("connect to the relay");
        let mut none = relay_client
            .get_flows(GetFlowsRequest {
                number: 10,
                follow: false,
            })
            .await
            .expect("flows")
            .into_inner();
        assert!(none.message().await.expect("end").is_none());
        assert!(!relay.stopped());
    }
}
