#!/usr/bin/env bash
# One poll of the kubelet Summary API fallback: 20 nodes of 4 real API servers, each read
# through the node proxy from a stand-in kubelet; the time per poll, the API servers' CPU per
# read and the bytes of the answers.
#   bench/kubelet-summary.sh            (release build)
#   bench/kubelet-summary.sh --debug    (the debug build: quicker to build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
flag=(--release)
[[ ${1:-} == --debug ]] && flag=()
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo run --quiet "${flag[@]}" -p operator --example kubelet_summary_poll
