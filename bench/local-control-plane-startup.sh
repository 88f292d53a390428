#!/usr/bin/env bash
# Prints the test harness's start-up time (until kube-apiserver /readyz answers, and until
# every requested component is usable) and its memory, over several runs.
#   bench/local-control-plane-startup.sh [runs]      (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/build-kube-bins.sh >/dev/null
cargo run --quiet --release -p local-control-plane --example startup -- "${1:-5}"
