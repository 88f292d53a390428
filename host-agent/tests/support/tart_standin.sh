#!/bin/sh
# STAND-IN for the `tart` CLI, for the VM API's tests until the tart test double
# (tart-double/) lands. It honours the CLI contract TartCli relies on, printing Tart's real
# formats and error texts (Sources/tart/VMStorageHelper.swift, Commands/*.swift), but its
# VMs are only directories under $TART_HOME/vms, and `run` is a process that sleeps until
# signalled. Knobs (files the tests create):
#   $0.version               what --version prints (default 2.32.1)
#   $TART_HOME/limit         `run` fails with Virtualization.framework's VM limit
#   $TART_HOME/vms/N/noip    `ip` finds no address
#   $TART_HOME/vms/N/die     `run` exits 1 after that many seconds, writing a crash line
# Every call is appended to $TART_HOME/calls, one line each.
set -u
if [ "${1:-}" = "--version" ]; then
  if [ -f "$0.version" ]; then cat "$0.version"; else echo 2.32.1; fi
  exit 0
fi
home="${TART_HOME:?TART_HOME must be set for the tart stand-in}"
mkdir -p "$home/vms"
printf '%s\n' "$*" >> "$home/calls"

die() { printf '%s\n' "$2" >&2; exit "$1"; }
vm_dir() { printf '%s/vms/%s' "$home" "$1"; }
exists() { [ -d "$(vm_dir "$1")" ] || die 2 "the specified VM \"$1\" does not exist"; }
running() {
  pid_file="$(vm_dir "$1")/pid"
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}
state() { if running "$1"; then echo running; else echo stopped; fi }

verb="${1:-}"
[ $# -gt 0 ] && shift
case "$verb" in
clone)
  src="$1"; name="$2"; dir="$(vm_dir "$name")"
  case "$src" in missing*) die 2 "the specified VM \"$src\" does not exist" ;; esac
  [ -d "$dir" ] && die 1 "VM \"$name\" already exists"
  mkdir -p "$dir"
  echo 4 > "$dir/cpu"; echo 8192 > "$dir/memory"; echo 20 > "$dir/disk"
  echo "$src" > "$dir/image"; echo "7e:00:00:00:00:01" > "$dir/mac"
  ;;
set)
  name="$1"; shift; exists "$name"; dir="$(vm_dir "$name")"
  while [ $# -gt 0 ]; do
    case "$1" in
    --cpu) echo "$2" > "$dir/cpu"; shift 2 ;;
    --memory) echo "$2" > "$dir/memory"; shift 2 ;;
    --disk-size)
      [ "$2" -lt "$(cat "$dir/disk")" ] && die 1 "the new disk size must be larger than the current one"
      echo "$2" > "$dir/disk"; shift 2 ;;
    --random-mac) echo "7e:00:00:00:$$" > "$dir/mac"; shift ;;
    *) die 64 "Error: Unknown option '$1'" ;;
    esac
  done
  ;;
get)
  name="$1"; exists "$name"; dir="$(vm_dir "$name")"
  # Keys in another order than Get.swift declares them: JSONEncoder does not keep order.
  cat <<JSON
{
  "Display" : "1024x768",
  "State" : "$(state "$name")",
  "Memory" : $(cat "$dir/memory"),
  "OS" : "linux",
  "Size" : "1.234",
  "CPU" : $(cat "$dir/cpu"),
  "DiskFormat" : "raw",
  "Running" : $(if running "$name"; then echo true; else echo false; fi),
  "Disk" : $(cat "$dir/disk")
}
JSON
  ;;
list)
  # `list --source local --format json`; the OCI entry shows what --source would hide.
  printf '['
  sep=""
  for dir in "$home"/vms/*; do
    [ -d "$dir" ] || continue
    name="$(basename "$dir")"
    printf '%s\n  {\n    "Source" : "local",\n    "Name" : "%s",\n    "Disk" : %s,\n    "Size" : 1,\n    "Accessed" : "2026-03-20T10:15:02Z",\n    "Running" : %s,\n    "State" : "%s"\n  }' \
      "$sep" "$name" "$(cat "$dir/disk")" "$(if running "$name"; then echo true; else echo false; fi)" "$(state "$name")"
    sep=","
  done
  printf '%s\n  {\n    "Accessed" : "2026-03-19T08:00:00Z",\n    "Name" : "ghcr.io/cirruslabs/ubuntu:latest",\n    "Source" : "OCI",\n    "Disk" : 20,\n    "Size" : 2,\n    "State" : "stopped",\n    "Running" : false\n  }\n]\n' "$sep"
  ;;
run)
  name=""
  for arg in "$@"; do name="$arg"; done
  exists "$name"; dir="$(vm_dir "$name")"
  running "$name" && die 2 "VM \"$name\" is already running!"
  printf '%s\n' "$*" > "$dir/run-args"
  if [ -f "$home/limit" ]; then
    die 1 "The number of VMs exceeds the system limit (other running VMs: a, b)"
  fi
  echo "booting $name"
  echo $$ > "$dir/pid"
  if [ -f "$dir/die" ]; then
    sleep "$(cat "$dir/die")"
    rm -f "$dir/pid"
    die 1 "Error: guest crashed: VZErrorDomain Code=1 internal error"
  fi
  sleep 3600 &
  sleeper=$!
  trap 'kill $sleeper 2>/dev/null; rm -f "$dir/pid"; exit 0' INT TERM
  wait $sleeper
  rm -f "$dir/pid"
  ;;
ip)
  wait_secs=0; resolver=dhcp
  while [ $# -gt 1 ]; do
    case "$1" in
    --wait) wait_secs="$2"; shift 2 ;;
    --resolver) resolver="$2"; shift 2 ;;
    *) die 64 "Error: Unknown option '$1'" ;;
    esac
  done
  name="$1"; exists "$name"; dir="$(vm_dir "$name")"
  echo "$resolver" > "$dir/resolver"
  if ! running "$name"; then die 1 "no IP address found, is your VM running?"; fi
  if [ -f "$dir/noip" ]; then
    [ "$wait_secs" -gt 0 ] && sleep 1
    die 1 "no IP address found"
  fi
  echo 127.0.0.10
  ;;
stop)
  timeout=30
  [ "$1" = "--timeout" ] && { timeout="$2"; shift 2; }
  name="$1"; exists "$name"
  running "$name" || die 2 "VM \"$name\" is not running"
  pid="$(cat "$(vm_dir "$name")/pid")"
  kill -INT "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt $((timeout * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null || true
  ;;
delete)
  name="$1"; exists "$name"
  running "$name" && die 1 "VM \"$name\" is running"
  rm -rf "$(vm_dir "$name")"
  ;;
exec)
  [ "$1" = "-i" ] || die 64 "the stand-in only knows exec -i"
  name="$2"; exists "$name"; dir="$(vm_dir "$name")"
  running "$name" || die 2 "VM \"$name\" is not running"
  [ "$3 $4" = "sh -c" ] || die 64 "the stand-in only knows exec -i VM sh -c SCRIPT sh USER"
  user="$7"
  IFS= read -r key
  touch "$dir/authorized_keys.$user"
  grep -qxF -- "$key" "$dir/authorized_keys.$user" || printf '%s\n' "$key" >> "$dir/authorized_keys.$user"
  echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q root@$name"
  echo "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= root@$name"
  ;;
*)
  die 64 "Error: Unexpected argument '$verb'"
  ;;
esac
