#!/usr/bin/env bash
# Builds the operator's image (image/Containerfile) with buildah, FROM scratch, for
# linux/amd64 and linux/arm64 (the Mac's VMs), and checks each one: the image holds exactly
# the staged files, runs as user 65532, carries the version and source labels, and
# `tart-operator --help` runs from the image's own files (arm64 under qemu-user-static).
#
#   scripts/build-image.sh                 # both platforms, then the manifest list
#   scripts/build-image.sh --arch arm64    # one platform (repeat --arch for more)
#   scripts/build-image.sh --profile ci-image   # what CI builds: the same image from an
#                                          # unoptimised binary (Cargo.toml [profile.ci-image]),
#                                          # minutes instead of tens of minutes cold
#
# Tags (buildah's local storage): REPOSITORY:VERSION-ARCH per platform and the manifest list
# REPOSITORY:VERSION, where REPOSITORY is image.repository in charts/tart-operator/values.yaml
# and VERSION the chart's appVersion (which must equal the Cargo workspace's version), so
# the chart's default image is what this builds. To publish:
#   buildah manifest push --all REPOSITORY:VERSION docker://REPOSITORY:VERSION
#
# Needs: buildah, qemu-user-static, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (Debian
# packages; scripts/install-test-deps --image installs them), the rustup target
# aarch64-unknown-linux-gnu (added when missing), root (buildah's vfs storage), and the built
# dashboard (dashboard/dist: `npm run build` in dashboard/).
#
# Environment: TART_INFRA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra): buildah's
# storage is $TART_INFRA_CACHE/containers; CARGO_TARGET_DIR as for any cargo build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TART_INFRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tart-infra}
say() { echo "build-image: $*" >&2; }
fail() { say "$*"; exit 1; }

arches=()
profile=release
while (($#)); do
  case $1 in
    --profile)
      [[ ${2:-} =~ ^[a-z][a-z0-9-]*$ ]] || fail "--profile takes a Cargo profile name, not '${2:-}'"
      profile=$2; shift 2 ;;
    --arch)
      [[ ${2:-} == amd64 || ${2:-} == arm64 ]] || fail "--arch takes amd64 or arm64, not '${2:-}'"
      arches+=("$2"); shift 2 ;;
    *) fail "unknown argument '$1'; usage: scripts/build-image.sh [--arch amd64|arm64]... [--profile release|ci-image]" ;;
  esac
