set -euo pipefail
# Makes an Ubuntu 24.04 VM ready for kubeadm. Checks before each change, so a second run,
# or a run after a kill part-way, changes only what is still missing.
# Inputs: NODE_NAME (hostname and node name), API_NAME (the cluster's stable API name),
# API_ADDRESS (the control plane's current address).
# Prints `changed` or `unchanged`.
CHANGED=0

for tool in containerd kubeadm kubelet; do
  command -v "$tool" >/dev/null \
    || fail "$tool is not installed on $NODE_NAME; use an image with containerd and the Kubernetes packages, such as the golden image \`tart-infra image build\` makes"
done

if [[ $(hostname) != "$NODE_NAME" ]]; then
  hostnamectl set-hostname "$NODE_NAME"
  CHANGED=1
  log "hostname set to $NODE_NAME"
fi

ensure_hosts_entry "$API_ADDRESS" "$API_NAME"

# Kernel modules for the container runtime and bridged pod traffic, now and at boot.
ensure_file /etc/modules-load.d/tart-infra-k8s.conf $'overlay\nbr_netfilter' 0644
for module in overlay br_netfilter; do
  if [[ ! -d /sys/module/$module ]]; then
    modprobe "$module"
    CHANGED=1
    log "loaded the kernel module $module"
  fi
done

# Forwarding and bridge netfilter, which kubeadm's preflight and the CNI need.
sysctls=(
  net.bridge.bridge-nf-call-iptables=1
  net.bridge.bridge-nf-call-ip6tables=1
  net.ipv4.ip_forward=1
)
ensure_file /etc/sysctl.d/90-tart-infra-k8s.conf "$(printf '%s\n' "${sysctls[@]}")" 0644
for setting in "${sysctls[@]}"; do
  key=${setting%%=*}
  value=${setting#*=}
  if [[ $(sysctl -n "$key") != "$value" ]]; then
    sysctl -q -w "$setting"
    CHANGED=1
    log "set $setting"
  fi
done

# The kubelet refuses to run with swap on.
if [[ -n $(swapon --show --noheadings 2>/dev/null) ]]; then
  swapoff -a
  CHANGED=1
  log "swap turned off"
fi
if grep -Eq '^[^#]\S*\s+\S+\s+swap\s' /etc/fstab; then
  sed -i -E 's/^([^#]\S*\s+\S+\s+swap\s.*)$/# \1  # off: the kubelet needs swap off (tart-infra)/' /etc/fstab
  CHANGED=1
  log "swap disabled in /etc/fstab"
fi

# kubeadm's preflight needs the conntrack tool, which the base image lacks.
if ! command -v conntrack >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q conntrack >&2 || { apt-get update -q >&2 && apt-get install -y -q conntrack >&2; }
  CHANGED=1
  log "installed conntrack"
fi

# containerd with the systemd cgroup driver, as the kubelet expects.
if ! grep -Eq '^\s*SystemdCgroup\s*=\s*true' /etc/containerd/config.toml 2>/dev/null; then
  install -d -m 0755 /etc/containerd
  config=$(mktemp /etc/containerd/config.toml.tart-infra.XXXXXX)
  containerd config default | sed -E 's/^(\s*)SystemdCgroup\s*=\s*false/\1SystemdCgroup = true/' >"$config"
  grep -Eq '^\s*SystemdCgroup\s*=\s*true' "$config" \
    || fail "containerd's default config on $NODE_NAME has no SystemdCgroup setting to turn on; set it in /etc/containerd/config.toml by hand"
  chmod 0644 "$config"
  mv -f "$config" /etc/containerd/config.toml
  systemctl restart containerd
  CHANGED=1
  log "containerd uses the systemd cgroup driver"
fi

for unit in containerd kubelet; do
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

if ((CHANGED)); then echo changed; else echo unchanged; fi
