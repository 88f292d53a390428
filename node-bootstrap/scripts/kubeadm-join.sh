set -euo pipefail
# Joins this VM to the cluster as a worker from KUBEADM_JOIN_CONFIG (a JoinConfiguration
# with a bootstrap token: a secret, kept in a root-only file that is removed afterwards),
# unless /etc/kubernetes/kubelet.conf exists.
# Input: KUBEADM_JOIN_CONFIG.
if [[ -f /etc/kubernetes/kubelet.conf ]]; then
  log "$(hostname) has already joined"
  exit 0
fi
# No kubelet.conf means no join finished; what an interrupted one left fails the preflight.
if [[ -f /etc/kubernetes/pki/ca.crt || -f /etc/kubernetes/bootstrap-kubelet.conf ]]; then
  log "cleaning up an interrupted kubeadm join"
  kubeadm reset -f >&2
fi
install -d -m 0700 /run/tart-infra
config=$(mktemp /run/tart-infra/kubeadm-join.XXXXXX)
trap 'rm -f "$config"' EXIT
printf '%s\n' "$KUBEADM_JOIN_CONFIG" >"$config"
log "running kubeadm join"
kubeadm join --config "$config" >&2
