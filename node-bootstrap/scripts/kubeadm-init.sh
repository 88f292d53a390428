set -euo pipefail
# Initialises the control plane from KUBEADM_CONFIG (InitConfiguration + ClusterConfiguration)
# unless /etc/kubernetes/admin.conf exists, then prints admin.conf on stdout.
# Input: KUBEADM_CONFIG.
config_dir=/etc/tart-infra
config=$config_dir/kubeadm-init.yaml
done_marker=$config_dir/kubeadm-init.done

[[ -d $config_dir ]] || install -d -m 0700 "$config_dir"
ensure_file "$config" "$KUBEADM_CONFIG" 0600

if [[ ! -f /etc/kubernetes/admin.conf ]]; then
  # No admin.conf means no init got as far as its kubeconfig phase; what an earlier,
  # interrupted one left (manifests, etcd data) would fail kubeadm's preflight.
  if [[ -n $(ls -A /etc/kubernetes/manifests 2>/dev/null) || -d /var/lib/etcd/member ]]; then
    log "cleaning up an interrupted kubeadm init"
    kubeadm reset -f >&2
  fi
  log "running kubeadm init"
  kubeadm init --config "$config" >&2
  touch "$done_marker"
elif [[ ! -f $done_marker ]]; then
  # admin.conf but no marker: an earlier init stopped after its kubeconfig phase. The
  # phases after it reuse what exists and create what is missing, so running them again
  # completes the control plane (they fail, and the step is retried, until the API is up).
  log "completing an interrupted kubeadm init"
  for phase in "etcd local" "control-plane all" kubelet-start "upload-config all" \
    mark-control-plane bootstrap-token "addon coredns"; do
    # shellcheck disable=SC2086 # a phase and its sub-phase are two words
    kubeadm init phase $phase --config "$config" >&2
  done
  touch "$done_marker"
else
  log "the control plane is already initialised"
fi

cat /etc/kubernetes/admin.conf
