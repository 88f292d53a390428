#!/usr/bin/env bash
# /api/v1/events with 100 SSE clients on loopback while pods churn at 50 changes/s in 2
# clusters of 500 pods (real API servers): bytes per client per minute against a snapshot
# re-fetch per change (measured in the same run) and their ratio, delivery latency p50/p99
# (pod write issued -> delta received), each next to the figure in bench/recorded.json.
#   bench/events.sh
#   TART_BENCH_CLIENTS=100 TART_BENCH_RATE=50 TART_BENCH_SECONDS=60 bench/events.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --quiet --release -p operator --bin tart-operator --example events_load
TART_OPERATOR_BIN="$target/release/tart-operator" "$target/release/examples/events_load"
