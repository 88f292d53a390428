set -euo pipefail
# Prints a fresh `kubeadm join` command (with a bootstrap token valid for one hour) on the
# control plane. Its output holds a secret: it is never logged.
[[ -f /etc/kubernetes/admin.conf ]] \
  || fail "$(hostname) has no /etc/kubernetes/admin.conf; initialise the control plane first (kubeadm-init)"
kubeadm token create --print-join-command --ttl 1h --kubeconfig /etc/kubernetes/admin.conf
