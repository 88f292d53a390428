set -euo pipefail
# On a control plane whose address changed (a reboot with a new DHCP lease): points the
# static pods kubeadm wrote (kube-apiserver's --advertise-address, etcd's URLs) at the new
# address and restarts the kubelet, which restarts them. Clients are unaffected: they use
# the stable name, which the certificates are issued for.
# Inputs: API_ADDRESS. Prints `changed` or `unchanged`.
manifests=${MANIFESTS_DIR:-/etc/kubernetes/manifests}
apiserver=$manifests/kube-apiserver.yaml
if [[ ! -f $apiserver ]]; then
  log "no $apiserver: not a kubeadm control plane (or its static pods live elsewhere)"
  echo unchanged
  exit 0
fi
old=$(sed -n 's/.*--advertise-address=\([0-9.]*\).*/\1/p' "$apiserver" | head -n 1)
if [[ -z $old || $old == "$API_ADDRESS" ]]; then
  echo unchanged
  exit 0
fi
pattern=${old//./\\.}
for f in "$apiserver" "$manifests/etcd.yaml"; do
  [[ -f $f ]] || continue
  tmp=$(mktemp "$f.tart-infra.XXXXXX")
  sed "s/\\b$pattern\\b/$API_ADDRESS/g" "$f" >"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$f"
  log "moved $f from $old to $API_ADDRESS"
done
systemctl restart kubelet
echo changed
