#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok, metrics-server) from their Go modules through the module
# proxy, into a cache directory outside the repository keyed by the wrapper module's
# content. Work already done is skipped. The last line on stdout is the directory.
#
#   scripts/build-kube-bins.sh            # build or reuse, print the directory
#   scripts/build-kube-bins.sh --print    # print the directory only (no build)
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/tools/kube-bins"
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}

# The versions live in go.mod; read them back so the stamps cannot drift from the build.
modver() { sed -n "s|^[[:space:]]*$1 \(v[^ ]*\).*|\1|p" "$mod/go.mod" | head -n1; }
k8s=$(modver 'k8s.io/kubernetes')
ms=$(modver 'sigs.k8s.io/metrics-server')
[[ -n $k8s && -n $ms ]] || { echo "build-kube-bins: cannot read versions from $mod/go.mod" >&2; exit 1; }

key=$(cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
out="$cache/kube-bins-$k8s-$key"
bins=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok metrics-server)

if [[ ${1:-} == --print ]]; then echo "$out"; exit 0; fi

complete() { for b in "${bins[@]}"; do [[ -x $out/$b ]] || return 1; done; [[ -f $out/.complete ]]; }
if complete; then
  echo "build-kube-bins: reusing $out" >&2
  echo "$out"; exit 0
fi

command -v go >/dev/null || { echo "build-kube-bins: 'go' not found on PATH; install Go 1.26 or newer" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$out"
cd "$mod"

minor=${k8s#v1.}; minor=${minor%%.*}
stamp() { # component-base and client-go version variables, as hack/lib/version.sh sets them
  local v=$1 maj=$2 min=$3
  echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=$maj \
-X k8s.io/component-base/version.gitMinor=$min -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=$maj \
-X k8s.io/client-go/pkg/version.gitMinor=$min -X k8s.io/client-go/pkg/version.gitTreeState=clean"
}
flags=(-trimpath -tags selinux,notest,grpcnotrace)
step() { echo "build-kube-bins: [$1/4] $2 ($(date +%H:%M:%S))" >&2; }

step 1 "downloading modules"
go mod download
step 2 "kube-apiserver, kube-controller-manager, kube-scheduler $k8s (cold: 20-40 min on 2 cores)"
go build "${flags[@]}" -ldflags "-s -w $(stamp "$k8s" 1 "$minor")" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler
step 3 "etcd and kwok"
go build "${flags[@]}" -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
go build "${flags[@]}" -ldflags "-s -w" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
step 4 "metrics-server $ms"
msminor=${ms#v0.}; msminor=${msminor%%.*}
go build "${flags[@]}" -ldflags "-s -w $(stamp "$ms" 0 "$msminor")" -o "$out/metrics-server" \
  sigs.k8s.io/metrics-server/cmd/metrics-server

# kwok has no built-in stages; keep the upstream ones next to the binaries (generated
# from the module cache at build time, never committed).
kwokdir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
mkdir -p "$out/kwok-stages"
cp "$kwokdir"/kustomize/stage/node/fast/node-initialize.yaml \
   "$kwokdir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
   "$kwokdir"/kustomize/stage/pod/fast/pod-ready.yaml \
   "$kwokdir"/kustomize/stage/pod/fast/pod-complete.yaml \
   "$kwokdir"/kustomize/stage/pod/fast/pod-delete.yaml \
   "$kwokdir"/kustomize/metrics/resource/metrics-resource.yaml \
   "$kwokdir"/kustomize/metrics/usage/usage-from-annotation.yaml "$out/kwok-stages/"
chmod u+w "$out"/kwok-stages/*

for b in "${bins[@]}"; do "$out/$b" --version 2>&1 | head -n1 | sed "s|^|build-kube-bins: $b: |" >&2 || true; done
touch "$out/.complete"
echo "$out"
