#!/bin/bash
# Starts pgBackRest's TLS server on every address of the pod, IPv4 and IPv6.
#
#   pgbackrest-server.sh PGBACKREST [OPTION...]      runs: PGBACKREST [--tls-server-address=::] OPTION... server
#
# pgBackRest binds only the first address its tls-server-address resolves to, so the
# configuration's `*` is IPv4 alone, and an IPv6-only pod would never get a backup connection.
# Where the kernel has IPv6 (/proc/net/if_inet6 exists) and an IPv6 socket also takes IPv4
# (net.ipv6.bindv6only is 0, Linux's default), `::` serves both families; else `*` stays. The
# server replaces this script (exec): its signals, SIGHUP for a reload included, reach it directly.
# PGC_IF_INET6 and PGC_BINDV6ONLY name the two files (for tests).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: pgbackrest-server.sh PGBACKREST [OPTION...]" >&2
  exit 64
fi
pgbackrest="$1"
shift
if_inet6="${PGC_IF_INET6:-/proc/net/if_inet6}"
bindv6only_file="${PGC_BINDV6ONLY:-/proc/sys/net/ipv6/bindv6only}"
bindv6only=0
if [ -r "$bindv6only_file" ]; then
  read -r bindv6only < "$bindv6only_file"
fi
if [ -e "$if_inet6" ] && [ "$bindv6only" = 0 ]; then
  exec "$pgbackrest" --tls-server-address=:: "$@" server
fi
exec "$pgbackrest" "$@" server
