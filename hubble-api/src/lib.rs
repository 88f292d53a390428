//! Hubble's Observer API (the part of cilium/cilium `api/v1/observer` and `api/v1/flow` this
//! project reads), generated from `proto/observer.proto`: the client the operator's traffic
//! collector streams flows with, and the server the lab's simulated relay and the operator's
//! tests answer with. One crate so the proto is compiled once and both sides speak the same
//! generated types.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("observer");

/// The node label the lab's simulated Hubble Relay puts in `Flow.node_labels` of every
/// flow it makes up. Cilium fills that field with the observing node's Kubernetes labels
/// (`key=value`); no real node carries a label in tartinfra.dev's name space, so flows from
/// a real relay never have it, and the operator shows the flows that do as simulated.
pub const SIMULATED_NODE_LABEL: &str = "tartinfra.dev/simulated=true";

/// Whether a flow was made up by the lab's simulated relay (see [`SIMULATED_NODE_LABEL`]).
pub fn is_simulated(node_labels: &[String]) -> bool {
    node_labels.iter().any(|l| l == SIMULATED_NODE_LABEL)
}