done
((${#arches[@]})) || arches=(amd64 arm64)

for tool in buildah cargo readelf; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed; run scripts/install-test-deps --image"
done
[[ $(id -u) == 0 ]] || fail "buildah's vfs storage needs root here; run as root"

# One source for each name: the chart says what it deploys, Cargo what it builds.
chart="$root/charts/tart-operator"
version=$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$chart/Chart.yaml")
repository=$(awk '/^image:/ {inside=1; next} /^[^[:space:]#]/ {inside=0}
  inside && $1 == "repository:" {print $2; exit}' "$chart/values.yaml")
cargo_version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
source=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^repository = "\(.*\)"/\1/p' "$root/Cargo.toml")
[[ -n $version && -n $repository && -n $source ]] \
  || fail "cannot read appVersion from $chart/Chart.yaml, image.repository from $chart/values.yaml or repository from Cargo.toml"
[[ $version == "$cargo_version" ]] \
  || fail "the chart's appVersion $version is not the Cargo workspace's version $cargo_version; make them equal"
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)

dashboard="$root/dashboard/dist"
[[ -f $dashboard/index.html ]] || fail "$dashboard/index.html is missing; run 'npm ci && npm run build' in dashboard/"

export CONTAINERS_STORAGE_CONF=${CONTAINERS_STORAGE_CONF:-$cache/containers/storage.conf}
mkdir -p "$cache/containers"
[[ -f $CONTAINERS_STORAGE_CONF ]] || cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$cache/containers/storage"
runroot = "$cache/containers/run"
EOF

work=$(mktemp -d)
cleanup() {
  [[ -n ${container:-} ]] && { buildah umount "$container" >/dev/null 2>&1; buildah rm "$container" >/dev/null 2>&1; }
  rm -rf "$work"
}
trap cleanup EXIT

# The files one library or binary needs, transitively: its DT_NEEDED entries and its
# interpreter, found under the platform's library directories ($1: sysroot lib dirs, $2: file).
needed() {
  local dirs=$1 file=$2 lib dir
  for lib in $(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    for dir in $dirs; do
      if [[ -e $dir/$lib ]]; then echo "$dir/$lib"; break; fi
    done || true
  done
}

stage() {
  local arch=$1 triple libdirs libdest interp binary rootfs
  # libdirs: where this machine has the platform's glibc; libdest: the multiarch directory
  # the platform's loader searches by default.
  case $arch in
    amd64) triple=x86_64-unknown-linux-gnu; libdirs="/lib/x86_64-linux-gnu /lib64"; libdest=/lib/x86_64-linux-gnu ;;
    arm64) triple=aarch64-unknown-linux-gnu; libdirs="/usr/aarch64-linux-gnu/lib"; libdest=/lib/aarch64-linux-gnu
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
      export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
      command -v aarch64-linux-gnu-gcc >/dev/null || fail "aarch64-linux-gnu-gcc is missing; run scripts/install-test-deps --image"
      if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$triple"; then
        say "adding the rustup target $triple"; rustup target add "$triple"
      fi ;;
  esac
  say "[$arch] cargo build --profile $profile --target $triple ($(date +%H:%M:%S); cold: many minutes)"
  (cd "$root" && cargo build --quiet --locked --profile "$profile" -p operator --bin tart-operator --target "$triple")
  local out_dir=$profile
  [[ $profile == dev ]] && out_dir=debug
  binary="${CARGO_TARGET_DIR:-$root/target}/$triple/$out_dir/tart-operator"

  rootfs="$work/$arch/rootfs"
  install -D -m 0755 "$binary" "$rootfs/usr/local/bin/tart-operator"
  # The interpreter at the path the binary asks for, then every library it needs.
  interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  [[ -n $interp ]] || fail "[$arch] $binary names no program interpreter"
  local found="" queue=("$binary") file lib
  for dir in $libdirs; do
    [[ -e $dir/$(basename "$interp") ]] && { install -D -m 0755 "$(readlink -f "$dir/$(basename "$interp")")" "$rootfs$interp"; break; }
  done
  [[ -e $rootfs$interp ]] || fail "[$arch] the interpreter $interp is not under $libdirs"
  while ((${#queue[@]})); do
    file=${queue[0]}; queue=("${queue[@]:1}")
    for lib in $(needed "$libdirs" "$file"); do
      # The loader is already in place, at the path the binary asks for.
      [[ " $found " == *" $lib "* || $(basename "$lib") == "$(basename "$interp")" ]] && continue
      found+=" $lib"
      install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$libdest/$(basename "$lib")"
      queue+=("$lib")
    done
  done
  for lib in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ -e $rootfs$libdest/$lib || $interp == */$lib ]] || fail "[$arch] $lib, which the binary needs, is not under $libdirs"
  done
  mkdir -p "$rootfs/usr/share/tart-operator"
  cp -r "$dashboard" "$rootfs/usr/share/tart-operator/dashboard"
  # Source maps are for debugging the dashboard's build, not for serving it.
  find "$rootfs/usr/share/tart-operator/dashboard" -name '*.map' -delete
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/:/sbin/nologin\ntart-operator:x:65532:65532:tart-operator:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\ntart-operator:x:65532:\n' >"$rootfs/etc/group"
  # /etc/hosts first (the kubelet writes it, with the Pod's hostAliases), then DNS.
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  chmod -R a+rX,go-w "$rootfs"
}

build() {
  local arch=$1 tag="$repository:$version-$arch"
  cp "$root/image/Containerfile" "$work/$arch/Containerfile"
  say "[$arch] buildah bud -> $tag"
  buildah bud --quiet --platform "linux/$arch" \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$source" \
    -f "$work/$arch/Containerfile" -t "$tag" "$work/$arch" >/dev/null
}

# The built image, checked from its own config and files.
check() {
  local arch=$1 tag="$repository:$version-$arch" config mnt help expected actual size
  config=$(buildah inspect --type image --format \
    '{{.OCIv1.Architecture}} {{.OCIv1.Config.User}} {{index .OCIv1.Config.Labels "org.opencontainers.image.version"}} {{index .OCIv1.Config.Labels "org.opencontainers.image.source"}}' "$tag")
  [[ $config == "$arch 65532:65532 $version $source" ]] \
    || fail "[$arch] image config is '$config', wanted '$arch 65532:65532 $version $source'"
  container=$(buildah from --quiet --pull=never --arch "$arch" "$tag")
  mnt=$(buildah mount "$container")
  expected=$(cd "$work/$arch/rootfs" && find . | sort)
  actual=$(cd "$mnt" && find . | sort)
  [[ $expected == "$actual" ]] || fail "[$arch] the image's files differ from the staged ones: $(diff <(echo "$expected") <(echo "$actual") | head -5)"
  size=$(du -sh "$mnt" | cut -f1)
  # Run as the image's user, from the image's files only: chroot into the image, so the
  # loader and libraries are the image's; for arm64 through qemu-user-static copied into this
  # throwaway container (after the file check above), so no binfmt handler is needed.
  case $arch in
    amd64) help=$(chroot --userspec=65532:65532 "$mnt" /usr/local/bin/tart-operator --help 2>&1) \
      || fail "[$arch] tart-operator --help failed in the image: $help" ;;
    arm64) command -v qemu-aarch64-static >/dev/null || fail "qemu-aarch64-static is missing; run scripts/install-test-deps --image"
      cp "$(command -v qemu-aarch64-static)" "$mnt/qemu-aarch64-static"
      help=$(chroot --userspec=65532:65532 "$mnt" /qemu-aarch64-static /usr/local/bin/tart-operator --help 2>&1) \
        || fail "[$arch] tart-operator --help failed in the image under qemu: $help" ;;
  esac
  grep -q -- "--leader-elect" <<<"$help" || fail "[$arch] tart-operator --help did not print its flags: $help"
  say "[$arch] ok: $size on disk, $(echo "$actual" | wc -l) paths, user 65532, tart-operator --help runs"
  buildah umount "$container" >/dev/null; buildah rm "$container" >/dev/null; container=""
}

for arch in "${arches[@]}"; do stage "$arch"; build "$arch"; check "$arch"; done

if ((${#arches[@]} == 2)); then
  list="$repository:$version"
  buildah manifest rm "$list" >/dev/null 2>&1 || true
  buildah manifest create "$list" >/dev/null
  for arch in "${arches[@]}"; do
    buildah manifest add "$list" "containers-storage:$repository:$version-$arch" >/dev/null
  done
  say "manifest list $list: $(buildah manifest inspect "$list" | grep -c '"architecture"') platforms"
fi
# Earlier builds' layers, now untagged.
buildah rmi --prune >/dev/null 2>&1 || true
echo "$repository:$version"
