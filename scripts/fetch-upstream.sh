#!/usr/bin/env bash
# Downloads the upstream Helm charts and CRDs the tests install and render (Cilium, Istio,
# prometheus-operator, Argo CD) from their Go modules through the module proxy, checked
# against the checksum database and against the hashes in tools/upstream/versions, into a
# cache directory outside the repository keyed by that file and this script. Nothing is
# built and nothing is committed. Work already done is skipped. The last line on stdout is
# the directory:
#
#   cilium/chart/                     install/kubernetes/cilium/ (the Helm chart)
#   cilium/crds/*.yaml                pkg/k8s/apis/cilium.io/client/crds/{v2,v2alpha1}/
#   istio/charts/                     manifests/charts/ (base, istiod, gateway, ...)
#   istio/crds/crd-all.gen.yaml       manifests/charts/base/files/crd-all.gen.yaml
#   prometheus-operator/crds/*.yaml   example/prometheus-operator-crd/
#   argo-cd/install.yaml              manifests/install.yaml
#   argo-cd/crds/*.yaml               manifests/crds/ (without its kustomization.yaml)
#   metrics-server/chart/             charts/metrics-server/ (the Helm chart)
#   local-path/chart/                 deploy/chart/local-path-provisioner/ (local-path-provisioner)
#   sealed-secrets/chart/             helm/sealed-secrets/
#   sealed-secrets/crds/*.yaml        helm/sealed-secrets/crds/ (the SealedSecret CRD)
#   velero/crds/*.yaml                config/crd/v1/bases/ (Velero's CRDs)
#   velero/chart/                     charts/velero/ of vmware-tanzu/helm-charts
#   harbor/chart/                     the root of goharbor/harbor-helm (Chart.yaml, templates/, ...)
#   gatekeeper/chart/                 charts/gatekeeper/ (the Helm chart)
#   gatekeeper/crds/*.yaml            charts/gatekeeper/crds/ (also inside the chart)
#   gatekeeper/match/matchcrd_constant.go   pkg/target/ (the schema of a constraint's
#                                     spec.match, which Gatekeeper puts in the CRDs it
#                                     generates from ConstraintTemplates)
#   versions                          the tools/upstream/versions it was fetched with
#
#   scripts/fetch-upstream.sh            # fetch or reuse, print the directory
#   scripts/fetch-upstream.sh --print    # print the directory only (no download)
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra); the
# modules themselves stay in Go's module cache (GOMODCACHE).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
versions="$root/tools/upstream/versions"
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}

key=$(cat "$versions" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
out="$cache/upstream-$key"

if [[ ${1:-} == --print ]]; then echo "$out"; exit 0; fi

if [[ -f $out/.complete ]]; then
  echo "fetch-upstream: reusing $out" >&2
  echo "$out"; exit 0
fi

fail() { echo "fetch-upstream: $*" >&2; exit 1; }
command -v go >/dev/null || fail "'go' not found on PATH; install Go 1.26 or newer"

# Every download must be vouched for by the checksum database.
[[ $(GOTOOLCHAIN=local go env GOSUMDB) != off ]] \
  || fail "GOSUMDB=off would skip the checksum database; unset it"
for var in GONOSUMDB GOPRIVATE GOINSECURE; do
  value=$(GOTOOLCHAIN=local go env "$var")
  [[ -z $value ]] || fail "$var=$value may skip the checksum database for these modules; unset it (also in $(GOTOOLCHAIN=local go env GOENV))"
done

mapfile -t modules < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$versions")
[[ ${#modules[@]} -gt 0 ]] || fail "no modules in $versions"

rm -rf "$out"
mkdir -p "$out"
# Outside any module, so `go mod download MODULE@VERSION` touches no go.mod or go.sum.
cd "$root/tools/upstream"

field() { sed -n "s|^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$|\1|p" <<<"$2" | head -n1; }

# download NAME MODULE VERSION SUM TOOLCHAIN: prints the module's directory in the module cache.
download() {
  local json dir sum
  json=$(GOTOOLCHAIN=$5 go mod download -json "$2@$3") \
    || fail "downloading $2@$3 (GOTOOLCHAIN=$5) failed: $(field Error "$json")"
  sum=$(field Sum "$json")
  dir=$(field Dir "$json")
  [[ $sum == "$4" ]] || fail "$2@$3: the download's hash is $sum but tools/upstream/versions expects $4; \
if the version was changed on purpose, put the new hash there"
  [[ -d $dir ]] || fail "$2@$3: go mod download named no directory ($dir)"
  echo "$dir"
}

# take SRC DEST...: copies files or directories out of the (read-only) module cache.
take() {
  local dest=${*: -1}
  mkdir -p "$dest"
  cp -R "${@:1:$#-1}" "$dest"
  chmod -R u+w "$dest"
}

n=0
for line in "${modules[@]}"; do
  read -r name module version sum toolchain <<<"$line"
  [[ -n $toolchain ]] || fail "line '$line' of $versions needs five fields: name module version sum toolchain"
  n=$((n + 1))
  echo "fetch-upstream: [$n/${#modules[@]}] $name: $module@$version ($(date +%H:%M:%S))" >&2
  dir=$(download "$name" "$module" "$version" "$sum" "$toolchain")
  case $name in
    cilium)
      take "$dir/install/kubernetes/cilium/." "$out/cilium/chart"
      take "$dir"/pkg/k8s/apis/cilium.io/client/crds/{v2,v2alpha1}/*.yaml "$out/cilium/crds"
      ;;
    istio)
      take "$dir/manifests/charts/." "$out/istio/charts"
      take "$dir/manifests/charts/base/files/crd-all.gen.yaml" "$out/istio/crds"
      ;;
    prometheus-operator)
      take "$dir"/example/prometheus-operator-crd/*.yaml "$out/prometheus-operator/crds"
      ;;
    metrics-server)
      take "$dir/charts/metrics-server/." "$out/metrics-server/chart"
      ;;
    gatekeeper)
      take "$dir/charts/gatekeeper/." "$out/gatekeeper/chart"
      take "$dir"/charts/gatekeeper/crds/*.yaml "$out/gatekeeper/crds"
      take "$dir/pkg/target/matchcrd_constant.go" "$out/gatekeeper/match"
      ;;
    argo-cd)
      take "$dir/manifests/install.yaml" "$out/argo-cd"
      take "$dir"/manifests/crds/*-crd.yaml "$out/argo-cd/crds"
      ;;
    local-path)
      take "$dir/deploy/chart/local-path-provisioner/." "$out/local-path/chart"
      ;;
    sealed-secrets)
      take "$dir/helm/sealed-secrets/." "$out/sealed-secrets/chart"
      take "$dir"/helm/sealed-secrets/crds/*.yaml "$out/sealed-secrets/crds"
      ;;
    velero)
      take "$dir"/config/crd/v1/bases/*.yaml "$out/velero/crds"
      ;;
    velero-chart)
      take "$dir/charts/velero/." "$out/velero/chart"
      ;;
    harbor)
      take "$dir"/{Chart.yaml,values.yaml,templates} "$out/harbor/chart"
      ;;
    *) fail "$versions names '$name', which this script does not know what to take from" ;;
  esac
done

cp "$versions" "$out/versions"
echo "fetch-upstream: $(du -sh "$out" | cut -f1) in $out" >&2
touch "$out/.complete"
echo "$out"
