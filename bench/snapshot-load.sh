#!/usr/bin/env bash
# /api/v1/snapshot under wrk with 4 simulated clusters of 500 pods each: requests per
# second, p50/p99 latency, the operator's memory, and one LIST of the same pods from the
# API servers for comparison.
#   bench/snapshot-load.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo; $sudo apt-get install -y -q wrk >/dev/null; }
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo build --quiet --release -p operator --bin tart-operator --example snapshot_load
TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/release/tart-operator" \
  "${CARGO_TARGET_DIR:-target}/release/examples/snapshot_load"
