#!/usr/bin/env bash
# Builds Gatekeeper's gator CLI from its Go module (github.com/open-policy-agent/gatekeeper/v3,
# version in tools/gator/go.mod) through the module proxy, into a cache directory outside the
# repository keyed by the wrapper module's content, as scripts/build-helm.sh does for helm.
# The tests run `gator verify` on the ConstraintTemplates of gitops/addons/gatekeeper.
# Work already done is skipped. The last line on stdout is the gator binary's path.
#
#   scripts/build-gator.sh            # build or reuse, print the binary's path
#   scripts/build-gator.sh --print    # print the path only (no build)
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/tools/gator"
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}

# The version lives in go.mod; read it back so the stamp cannot drift from the build.
version=$(sed -n 's|^[[:space:]]*github.com/open-policy-agent/gatekeeper/v3 \(v[^ ]*\).*|\1|p' "$mod/go.mod" | head -n1)
[[ -n $version ]] || { echo "build-gator: cannot read the gatekeeper version from $mod/go.mod" >&2; exit 1; }

key=$(cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
out="$cache/gator-$version-$key"

if [[ ${1:-} == --print ]]; then echo "$out/gator"; exit 0; fi

if [[ -x $out/gator && -f $out/.complete ]]; then
  echo "build-gator: reusing $out" >&2
  echo "$out/gator"; exit 0
fi

command -v go >/dev/null || { echo "build-gator: 'go' not found on PATH; install Go 1.26 or newer" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$out"
cd "$mod"
step() { echo "build-gator: [$1/2] $2 ($(date +%H:%M:%S))" >&2; }

step 1 "downloading modules"
go mod download
step 2 "gator $version (cold: about 400 CPU-seconds, 5 to 10 min on 2 cores)"
# What gatekeeper's Makefile stamps (LDFLAGS), so `gator --version` names the release.
go build -trimpath -ldflags "-s -w -X github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version=$version" \
  -o "$out/gator" github.com/open-policy-agent/gatekeeper/v3/cmd/gator

"$out/gator" --version | sed 's|^|build-gator: |' >&2
touch "$out/.complete"
echo "$out/gator"
