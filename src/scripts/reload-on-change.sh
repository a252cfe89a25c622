#!/bin/bash
# Runs a server and makes it reload when the files it serves change: a renewed certificate
# (cert-manager rewrites the Secret, the kubelet swaps the mounted files) or a new userlist.
#
#   reload-on-change.sh WATCHED... -- COMMAND [ARG...]
#
# WATCHED are files or directories (every file directly in them). Every PGC_RELOAD_SECONDS
# (default 10) their contents are compared with what the server last loaded; on a change the
# server gets SIGHUP, which PostgreSQL's Patroni, pgBackRest's server and PgBouncer all take as
# "reload your configuration and certificates" without dropping a connection. Signals sent to
# this script (the kubelet's SIGTERM) are passed on; it exits with the server's status.
# Needs bash 5.1 or later (wait -n -p) and sleep; nothing else.
set -uo pipefail

watched=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  watched+=("$1")
  shift
done
if [ $# -lt 2 ] || [ ${#watched[@]} -eq 0 ]; then
  echo "usage: reload-on-change.sh WATCHED... -- COMMAND [ARG...]" >&2
  exit 64
fi
shift
interval="${PGC_RELOAD_SECONDS:-10}"
case "$interval" in
  ''|*[!0-9]*|0) echo "reload-on-change.sh: PGC_RELOAD_SECONDS must be a positive integer, got '$interval'" >&2; exit 64 ;;
esac

# What the watched paths hold now: names and contents, in a stable order.
fingerprint() {
  local p f out=""
  for p in "${watched[@]}"; do
    if [ -d "$p" ]; then
      for f in "$p"/*; do
        [ -f "$f" ] && out+="$f"$'\n'"$(<"$f")"$'\n'
      done
    elif [ -f "$p" ]; then
      out+="$p"$'\n'"$(<"$p")"$'\n'
    else
      out+="$p (missing)"$'\n'
    fi
  done
  printf '%s' "$out"
}

loaded="$(fingerprint)"
"$@" &
server=$!
for sig in TERM INT QUIT HUP USR1 USR2; do
  # shellcheck disable=SC2064 # expand $sig and $server now
  trap "kill -$sig $server 2>/dev/null" "$sig"
done

sleeper=""
while :; do
  if [ -z "$sleeper" ]; then
    sleep "$interval" &
    sleeper=$!
  fi
  finished=""
  wait -n -p finished "$server" "$sleeper"
  status=$?
  if [ "${finished:-}" = "$server" ]; then
    kill "$sleeper" 2>/dev/null
    exit "$status"
  fi
  # Woken by a signal (already passed on): keep waiting on the same timer.
  [ "${finished:-}" = "$sleeper" ] || continue
  sleeper=""
  now="$(fingerprint)"
  if [ "$now" != "$loaded" ]; then
    loaded="$now"
    echo "reload-on-change.sh: ${watched[*]} changed, sending SIGHUP to $1 (pid $server)" >&2
    kill -HUP "$server" 2>/dev/null
  fi
done
