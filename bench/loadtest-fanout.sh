#!/usr/bin/env bash
# Creates N LoadTests at once (default 200) across K target clusters (default 1) against a
# real platform and target control planes and prints, side by side: how long until every
# runner Job exists next to a plain client creating the same Jobs, the operator's latency per
# test (p50/p99), the API requests per test it made (the API servers' apiserver_request_total
# by verb and resource), its reconciles per test, CPU and memory; each figure then next to
# the one in bench/recorded.json. --limit L sets --max-tests-per-cluster (default: no
# queueing); --complete runs the runners (kwok) and waits until every test has finished.
#   bench/loadtest-fanout.sh
#   bench/loadtest-fanout.sh --tests 1000 --clusters 3 --limit 10 --complete
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo build --quiet --release -p operator --bin tart-operator --example loadtest_fanout
figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
TART_BENCH_FIGURES="$figures" TART_OPERATOR_BIN="${CARGO_TARGET_DIR:-target}/release/tart-operator" \
  "${CARGO_TARGET_DIR:-target}/release/examples/loadtest_fanout" "$@"
echo "next to bench/recorded.json:"
node --input-type=module -e '
import { readFileSync } from "node:fs";
import { recorded } from "./bench/recorded.mjs";
for (const [key, value] of Object.entries(JSON.parse(readFileSync(process.argv[1], "utf8"))))
  console.log(`  ${key.padEnd(44)} ${String(value).padStart(9)} ${recorded(key, value)}`);
' "$figures"
