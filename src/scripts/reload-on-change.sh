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
# Needs bash 4.3 or later and nothing else: it starts no process but the server.
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

# What the watched paths hold now, names and contents in a stable order, into $fingerprint.
# Builtins only: no command substitution or helper process, which would be a copy of this
# process with the container's environment (its passwords) besides the server.
fingerprint() {
  local p f content
  fingerprint=""
  for p in "${watched[@]}"; do
    if [ -d "$p" ]; then
      for f in "$p"/*; do
        if [ -f "$f" ]; then
          IFS= read -r -d '' content < "$f"
          fingerprint+="$f"$'\n'"$content"$'\n'
        fi
      done
    elif [ -f "$p" ]; then
      IFS= read -r -d '' content < "$p"
      fingerprint+="$p"$'\n'"$content"$'\n'
    else
      fingerprint+="$p (missing)"$'\n'
    fi
  done
}

fingerprint
loaded="$fingerprint"
# The timer: a read with a timeout on a pipe no one writes to (this process holds both ends).
exec {timer}<> <(:)
# Reap the `:` behind it now, so the server is this process's only child from here on.
wait "$!" 2>/dev/null
"$@" &
server=$!
for sig in TERM INT QUIT HUP USR1 USR2; do
  # shellcheck disable=SC2064 # expand $sig and $server now
  trap "kill -$sig $server 2>/dev/null" "$sig"
done
# Bash runs a CHLD trap only after the read returns, so the timer ticks every half second: the
# server's end is seen within that, the files are compared every $interval seconds.
server_ended() {
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server"
    exit $?
  fi
}

ticks=0
while :; do
  read -r -t 0.5 -u "$timer" _
  server_ended
  ticks=$((ticks + 1))
  [ "$ticks" -ge $((interval * 2)) ] || continue
  ticks=0
  fingerprint
  if [ "$fingerprint" != "$loaded" ]; then
    loaded="$fingerprint"
    echo "reload-on-change.sh: ${watched[*]} changed, sending SIGHUP to $1 (pid $server)" >&2
    kill -HUP "$server" 2>/dev/null
  fi
done
