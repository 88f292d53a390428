#!/usr/bin/env bash
# Builds etcdctl and etcdutl (the etcd release of tools/etcd-tools/go.mod) from their Go
# modules through the module proxy, into a cache directory outside the repository keyed by
# that module's content. The etcd snapshot test runs the shipped CronJob's commands with
# them against a real etcd. Work already done is skipped. The last line on stdout is the
# directory.
#
#   scripts/build-etcd-tools.sh            # build or reuse, print the directory
#   scripts/build-etcd-tools.sh --print    # print the directory only (no build)
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/tools/etcd-tools"
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}
key=$(cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
out="$cache/etcd-tools-$key"
bins=(etcdctl etcdutl)

if [[ ${1:-} == --print ]]; then echo "$out"; exit 0; fi
complete() { for b in "${bins[@]}"; do [[ -x $out/$b ]] || return 1; done; }
if complete; then
  echo "build-etcd-tools: reusing $out" >&2
  echo "$out"; exit 0
fi

command -v go >/dev/null || { echo "build-etcd-tools: 'go' not found on PATH; install Go 1.26 or newer" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$out"
cd "$mod"
echo "build-etcd-tools: etcdctl and etcdutl ($(date +%H:%M:%S))" >&2
go build -trimpath -ldflags "-s -w" -o "$out/" go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
for b in "${bins[@]}"; do "$out/$b" version 2>&1 | head -n1 | sed "s|^|build-etcd-tools: $b: |" >&2 || true; done
echo "$out"
