set -euo pipefail
# Checks that this VM reaches the API server through its stable name before kubeadm join,
# which would otherwise wait minutes and fail with a less clear message.
# Inputs: NODE_NAME, API_NAME, API_PORT, TIMEOUT_SECS. Exit code 75 when unreachable.
# shellcheck disable=SC2016 # expanded by the inner bash
if timeout "$TIMEOUT_SECS" bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$API_NAME" "$API_PORT" 2>/dev/null; then
  log "$NODE_NAME reaches $API_NAME:$API_PORT"
  exit 0
fi
address=$(getent hosts "$API_NAME" | awk '{ print $1; exit }' || true)
echo "VM $NODE_NAME cannot reach the API server at $API_NAME:$API_PORT (${address:-the name does not resolve}) within ${TIMEOUT_SECS}s; VMs must reach each other: run them with --net-softnet-allow=0.0.0.0/0 (tart-infra's default) or with bridged networking" >&2
exit 75
