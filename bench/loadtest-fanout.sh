#!/usr/bin/env bash
# Creates 200 LoadTests at once against a real platform and target control plane and
# prints how long the operator takes until all 200 runner Jobs exist, its peak memory, and
# the time a plain client needs to create the same 200 Jobs.
#   bench/loadtest-fanout.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo build --quiet --release -p operator --bin tart-operator
TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/release/tart-operator" \
  cargo run --quiet --release -p operator --example loadtest_fanout
