#!/usr/bin/env bash
# The dashboard: initial JS bundle size (gzip) and the time to the first render of the
# Overview and of a Cluster page with 4 clusters of 5 000 pods each (real API servers, the
# operator serving the built dashboard), in headless Chromium, median of 5 cold loads, each
# figure next to the one in bench/recorded.json.
#   bench/dashboard.sh [pods per cluster, default 5000]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v chromium >/dev/null || { sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo; $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null; }
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
(cd dashboard && { [[ -d node_modules ]] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build -- --logLevel warn)
cargo build --quiet --release -p operator --bin tart-operator --example snapshot_load
TART_BENCH_PODS="${1:-5000}" TART_BENCH_DASHBOARD="$PWD/dashboard" TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/release/tart-operator" \
  "${CARGO_TARGET_DIR:-target}/release/examples/snapshot_load"
