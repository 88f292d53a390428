#!/usr/bin/env bash
# Regenerates tools/kube-bins/go.mod and go.sum for other versions of Kubernetes, etcd,
# kwok or metrics-server. The staging-module list is read from the k8s.io/kubernetes go.mod
# the proxy serves, so newly added staging modules are never forgotten.
#   scripts/update-kube-bins.sh [k8s-version] [etcd-version] [kwok-version] [metrics-server-version]
# Defaults: the versions in the current go.mod; etcd defaults to the one Kubernetes requires.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../tools/kube-bins"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
cur() { sed -n "s|^[[:space:]]*$1 \(v[^ ]*\).*|\1|p" go.mod | head -n1; }
k8s=${1:-$(cur k8s.io/kubernetes)}
kwok=${3:-$(cur sigs.k8s.io/kwok)}
ms=${4:-$(cur sigs.k8s.io/metrics-server)}
staging_version="v0.${k8s#v1.}"

upstream=$(go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
[[ -f $upstream ]] || { echo "cannot download k8s.io/kubernetes@$k8s" >&2; exit 1; }
etcd=${2:-$(sed -n 's|^[[:space:]]*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*|\1|p' "$upstream" | head -n1)}
mapfile -t staging < <(sed -n 's|^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*|\1|p' "$upstream")
echo "kubernetes $k8s (${#staging[@]} staging modules at $staging_version), etcd $etcd, kwok $kwok, metrics-server $ms" >&2

header=$(sed -n '1,/^module /p' go.mod | sed '$d')
{ printf '%s\n' "$header"; echo "module tart-infra.dev/tools/kube-bins"; echo; echo "go 1.26.0"; } > go.mod
rm -f go.sum
for m in "${staging[@]}"; do go mod edit -replace "$m=$m@$staging_version"; done
# go mod tidy cannot be used: metrics-server's test-only imports hit an ambiguous
# cloud.google.com/go import. `go get -tool` records exactly what the build needs.
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$k8s" "k8s.io/kubernetes/cmd/kube-controller-manager@$k8s" \
  "k8s.io/kubernetes/cmd/kube-scheduler@$k8s" "go.etcd.io/etcd/server/v3@$etcd" \
  "sigs.k8s.io/kwok/cmd/kwok@$kwok" "sigs.k8s.io/metrics-server/cmd/metrics-server@$ms"
echo "updated tools/kube-bins/go.mod; run scripts/build-kube-bins.sh" >&2
