#!/usr/bin/env bash
# A cold CI run: clones HEAD and runs .ci/run with CI=true and every cache it fills empty
# (TART_INFRA_CACHE, GOMODCACHE, GOCACHE, CARGO_HOME, npm's cache), in a scratch directory,
# then prints each step's time and the total. Apt packages and rustup targets already on
# the machine stay installed (they are system-wide). Needs about 20 GB of free disk; the
# scratch directory is removed afterwards unless --keep.
#
#   bench/ci-cold.sh            # from the repository's root, about an hour on 2 cores
#   bench/ci-cold.sh --keep     # keep the scratch directory (its path is printed)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=false
case ${1:-} in
  "") ;;
  --keep) keep=true ;;
  *) echo "usage: bench/ci-cold.sh [--keep]" >&2; exit 2 ;;
esac

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tart-infra-cold.XXXXXX")
cleanup() {
  if $keep; then echo "ci-cold: kept $scratch" >&2; return; fi
  chmod -R u+w "$scratch" 2>/dev/null || true  # Go's module cache is read-only
  rm -rf "$scratch"
}
trap cleanup EXIT

git clone -q "$root" "$scratch/clone"
mkdir -p "$scratch/cargo-home"
echo "ci-cold: $(git -C "$scratch/clone" log --oneline -1), caches under $scratch" >&2
started=$(date +%s)
status=0
(
  cd "$scratch/clone"
  TART_INFRA_CACHE="$scratch/cache" GOMODCACHE="$scratch/gomod" GOCACHE="$scratch/gocache" \
    CARGO_HOME="$scratch/cargo-home" npm_config_cache="$scratch/npm" CI=true \
    bash .ci/run
) >"$scratch/log" 2>&1 || status=$?
total=$(( $(date +%s) - started ))

grep '^==> ' "$scratch/log" || true
if ((status)); then
  echo "ci-cold: .ci/run failed (exit $status) after ${total}s; last lines:" >&2
  tail -20 "$scratch/log" >&2
  keep=true
  exit "$status"
fi
echo "ci-cold: passed in ${total}s ($(( total / 60 )) min; the limit is 90 min)"
