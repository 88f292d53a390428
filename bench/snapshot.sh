#!/usr/bin/env bash
# /api/v1/snapshot under wrk with 4 simulated clusters of 500 and of 5 000 pods each: full
# answers, brotli-encoded answers and revalidations (304), the operator's memory, and side by
# side in the same run (a) the same pods LISTed from the four API servers for every answer,
# (b) the operator at an older revision (default e98da17, the last that built every answer per
# request; its release binary is built once into the cache). Each figure is printed next to
# the one in bench/recorded.json.
#   bench/snapshot.sh [pods per cluster ...]     # default: 500 5000
#   TART_BENCH_BASELINE=<rev>|none bench/snapshot.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v wrk >/dev/null || { sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo; $sudo apt-get install -y -q wrk >/dev/null; }
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
target=${CARGO_TARGET_DIR:-$PWD/target}
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}
baseline=${TART_BENCH_BASELINE:-e98da17}
if [[ $baseline != none ]]; then
  rev=$(git rev-parse --short "$baseline^{commit}")
  old="$cache/bench-baseline/tart-operator-$rev"
  if [[ ! -x $old ]]; then
    echo "building the operator at $rev once (release; its own target dir, hard-linked from this one)..." >&2
    tree=$(mktemp -d) && git worktree add -q --detach "$tree" "$rev"
    btarget="$cache/bench-baseline/target"
    [[ -d $btarget/release || ! -d $target/release ]] || { mkdir -p "$btarget"; cp -al "$target/release" "$btarget/release"; }
    (cd "$tree" && CARGO_TARGET_DIR=$btarget cargo build --quiet --release -p operator --bin tart-operator)
    mkdir -p "$(dirname "$old")" && cp "$btarget/release/tart-operator" "$old"
    git worktree remove --force "$tree"
  fi
  export TART_BENCH_BASELINE_BIN=$old TART_BENCH_BASELINE=$rev
fi
cargo build --quiet --release -p operator --bin tart-operator --example snapshot_load
for pods in "${@:-500 5000}"; do
  for n in $pods; do
    TART_BENCH_PODS=$n TART_OPERATOR_BIN="$target/release/tart-operator" "$target/release/examples/snapshot_load"
  done
done
