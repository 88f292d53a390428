#!/usr/bin/env bash
# The operator's API under abuse (bad tokens, slowloris, oversized and malformed bodies,
# event-stream floods) while a valid client measures its latency: p50/p99 per phase, what the
# attackers got, and the operator's memory before and after.
#   bench/abuse.sh            (release build)
#   bench/abuse.sh --debug    (the debug build: quicker to build, slower to answer)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
profile=release
[[ ${1:-} == --debug ]] && profile=debug
flag=(--release)
[[ $profile == debug ]] && flag=()
cargo build --quiet "${flag[@]}" -p operator --bin tart-operator --example abuse
TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/$profile/tart-operator" \
  "${CARGO_TARGET_DIR:-target}/$profile/examples/abuse"
