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
# wrote. The block is rewritten where it is (appended when missing); everything outside it
# is kept as it is.
ensure_hosts_entry() {
  local address=$1 name=$2
  BLOCK=$(printf '# BEGIN tart-infra (managed by tart-infra: the cluster API name)\n%s %s\n# END tart-infra' "$address" "$name") \
    replace_hosts_block '^# BEGIN tart-infra \\(' '^# END tart-infra$' "$name"
  if ((HOSTS_CHANGED)); then
    CHANGED=1
    log "$name now resolves to $address in ${HOSTS_FILE:-/etc/hosts}"
  fi
}

# Makes the block "# BEGIN tart-infra-$1" .. "# END tart-infra-$1" of the hosts file map the
# names $3... to the address $2 (one line), and drops any other line outside the managed
# blocks that names one of them (it would shadow the block); other blocks and lines are kept.
# Sets CHANGED=1 when it wrote.
ensure_hosts_block() {
  local tag=$1 address=$2
  shift 2
  BLOCK=$(printf '# BEGIN tart-infra-%s\n%s %s\n# END tart-infra-%s' "$tag" "$address" "$*" "$tag") \
    replace_hosts_block "^# BEGIN tart-infra-$tag\$" "^# END tart-infra-$tag\$" "$*"
  if ((HOSTS_CHANGED)); then
    CHANGED=1
    log "$* now resolve(s) to $address in ${HOSTS_FILE:-/etc/hosts}"
  fi
}

# Puts BLOCK in place of the lines from the one matching $1 to the one matching $2 of the
# hosts file (at the end when there are none), and drops every line outside tart-infra's
# blocks that names one of the names $3 (space-separated); comments are kept. Sets
# HOSTS_CHANGED=1 when it wrote, 0 when the file already was so.
replace_hosts_block() {
  local hosts=${HOSTS_FILE:-/etc/hosts} tmp
  HOSTS_CHANGED=0
  tmp=$(mktemp "$hosts.tart-infra.XXXXXX")
  awk -v begin="$1" -v end="$2" -v names="$3" '
    BEGIN { n = split(names, wanted, " "); for (i = 1; i <= n; i++) name[wanted[i]] = 1 }
    $0 ~ begin { if (!done) print ENVIRON["BLOCK"]; done = 1; skip = 1; next }
    skip { if ($0 ~ end) skip = 0; next }
    /^# BEGIN tart-infra/ { managed = 1 }
    /^# END tart-infra/   { managed = 0; print; next }
    managed || /^[[:space:]]*#/ { print; next }
    { for (i = 2; i <= NF; i++) if ($i in name) next; print }
    END { if (!done) print ENVIRON["BLOCK"] }
  ' "$hosts" >"$tmp"
  if cmp -s "$tmp" "$hosts"; then
    rm -f "$tmp"
    return 0
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$hosts"
  HOSTS_CHANGED=1
}
