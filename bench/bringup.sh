#!/usr/bin/env bash
# Bring-up of the four clusters of config/clusters.yaml (10 VMs) against the tart TEST DOUBLE
# (tart-double/: sshd VMs on 127.0.0.N, a real etcd + kube-apiserver per control plane),
# with each step taking the time it takes on a Mac: `tart-infra up` builds the platform,
# then the operator builds dev, staging and prod in parallel. Prints the wall time against
# the sum of the modelled steps, which is what a one-step-at-a-time bring-up (the
# original's) takes. Cilium and the addons are not part of it (not installed by this build).
#
#   bench/bringup.sh                 (as root: the double needs mount namespaces)
#
# Modelled step durations in seconds (override with the variables), for a golden image on an
# Apple silicon Mac:
#   CLONE=5   tart clone of the local golden image (APFS copy-on-write: a few seconds)
#   BOOT=25   tart run until the VM has a DHCP address and sshd answers (Ubuntu 24.04)
#   INIT=90   kubeadm init with the control-plane images already pulled
#   JOIN=40   kubeadm join of a worker, until its kubelet has registered
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLONE=${CLONE:-5} BOOT=${BOOT:-25} INIT=${INIT:-90} JOIN=${JOIN:-40}
[[ $(id -u) -eq 0 ]] || { echo "bench/bringup.sh: run it as root (the tart double uses mount namespaces)" >&2; exit 1; }
TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)
export TART_INFRA_KUBE_BINS
# up installs the real Cilium chart with helm and ArgoCD's install manifest, from the cache.
helm=$(scripts/build-helm.sh)
upstream=$(scripts/fetch-upstream.sh)
cargo build --quiet -p host-agent -p operator -p tart-double --bins
bin=${CARGO_TARGET_DIR:-target}/debug
work=$(mktemp -d)
state=$work/state
export TART_HOME=$work/tart-home TART_DOUBLE_SUBNET=127.95.0
export TART_DOUBLE_DELAYS="clone=$CLONE,boot=$BOOT,init=$INIT,join=$JOIN"
# TEST ONLY: the host facts of a Mac big enough for the shipped file (docs/mac-lab.md).
export TART_INFRA_TEST_HOST_FACTS='{"os":"macos","arch":"arm64","cpus":24,"memoryMiB":131072,"freeDiskGiB":1000}'
operator=""
cleanup() {
  [[ -n $operator ]] && kill "$operator" 2>/dev/null || true
  "$bin/tart-infra" destroy --yes --config "$work/clusters.yaml" --state-dir "$state" --tart-bin "$bin/tart" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The shipped file, logging in as the double's root with keys in the work directory.
sed -e "s|^  user: admin|  user: root|" \
    -e "s|^  privateKeyPath: .*|  privateKeyPath: $work/id_ed25519|" \
    -e "s|^  knownHostsPath: .*|  knownHostsPath: $work/known_hosts|" \
    config/clusters.yaml >"$work/clusters.yaml"
read -r vms workers clusters < <(python3 - "$work/clusters.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
roles = re.findall(r"role: (controlPlane|worker)", text)
print(len(roles), roles.count("worker"), roles.count("controlPlane"))
PY
)
others=$((clusters - 1))

t0=$(date +%s.%N)
"$bin/tart-infra" up --config "$work/clusters.yaml" --state-dir "$state" --tart-bin "$bin/tart" \
  --serve-listen 127.0.0.1:0 --helm-bin "$helm" --upstream-dir "$upstream" >"$work/up.log" 2>&1 \
  || { cat "$work/up.log"; exit 1; }
t_up=$(date +%s.%N)

# The operator, as it would run on the platform, builds the other clusters.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KUBECONFIG=$state/kubeconfigs/platform.yaml "$bin/tart-operator" --http-addr "127.0.0.1:$port" \
  --vm-ssh-user root --cluster-recheck-seconds 5 --log-format text >"$work/operator.log" 2>&1 &
operator=$!
while :; do
  done_count=$({ "$bin/tart-infra" status --json --config "$work/clusters.yaml" --state-dir "$state" \
      --tart-bin "$bin/tart" 2>/dev/null || true; } | python3 -c '
import json, sys
try:
    report = json.loads(sys.stdin.read())
except ValueError:
    report = {}
done = 0
for c in report.get("clusters", []):
    n, _, total = (c.get("readyNodes") or "").partition("/")
    phase = (c.get("detail") or "").split()[-1:]
    if c.get("via") == "ManagedCluster" and n and n == total and phase in (["InstallingAddons"], ["Ready"]):
        done += 1
print(done)')
  [[ ${done_count:-0} -ge $others ]] && break
  if (( $(date +%s) - ${t0%.*} > 3600 )); then echo "timed out; operator log: $work/operator.log" >&2; exit 1; fi
  sleep 2
done
t_all=$(date +%s.%N)

python3 - "$t0" "$t_up" "$t_all" "$vms" "$workers" "$clusters" <<PY
import sys
t0, t_up, t_all = map(float, sys.argv[1:4])
vms, workers, clusters = map(int, sys.argv[4:7])
clone, boot, init, join = $CLONE, $BOOT, $INIT, $JOIN
sequential = vms * (clone + boot) + clusters * init + workers * join
wall = t_all - t0
print(f"modelled steps: clone {clone} s, boot {boot} s, kubeadm init {init} s, join {join} s")
print(f"{clusters} clusters, {vms} VMs ({workers} workers)")
print(f"tart-infra up (platform)          {t_up - t0:7.1f} s")
print(f"operator: the other {clusters - 1} clusters  {t_all - t_up:7.1f} s")
print(f"wall time                         {wall:7.1f} s  ({wall / 60:.1f} min)")
print(f"sum of the steps (sequential)     {sequential:7.1f} s  ({sequential / 60:.1f} min)")
print(f"parallelism ratio                 {sequential / wall:7.2f}x")
PY
