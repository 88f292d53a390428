set -euo pipefail
# Turns a Cirrus Labs Ubuntu 24.04 VM into tart-infra's golden image for one Kubernetes
# version: the pinned packages, the kernel and network settings every node needs, the
# control-plane and Cilium images, and nothing that must differ between clones (SSH host
# keys, machine id). Checks before each change, so a second run changes only what is
# still missing.
# Inputs: K8S_MINOR (1.33: the pkgs.k8s.io repository), K8S_VERSION (1.33.4: the images),
# KUBE_DEB_VERSION (1.33.4-1.1: kubelet, kubeadm, kubectl), CRI_TOOLS_DEB_VERSION
# (1.33.0-1.1), CONTAINERD_VERSION (an Ubuntu package version, or empty for the archive's
# current one; held either way), EXTRA_IMAGES (one image reference a line: Cilium's).
# Prints `changed` or `unchanged`.
CHANGED=0
export DEBIAN_FRONTEND=noninteractive
CRI_SOCKET=unix:///run/containerd/containerd.sock

command -v apt-get >/dev/null \
  || fail "apt-get is missing: the golden image is built from an Ubuntu image (baseImage in config/clusters.yaml)"

# The Kubernetes package repository of this minor version. The key is kept ASCII-armored
# (apt reads .asc keyrings), so no gpg is needed.
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.asc
repo="https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/"
if ! grep -qs 'BEGIN PGP PUBLIC KEY BLOCK' "$keyring"; then
  install -d -m 0755 /etc/apt/keyrings
  key=$(mktemp "$keyring.tart-infra.XXXXXX")
  if ! curl -fsSL --retry 3 -o "$key" "${repo}Release.key" \
    || ! grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$key"; then
    rm -f "$key"
    fail "could not download the Kubernetes package key from ${repo}Release.key; does the VM reach the internet?"
  fi
  chmod 0644 "$key"
  mv -f "$key" "$keyring"
  CHANGED=1
  log "wrote $keyring"
fi
sources_before=$CHANGED
CHANGED=0
ensure_file /etc/apt/sources.list.d/kubernetes.list "deb [signed-by=$keyring] $repo /" 0644
sources_changed=$CHANGED
CHANGED=$((sources_before | CHANGED))

