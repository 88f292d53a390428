set -euo pipefail
# Points the cluster's stable API name at the control plane's current address in
# /etc/hosts (run on every node at boot: DHCP may give the control plane a new address).
# Inputs: API_NAME, API_ADDRESS. Prints `changed` or `unchanged`.
CHANGED=0
ensure_hosts_entry "$API_ADDRESS" "$API_NAME"
if ((CHANGED)); then echo changed; else echo unchanged; fi
