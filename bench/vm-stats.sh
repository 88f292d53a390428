#!/usr/bin/env bash
# What following VMs costs the host agent: `tart-infra serve` against the tart TEST DOUBLE
# (tart-double/: each VM an sshd on 127.96.0.N standing in for a Tart VM on macOS) with VMS
# running VMs, their figures read every TICK seconds over one SSH session per VM. After a
# warm-up (every VM has a CPU percent), prints the agent's CPU time over SECS seconds
# (its own and its reaped children's: the `tart list` it runs every tick), its resident
# memory, and one VM's answer of GET /v1/stats. The figures are this machine's own /proc,
# df and ss as seen inside the double's namespaces.
#
#   bench/vm-stats.sh                 (as root: the double needs mount namespaces)
#   VMS=8 TICK=5 SECS=60 bench/vm-stats.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VMS=${VMS:-4} TICK=${TICK:-1} SECS=${SECS:-30}
[[ $(id -u) -eq 0 ]] || { echo "bench/vm-stats.sh: run it as root (the tart double uses mount namespaces)" >&2; exit 1; }
cargo build --quiet -p host-agent -p tart-double --bins
bin=${CARGO_TARGET_DIR:-target}/debug
work=$(mktemp -d)
export TART_HOME=$work/tart-home TART_DOUBLE_SUBNET=127.96.0
# TEST ONLY: a Mac big enough for VMS VMs (docs/mac-lab.md).
export TART_INFRA_TEST_HOST_FACTS='{"os":"macos","arch":"arm64","cpus":64,"memoryMiB":262144,"freeDiskGiB":1000}'
"$bin/tart-infra" serve --listen 127.0.0.1:0 --reserve-cpu 0 --reserve-memory-mib 0 \
  --state-dir "$work/serve" --tart-bin "$bin/tart" --stats-user root --stats-interval "$TICK" \
  >"$work/serve.log" 2>&1 &
serve=$!
cleanup() {
  kill "$serve" 2>/dev/null || true
  for vm in $("$bin/tart" list -q --source local 2>/dev/null); do "$bin/tart" stop "$vm" --timeout 5 >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 300); do [[ -s $work/serve/serve.json ]] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/serve/serve.json")
token=$(cat "$work/serve/token")
# -k: the agent's self-signed certificate on loopback (AgentClient pins its fingerprint).
api() { curl -sfk -H "Authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
for i in $(seq "$VMS"); do
  api -X PUT "$url/v1/vms/bench-$i" \
    -d "{\"name\":\"bench-$i\",\"image\":\"ghcr.io/cirruslabs/ubuntu:24.04\",\"cpu\":1,\"memoryMiB\":1024,\"diskGiB\":10}" >/dev/null
  api -X POST "$url/v1/vms/bench-$i/start"
done
ready() {
  api "$url/v1/stats" | python3 -c '
import json, sys
answers = json.load(sys.stdin)
sys.exit(0 if sum(1 for a in answers if (a["stats"] or {}).get("cpuPercent") is not None) == int(sys.argv[1]) else 1)' "$VMS"
}
for _ in $(seq 120); do ready && break; sleep 1; done
ready || { echo "not every VM has figures after 120 s; see $work/serve.log" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
# utime + stime + cutime + cstime of /proc/<pid>/stat, in seconds.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / hz }' "/proc/$serve/stat"; }
before=$(cpu)
sleep "$SECS"
after=$(cpu)
rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$serve/status")
python3 - "$VMS" "$TICK" "$SECS" "$before" "$after" "$rss" <<'PY'
import sys
vms, tick, secs, before, after, rss = sys.argv[1:]
used = float(after) - float(before)
print(f"VMs followed: {vms}, tick {tick} s, measured over {secs} s")
print(f"agent CPU (with its tart children): {used:.2f} s = {100 * used / float(secs):.1f} % of one core"
      f" = {1000 * used / (float(secs) / float(tick)) / int(vms):.1f} ms per VM per tick")
print(f"agent resident memory: {rss} MiB")
PY
echo "one VM as GET /v1/stats serves it:"
api "$url/v1/stats" | python3 -c 'import json,sys; a=json.load(sys.stdin)[0]; a["stats"]["listening"]=a["stats"]["listening"][:3]; print(json.dumps(a, indent=1))'