# The packages, each at its pinned version (containerd at CONTAINERD_VERSION when given).
wanted=(
  "kubelet=$KUBE_DEB_VERSION"
  "kubeadm=$KUBE_DEB_VERSION"
  "kubectl=$KUBE_DEB_VERSION"
  "cri-tools=$CRI_TOOLS_DEB_VERSION"
  "containerd${CONTAINERD_VERSION:+=$CONTAINERD_VERSION}"
  conntrack
)
missing=()
for spec in "${wanted[@]}"; do
  pkg=${spec%%=*}
  version=""
  [[ $spec == *=* ]] && version=${spec#*=}
  have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)
  if [[ $have != "install ok installed "* ]] || [[ -n $version && ${have##* } != "$version" ]]; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]})) || ((sources_changed)); then
  apt-get update -q >&2
fi
if ((${#missing[@]})); then
  apt-get install -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages \
    "${missing[@]}" >&2
  CHANGED=1
  log "installed ${missing[*]}"
fi
# Held, so an `apt-get upgrade` on a node never moves them off the image's versions.
held=$(apt-mark showhold)
to_hold=()
for pkg in kubelet kubeadm kubectl cri-tools containerd; do
  grep -qx "$pkg" <<<"$held" || to_hold+=("$pkg")
done
if ((${#to_hold[@]})); then
  apt-mark hold "${to_hold[@]}" >&2
  CHANGED=1
  log "held ${to_hold[*]}"
fi

# Kernel modules and sysctls for the container runtime and bridged pod traffic, at every
# boot (the same files node-prepare checks, so it finds them in place).
before=$CHANGED
CHANGED=0
ensure_file /etc/modules-load.d/tart-infra-k8s.conf $'overlay\nbr_netfilter' 0644
if ((CHANGED)); then modprobe -a overlay br_netfilter; fi
modules_changed=$CHANGED
CHANGED=0
ensure_file /etc/sysctl.d/90-tart-infra-k8s.conf $'net.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\nnet.ipv4.ip_forward=1' 0644
if ((CHANGED)); then sysctl -q --system >&2; fi
CHANGED=$((before | modules_changed | CHANGED))

# The kubelet refuses to run with swap on: no swap in fstab (node-prepare turns off any
# that is active at boot).
if grep -Eq '^[^#]\S*\s+\S+\s+swap\s' /etc/fstab; then
  sed -i -E 's/^([^#]\S*\s+\S+\s+swap\s.*)$/# \1  # off: the kubelet needs swap off (tart-infra)/' /etc/fstab
  CHANGED=1
  log "swap disabled in /etc/fstab"
fi

# DHCP with the MAC address as client identifier: with Ubuntu's default (a DUID from the
# machine id) `tart ip` cannot find the VM's lease (tart#912). Takes effect at the next
# boot, i.e. in every clone; newer Cirrus images already have it.
if ! grep -rqsE '^\s*dhcp-identifier:\s*mac\b' /etc/netplan; then
  ids=()
  if command -v netplan >/dev/null; then
    mapfile -t ids < <(netplan get ethernets 2>/dev/null | sed -nE 's/^([A-Za-z0-9_.-]+):.*$/\1/p')
  fi
  if ((${#ids[@]})); then
    for id in "${ids[@]}"; do
      netplan set "ethernets.$id.dhcp-identifier=mac"
    done
    log "dhcp-identifier: mac set on ${ids[*]}"
    CHANGED=1
  else
    ensure_file /etc/netplan/90-tart-infra-dhcp-mac.yaml "$(printf '%s\n' \
      '# tart-infra: DHCP with the MAC address as client identifier (tart#912)' \
      'network:' '  version: 2' '  ethernets:' '    tart-infra-en:' \
      '      match:' '        name: "en*"' '      dhcp4: true' '      dhcp-identifier: mac')" 0600
  fi
fi

# containerd with the systemd cgroup driver, as the kubelet expects.
if ! grep -Eq '^\s*SystemdCgroup\s*=\s*true' /etc/containerd/config.toml 2>/dev/null; then
  install -d -m 0755 /etc/containerd
  config=$(mktemp /etc/containerd/config.toml.tart-infra.XXXXXX)
  containerd config default | sed -E 's/^(\s*)SystemdCgroup\s*=\s*false/\1SystemdCgroup = true/' >"$config"
  if ! grep -Eq '^\s*SystemdCgroup\s*=\s*true' "$config"; then
    rm -f "$config"
    fail "containerd's default config has no SystemdCgroup setting to turn on; pin a containerd 1.7 (CONTAINERD_VERSION)"
  fi
  chmod 0644 "$config"
  mv -f "$config" /etc/containerd/config.toml
  if systemctl is-active --quiet containerd; then systemctl restart containerd; fi
  CHANGED=1
  log "containerd uses the systemd cgroup driver"
fi

# Every clone regenerates the SSH host keys this image does not have (ssh-keygen -A makes
# only the missing ones), before sshd starts.
ensure_file /etc/systemd/system/tart-infra-ssh-host-keys.service "$(printf '%s\n' \
  '[Unit]' \
  'Description=SSH host keys of this VM (tart-infra: the golden image has none)' \
  'Before=ssh.service' \
  '[Service]' \
  'Type=oneshot' \
  'ExecStart=/usr/bin/ssh-keygen -A' \
  '[Install]' \
  'WantedBy=multi-user.target')" 0644
for unit in tart-infra-ssh-host-keys containerd kubelet; do
  if ! systemctl is-enabled --quiet "$unit"; then
    systemctl enable "$unit" >&2
    CHANGED=1
    log "enabled $unit"
  fi
done
if ! systemctl is-active --quiet containerd; then
  systemctl start containerd
  CHANGED=1
  log "started containerd"
fi
for _ in $(seq 1 30); do
  crictl --runtime-endpoint "$CRI_SOCKET" version >/dev/null 2>&1 && break
  sleep 1
done

# The images every node starts with: kubeadm's control plane for K8S_VERSION, and Cilium's.
images=()
mapfile -t images < <(kubeadm config images list --kubernetes-version "v$K8S_VERSION" 2>/dev/null)
((${#images[@]})) || fail "kubeadm lists no images for v$K8S_VERSION"
present() { crictl --runtime-endpoint "$CRI_SOCKET" inspecti "$1" >/dev/null 2>&1; }
need_pull=0
for image in "${images[@]}"; do present "$image" || need_pull=1; done
if ((need_pull)); then
  kubeadm config images pull --kubernetes-version "v$K8S_VERSION" --cri-socket "$CRI_SOCKET" >&2
  CHANGED=1
  log "pulled the control-plane images of v$K8S_VERSION"
fi
while IFS= read -r image; do
  [[ -n $image ]] || continue
  if ! present "$image"; then
    crictl --runtime-endpoint "$CRI_SOCKET" pull "$image" >&2
    CHANGED=1
    log "pulled $image"
  fi
done <<<"$EXTRA_IMAGES"

# Last: what must not be shared by clones, and the package caches.
apt-get clean
if compgen -G '/etc/ssh/ssh_host_*' >/dev/null; then
  rm -f /etc/ssh/ssh_host_*
  CHANGED=1
  log "removed the SSH host keys (each clone makes its own at boot)"
fi
# An empty machine id makes systemd generate a new one at the clone's first boot and commit
# it (and with it a DHCP DUID of its own); empty, not missing or "uninitialized", so the boot
# is not a "first boot" and systemd does not re-apply unit presets over what is enabled
# here (machine-id(5)). /var/lib/dbus/machine-id links to it on Ubuntu.
if [[ -s /etc/machine-id ]]; then
  truncate -s 0 /etc/machine-id
  CHANGED=1
  log "emptied /etc/machine-id (each clone gets its own)"
fi
sync

if ((CHANGED)); then echo changed; else echo unchanged; fi
