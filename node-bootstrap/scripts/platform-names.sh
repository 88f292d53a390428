set -euo pipefail
# Makes a node resolve the platform cluster's stable names and pull from its registry:
# - the names (PLATFORM_NAMES, space-separated: `registry.tart-infra.internal`, and on the
#   other clusters' nodes `api.<platform>.tart-infra.internal` too) point at PLATFORM_ADDRESS
#   (a platform node) in the block "# BEGIN tart-infra-platform" of /etc/hosts; other blocks
#   and lines are kept (the node's own API name is update-endpoint's), so a re-run after the
#   platform's address changed rewrites only this block;
# - containerd pulls from the lab's registry (Harbor on the platform's node port, plain HTTP)
#   by its stable name: certs.d/<REGISTRY_HOST>/hosts.toml (HOSTS_TOML), which containerd
#   reads only when its config sets config_path (the original wrote it for a port Harbor does
#   not use, and without config_path).
# Inputs: PLATFORM_ADDRESS, PLATFORM_NAMES, REGISTRY_HOST (name:port), HOSTS_TOML;
# CONTAINERD_CONFIG (default /etc/containerd/config.toml). Prints `changed` or `unchanged`.
CHANGED=0
config=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
certs=$(dirname "$config")/certs.d
[[ -f $config ]] || fail "$config does not exist; run node-prepare first"
if ! grep -Eq "^\s*config_path\s*=\s*[\"'][^\"']*$certs" "$config"; then
  grep -Eq "^\s*config_path\s*=\s*[\"'][\"']" "$config" \
    || fail "$config has no empty config_path to set; set config_path = \"$certs\" in its registry section by hand"
  tmp=$(mktemp "$config.tart-infra.XXXXXX")
  sed -E "s|^(\s*)config_path\s*=\s*[\"'][\"']|\1config_path = \"$certs\"|" "$config" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$config"
  CHANGED=1
  log "containerd reads registry hosts from $certs"
  if command -v systemctl >/dev/null && systemctl is-active --quiet containerd; then
    systemctl restart containerd
    log "restarted containerd"
  fi
fi
# hosts.toml is read at every pull: no restart.
ensure_file "$certs/$REGISTRY_HOST/hosts.toml" "$HOSTS_TOML" 0644
# shellcheck disable=SC2086 # one argument per name
ensure_hosts_block platform "$PLATFORM_ADDRESS" $PLATFORM_NAMES
if ((CHANGED)); then echo changed; else echo unchanged; fi
