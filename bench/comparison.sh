#!/usr/bin/env bash
# The cost of a run comparison (operator/src/controllers/comparison.rs): picking the newest
# finished run with the same labels among 100 to 20 000 candidates and comparing the metrics.
# Prints the time per comparison; a reconcile does it once per finished run with a baseline.
#   bench/comparison.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run --quiet --release -p operator --example comparison_pick
