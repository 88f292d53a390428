#!/usr/bin/env bash
# One poll of the nodes' disk and network from node-exporter's series in Prometheus (four
# batched queries for every cluster): the time per poll against Debian's real Prometheus
# scraping Debian's real node-exporter as 20 nodes of 4 clusters, and the bytes one node's
# figures add to the snapshot and to the cluster's answer (with the sparklines' history).
#   bench/node-figures.sh            (release build)
#   bench/node-figures.sh --debug    (the debug build: quicker to build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
flag=(--release)
[[ ${1:-} == --debug ]] && flag=()
cargo run --quiet "${flag[@]}" -p operator --example node_figures_poll
