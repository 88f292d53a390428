set -euo pipefail
# Removes this VM's Kubernetes state (control plane or worker) so it can be initialised or
# joined again. Does nothing on a VM that has none.
if [[ ! -e /etc/kubernetes/kubelet.conf && ! -e /etc/kubernetes/admin.conf \
  && -z $(ls -A /etc/kubernetes/manifests 2>/dev/null) && ! -e /etc/kubernetes/pki/ca.crt ]]; then
  log "$(hostname) has no Kubernetes state"
  exit 0
fi
kubeadm reset -f >&2
# kubeadm reset leaves the CNI config, etcd's data and the rules Cilium and kube-proxy made.
rm -rf /etc/cni/net.d /var/lib/etcd /etc/tart-infra/kubeadm-init.done
if command -v iptables-save >/dev/null; then
  iptables-save | grep -vE 'CILIUM|KUBE' | iptables-restore
fi
log "$(hostname) is reset"
