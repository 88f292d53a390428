#!/usr/bin/env bash
# The cost of ScalingExperiment sampling: 3 clusters x 20, then x 200 HPAs (--hpas) sampled every second for
# [minutes] (default 5) after an idle minute. Prints the operator's CPU time and memory
# per minute; memory must level off (the series are bounded).
#   bench/scaling-sampling.sh [minutes] [--hpas 20,200]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo build --quiet --release -p operator --bin tart-operator --example scaling_sampling
TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/release/tart-operator" \
  "${CARGO_TARGET_DIR:-target}/release/examples/scaling_sampling" "$@"
