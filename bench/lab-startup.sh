#!/usr/bin/env bash
# Warm start-up of the four-cluster lab: seconds from `tart-infra lab up` until the
# operator's API reports every cluster Ready, and the resident memory of every process the
# lab runs (lab, 4 x control plane, operator) then and 30 s later. The first run starts
# from an empty state directory, the next ones reuse it (certificates, etcd data).
#   bench/lab-startup.sh [runs]      (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
cargo build --release --quiet -p host-agent -p operator --bins
bin="${CARGO_TARGET_DIR:-target}/release/tart-infra"
work=$(mktemp -d)
state="$work/lab"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap '"$bin" lab down --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

rss_mib() {
  "$bin" lab status --json --state-dir "$state" | python3 -c '
import json, sys
total = 0
for c in json.load(sys.stdin)["components"]:
    try:
        for line in open("/proc/%d/status" % c["pid"]):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    except OSError:
        pass
print(f"{total / 1024:.0f}")'
}

printf '%-6s %-8s %12s %14s %16s\n' run state "ready (s)" "RSS ready" "RSS +30 s"
for i in $(seq 1 "$runs"); do
  kind=$([[ $i -eq 1 ]] && echo fresh || echo reused)
  start=$(date +%s.%N)
  "$bin" lab up --json --state-dir "$state" --http-addr "127.0.0.1:$port" >"$work/out" 2>"$work/log" &
  up=$!
  for _ in $(seq 1 3000); do
    [[ -s "$work/out" ]] && break
    kill -0 "$up" 2>/dev/null || { cat "$work/log"; exit 1; }
    sleep 0.1
  done
  end=$(date +%s.%N)
  [[ -s "$work/out" ]] || { echo "lab not ready after 300 s"; cat "$work/log"; exit 1; }
  ready=$(python3 -c "print(f'{$end - $start:.1f}')")
  rss_ready=$(rss_mib)
  sleep 30
  rss_later=$(rss_mib)
  printf '%-6s %-8s %12s %10s MiB %12s MiB\n' "$i" "$kind" "$ready" "$rss_ready" "$rss_later"
  "$bin" lab down --state-dir "$state" >/dev/null 2>&1
  wait "$up" || true
done
