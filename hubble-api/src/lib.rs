//! Hubble's Observer API (the part of cilium/cilium `api/v1/observer` and `api/v1/flow` this
//! project reads), generated from `proto/observer.proto`: the client the operator's traffic
//! collector streams flows with, and the server the lab's simulated relay and the operator's
//! tests answer with. One crate so the proto is compiled once and both sides speak the same
//! generated types.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("observer");
