# shellcheck disable=SC2034 # CHANGED is read by the script that includes this file
# Functions shared by tart-infra's node scripts (rendered before each script's body).
# Progress goes to stderr, so stdout carries only a script's result.

# Prints a progress line.
log() { echo "tart-infra: $*" >&2; }

# Prints an error line and stops the script.
fail() { echo "tart-infra: error: $*" >&2; exit 1; }

# Writes $2 (plus a newline) to the file $1 with mode $3, unless it already holds exactly
# that; sets CHANGED=1 when it wrote. The file is replaced whole, never half-written.
ensure_file() {
  local path=$1 content=$2 mode=$3 tmp
  if [[ -f $path && "$(cat "$path")" == "$content" ]]; then
    return 0
  fi
  [[ -d $(dirname "$path") ]] || install -d -m 0755 "$(dirname "$path")"
  tmp=$(mktemp "$path.tart-infra.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  CHANGED=1
  log "wrote $path"
}

# Makes the managed block of the hosts file (HOSTS_FILE, default /etc/hosts) map the name
# $2 to the address $1, and drops any other line for that name; sets CHANGED=1 when it
# wrote. Everything outside the block is kept as it is.
ensure_hosts_entry() {
  local address=$1 name=$2 hosts=${HOSTS_FILE:-/etc/hosts} tmp
  tmp=$(mktemp "$hosts.tart-infra.XXXXXX")
  awk -v name="$name" '
    /^# BEGIN tart-infra \(/ { skip = 1; next }
    /^# END tart-infra$/    { skip = 0; next }
    skip { next }
    /^[[:space:]]*#/ { print; next }
    { for (i = 2; i <= NF; i++) if ($i == name) next; print }
  ' "$hosts" >"$tmp"
  printf '# BEGIN tart-infra (managed by tart-infra: the cluster API name)\n%s %s\n# END tart-infra\n' \
    "$address" "$name" >>"$tmp"
  if cmp -s "$tmp" "$hosts"; then
    rm -f "$tmp"
    return 0
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$hosts"
  CHANGED=1
  log "$name now resolves to $address in $hosts"
}

# Makes the block "# BEGIN tart-infra-$1" .. "# END tart-infra-$1" of the hosts file map the
# name $3 to the address $2 (other blocks and lines are kept); sets CHANGED=1 when it wrote.
ensure_hosts_block() {
  local tag=$1 address=$2 name=$3 hosts=${HOSTS_FILE:-/etc/hosts} tmp
  tmp=$(mktemp "$hosts.tart-infra.XXXXXX")
  awk -v begin="# BEGIN tart-infra-$tag" -v end="# END tart-infra-$tag" '
    $0 == begin { skip = 1; next }
    $0 == end   { skip = 0; next }
    !skip
  ' "$hosts" >"$tmp"
  printf '# BEGIN tart-infra-%s\n%s %s\n# END tart-infra-%s\n' "$tag" "$address" "$name" "$tag" >>"$tmp"
  if cmp -s "$tmp" "$hosts"; then
    rm -f "$tmp"
    return 0
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$hosts"
  CHANGED=1
  log "$name now resolves to $address in $hosts"
}
