//! Traffic from Hubble Relay: the operator's gRPC client against a local Observer server
//! that speaks the same wire format (built from the same proto), reached at an address from
//! the settings; and a cluster without Hubble saying so.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;

use anyhow::{Result, ensure};
use futures::Stream;
use local_control_plane::{ControlPlane, Options, apply_yaml};
use operator::hubble_api::observer_server::{Observer, ObserverServer};
use operator::hubble_api::{self as pb, GetFlowsRequest, GetFlowsResponse, get_flows_response};
use serde_json::Value;
use support::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// A test Observer: answers GetFlows with the flows the test sends it, and records requests.
struct TestObserver {
    flows: std::sync::Mutex<Option<mpsc::Receiver<Result<GetFlowsResponse, Status>>>>,
    requests: mpsc::UnboundedSender<GetFlowsRequest>,
}

#[tonic::async_trait]
impl Observer for TestObserver {
    type GetFlowsStream = Pin<Box<dyn Stream<Item = Result<GetFlowsResponse, Status>> + Send>>;

    async fn get_flows(
        &self,
        request: Request<GetFlowsRequest>,
    ) -> Result<Response<Self::GetFlowsStream>, Status> {
        let _ = self.requests.send(request.into_inner());
        let rx = self
            .flows
            .lock()
            .ok()
            .and_then(|mut f| f.take())
            .ok_or_else(|| Status::unavailable("one stream at a time"))?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn endpoint(namespace: &str, pod: &str, identity: u32) -> Option<pb::Endpoint> {
    Some(pb::Endpoint {
        identity,
        namespace: namespace.into(),
        pod_name: pod.into(),
        ..Default::default()
    })
}

/// A TCP flow to port 80, with an HTTP record when `http`.
fn flow(
    src: &Option<pb::Endpoint>,
    dst: &Option<pb::Endpoint>,
    verdict: pb::Verdict,
    http: bool,
) -> GetFlowsResponse {
    GetFlowsResponse {
        response_types: Some(get_flows_response::ResponseTypes::Flow(pb::Flow {
            time: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            verdict: verdict as i32,
            node_name: "dev-worker1".into(),
            l4: Some(pb::Layer4 {
                protocol: Some(pb::layer4::Protocol::Tcp(pb::Tcp {
                    source_port: 40000,
                    destination_port: 80,
                })),
            }),
            l7: http.then(|| pb::Layer7 {
                r#type: 1,
                latency_ns: 0,
                record: Some(pb::layer7::Record::Http(pb::Http {
                    code: 200,
                    method: "GET".into(),
                    url: "/get".into(),
                    protocol: "HTTP/1.1".into(),
                })),
            }),
            source: src.clone(),
            destination: dst.clone(),
            ..Default::default()
        })),
        node_name: "dev-worker1".into(),
        time: None,
    }
}

/// A test Observer serving on loopback: the test sends it flows and sees its requests.
struct Relay {
    addr: SocketAddr,
    flows: mpsc::Sender<Result<GetFlowsResponse, Status>>,
    requests: mpsc::UnboundedReceiver<GetFlowsRequest>,
}

async fn start_relay() -> Result<Relay> {
    let (flows, flows_rx) = mpsc::channel(16);
    let (requests_tx, requests) = mpsc::unbounded_channel();
    let observer = TestObserver {
        flows: std::sync::Mutex::new(Some(flows_rx)),
        requests: requests_tx,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ObserverServer::new(observer))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Ok(Relay {
        addr,
        flows,
        requests,
    })
}

/// Polls a cluster's traffic view until `check` accepts it.
async fn traffic(env: &Env, cluster: &str, check: impl Fn(&Value) -> bool) -> Result<Value> {
    Http::new(env.port)
        .eventually(
            &format!("/api/v1/clusters/{cluster}/traffic"),
            env.token(),
            &format!("the traffic of {cluster}"),
            check,
        )
        .await
}

#[tokio::test]
async fn flows_stream_from_hubble_relay_into_edges() -> Result<()> {
    let mut relay = start_relay().await?;
    let dev = ControlPlane::start(Options::apiserver("dev")).await?;
    let hubble = HashMap::from([("dev".to_owned(), relay.addr.to_string())]);
    let env = Env::around(dev, fast_settings(), hubble).await?;

    let request = tokio::time::timeout(WAIT, relay.requests.recv()).await?;
    ensure!(
        request
            .as_ref()
            .is_some_and(|r| r.number == 200 && r.follow),
        "{request:?}"
    );

    let runner = endpoint(
        "tart-loadtest",
        "lt-light-load-abc12-3f9a1c2b7e-4kq2z",
        52107,
    );
    let nginx = endpoint("demo", "nginx-web-5d8f9c7b6d-x2x9q", 40001);
    let httpbin = endpoint("demo", "httpbin-7b9c5f6d8-qw3er", 40002);
    for f in [
        flow(&runner, &nginx, pb::Verdict::Forwarded, false),
        flow(&runner, &nginx, pb::Verdict::Forwarded, false),
        flow(&nginx, &httpbin, pb::Verdict::Forwarded, true),
        flow(&runner, &httpbin, pb::Verdict::Dropped, false),
        flow(&endpoint("", "", 2), &nginx, pb::Verdict::Forwarded, false),
    ] {
        relay.flows.send(Ok(f)).await?;
    }
    let view = traffic(&env, "dev", |v| {
        v["flows"].as_array().is_some_and(|f| f.len() == 5)
    })
    .await?;
    ensure!(
        view["available"] == true && view["source"] == format!("address {}", relay.addr),
        "{view:#}"
    );
    ensure!(view["forwarded"] == 4 && view["dropped"] == 1, "{view:#}");
    let edges = view["edges"].as_array().cloned().unwrap_or_default();
    let edge = |s: &str, d: &str| {
        edges
            .iter()
            .find(|e| e["source"] == s && e["destination"] == d)
            .cloned()
    };
    let load = edge("tart-loadtest/lt-light-load-abc12", "demo/nginx-web")
        .ok_or_else(|| anyhow::anyhow!("load edge in {edges:#?}"))?;
    ensure!(
        load["flowCount"] == 2
            && load["forwardedCount"] == 2
            && load["protocols"] == serde_json::json!(["TCP"])
    );
    let denied = edge("tart-loadtest/lt-light-load-abc12", "demo/httpbin")
        .ok_or_else(|| anyhow::anyhow!("denied edge"))?;
    ensure!(denied["droppedCount"] == 1);
    ensure!(
        edge("demo/nginx-web", "demo/httpbin")
            .is_some_and(|e| e["protocols"] == serde_json::json!(["TCP/HTTP"]))
    );
    ensure!(
        edge("cluster/world", "demo/nginx-web").is_some(),
        "reserved identities map to names"
    );

    // New flows keep arriving on the same stream (follow).
    relay
        .flows
        .send(Ok(flow(&nginx, &httpbin, pb::Verdict::Forwarded, true)))
        .await?;
    traffic(&env, "dev", |v| {
        v["flows"].as_array().is_some_and(|f| f.len() == 6)
    })
    .await?;

    // The platform cluster has no Hubble Relay here: it says so.
    let platform_traffic = traffic(&env, "platform", |v| v["message"].is_string()).await?;
    ensure!(
        platform_traffic["available"] == false,
        "{platform_traffic:#}"
    );
    ensure!(
        platform_traffic["message"]
            .as_str()
            .is_some_and(|m| m.contains("no Hubble Relay")),
        "{platform_traffic:#}"
    );
    Ok(())
}

#[tokio::test]
async fn hubble_relay_is_reached_through_a_port_forward() -> Result<()> {
    let mut relay = start_relay().await?;

    // kwok plays the kubelet: a port-forward to kube-system/hubble-relay-test:4245 reaches
    // the test Observer on loopback.
    let forward = format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: PortForward\nmetadata: {{name: hubble-relay-test, namespace: kube-system}}\n\
         spec:\n  forwards:\n  - ports: [4245]\n    target: {{port: {}, address: 127.0.0.1}}\n",
        relay.addr.port()
    );
    let mut options = Options::cluster("dev");
    options.kwok_config.push(forward);
    let dev = ControlPlane::start(options).await?;
    apply_yaml(
        &dev.client().await?,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: hubble-relay-test, namespace: kube-system, labels: {k8s-app: hubble-relay}}\n\
         spec:\n  containers: [{name: hubble-relay, image: 'quay.io/cilium/hubble-relay:v1.16.5', ports: [{containerPort: 4245}]}]\n",
        "kube-system",
    )
    .await?;
    let env = Env::around(dev, fast_settings(), HashMap::new()).await?;

    let request = tokio::time::timeout(WAIT, relay.requests.recv()).await?;
    ensure!(
        request.is_some_and(|r| r.follow),
        "the relay was never asked for flows"
    );
    let nginx = endpoint("demo", "nginx-web-5d8f9c7b6d-x2x9q", 40001);
    let httpbin = endpoint("demo", "httpbin-7b9c5f6d8-qw3er", 40002);
    relay
        .flows
        .send(Ok(flow(&nginx, &httpbin, pb::Verdict::Forwarded, true)))
        .await?;
    let view = traffic(&env, "dev", |v| {
        v["flows"].as_array().is_some_and(|f| f.len() == 1)
    })
    .await?;
    ensure!(
        view["source"] == "port-forward kube-system/hubble-relay-test:4245",
        "{view:#}"
    );
    ensure!(
        view["edges"][0]["source"] == "demo/nginx-web"
            && view["edges"][0]["destination"] == "demo/httpbin",
        "{view:#}"
    );
    Ok(())
}
