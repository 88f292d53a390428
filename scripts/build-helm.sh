#!/usr/bin/env bash
# Builds helm from its Go module (helm.sh/helm/v4, version in tools/helm/go.mod) through the
# module proxy, into a cache directory outside the repository keyed by the wrapper module's
# content, as scripts/build-kube-bins.sh does for the Kubernetes binaries. Work already done
# is skipped. The last line on stdout is the helm binary's path.
#
#   scripts/build-helm.sh            # build or reuse, print the binary's path
#   scripts/build-helm.sh --print    # print the path only (no build)
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/tools/helm"
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}

# The version lives in go.mod; read it back so the stamp cannot drift from the build.
version=$(sed -n 's|^[[:space:]]*helm.sh/helm/v4 \(v[^ ]*\).*|\1|p' "$mod/go.mod" | head -n1)
[[ -n $version ]] || { echo "build-helm: cannot read the helm version from $mod/go.mod" >&2; exit 1; }

key=$(cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
out="$cache/helm-$version-$key"

if [[ ${1:-} == --print ]]; then echo "$out/helm"; exit 0; fi

if [[ -x $out/helm && -f $out/.complete ]]; then
  echo "build-helm: reusing $out" >&2
  echo "$out/helm"; exit 0
fi

command -v go >/dev/null || { echo "build-helm: 'go' not found on PATH; install Go 1.26 or newer" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$out"
cd "$mod"
step() { echo "build-helm: [$1/2] $2 ($(date +%H:%M:%S))" >&2; }

step 1 "downloading modules"
go mod download
step 2 "helm $version (cold: about 2 min on 2 cores)"
# What helm's Makefile stamps; without it `helm version` says only the minor ("v4.3").
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version \
-X helm.sh/helm/v4/internal/version.gitTreeState=clean" -o "$out/helm" helm.sh/helm/v4/cmd/helm

"$out/helm" version --short | sed 's|^|build-helm: helm |' >&2
touch "$out/.complete"
echo "$out/helm"
