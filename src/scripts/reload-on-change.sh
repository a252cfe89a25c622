#!/bin/bash
# Runs a server and makes it reload when the files it serves change: a renewed certificate
# (cert-manager rewrites the Secret, the kubelet swaps the mounted files) or a new userlist.
#
#   reload-on-change.sh [--restart-on-exit=STATUS[,STATUS...]] WATCHED... -- COMMAND [ARG...]
#
# WATCHED are files or directories (every file directly in them). Every PGC_RELOAD_SECONDS
# (default 10) their contents are compared with what the server last loaded; on a change the
# server gets SIGHUP, which PostgreSQL's Patroni, pgBackRest's server and PgBouncer all take as
# "reload your configuration and certificates" without dropping a connection. Signals sent to
# this script (the kubelet's SIGTERM) are passed on; it exits with the server's status.
# With --restart-on-exit, a server that ends with one of the STATUSes, not after a stop signal,
# is started again instead when it ended within 10 seconds of a SIGHUP or had run for at least
# 10 seconds (so a server that fails as it starts still ends the container, and the kubelet's
# back-off applies). The pgBackRest servers need it, for two faults of pgBackRest 2.45
# (Debian bookworm): it binds its port again on every reload and gives up at once if the bind
# fails, and it fails while the child serving a connection accepted just before has not yet
# closed its copy of the listening socket ("unable to bind socket: [98] Address already in use",
# status 41; pgBackRest 2.54 retries the bind); and under a stream of short connections its
# SIGCHLD handler, which edits the list of children the accept loop appends to, now and then
# crashes the server (SIGSEGV, status 139; still so in 2.57). Connections being served go on in
# the children either way.
# Needs bash 4.3 or later and nothing else: it starts no process but the server.
set -uo pipefail

restart_statuses=""
case "${1:-}" in
  --restart-on-exit=*)
    restart_statuses="${1#*=}"
    shift
    case ",$restart_statuses," in
      ,,|*[!0-9,]*|*,,*) echo "reload-on-change.sh: --restart-on-exit takes exit statuses separated by commas, got '$restart_statuses'" >&2; exit 64 ;;
    esac
    ;;
esac
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
command=("$@")
start_server() {
  "${command[@]}" &
  server=$!
  started_at=$SECONDS
}
start_server
# When the last SIGHUP went to the server ($SECONDS), and whether it was told to stop.
reloaded_at=-100
stopping=0
reload() {
  reloaded_at=$SECONDS
  kill -HUP "$server" 2>/dev/null
}
trap 'stopping=1; kill -TERM "$server" 2>/dev/null' TERM
trap 'stopping=1; kill -INT "$server" 2>/dev/null' INT
trap 'stopping=1; kill -QUIT "$server" 2>/dev/null' QUIT
trap 'reload' HUP
trap 'kill -USR1 "$server" 2>/dev/null' USR1
trap 'kill -USR2 "$server" 2>/dev/null' USR2
# Bash runs a CHLD trap only after the read returns, so the timer ticks every half second: the
# server's end is seen within that, the files are compared every $interval seconds.
server_ended() {
  local status
  kill -0 "$server" 2>/dev/null && return
  wait "$server"
  status=$?
  local when=""
  if [ "$stopping" = 0 ] && [[ ",$restart_statuses," == *",$status,"* ]]; then
    if [ $((SECONDS - reloaded_at)) -le 10 ]; then
      when="during a reload"
    elif [ $((SECONDS - started_at)) -ge 10 ]; then
      when="after $((SECONDS - started_at)) s"
    fi
  fi
  [ -n "$when" ] || exit "$status"
  echo "reload-on-change.sh: ${command[*]} ended with status $status $when; starting it again" >&2
  start_server
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
    echo "reload-on-change.sh: ${watched[*]} changed, sending SIGHUP to ${command[0]} (pid $server)" >&2
    reload
  fi
done
