#!/usr/bin/env bash
# Installs the Debian packages the end-to-end suite runs (PostgreSQL 15, pgBackRest,
# Chromium for the diagram's browser test, nftables for kube-proxy and the local cluster's network
# guard, iptables and ipset for kube-router's network policy controller) when they are missing. The Kubernetes components are built from Go modules by
# test/kube/build.sh and build-addons.sh, Patroni 4 comes from PyPI (test/kube/python-env.sh; Debian's patroni package is not used, and
# /usr/bin/patroni may be an empty mount point the node agent left). Needs root (the suite itself runs members as the unprivileged postgres user).
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/bin/prometheus-postgres-exporter ] || need+=(prometheus-postgres-exporter)
command -v pgbackrest >/dev/null || need+=(pgbackrest)
[ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || need+=(python3-psycopg2)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nft >/dev/null || need+=(nftables)
# kube-router's network policy controller (network-policy.e2e.test.ts) writes iptables-nft rules and ipsets.
command -v iptables-save >/dev/null || need+=(iptables)
command -v ipset >/dev/null || need+=(ipset)
# The unit tests lint and test the pods' programs in their own languages (npm test).
command -v shellcheck >/dev/null || need+=(shellcheck)
/usr/bin/python3 -c 'import pyflakes' 2>/dev/null || need+=(python3-pyflakes)
command -v openssl >/dev/null || need+=(openssl)
# promtool checks the alert rules and runs their unit tests (test/render/alert-rules.test.ts).
[ -x /usr/bin/promtool ] || need+=(prometheus)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "The end-to-end suite needs these Debian packages: ${need[*]}; run as root or install them first." >&2
  exit 1
fi
echo "installing ${need[*]}"
# Keep the packages' own services (a 'main' PostgreSQL cluster, an etcd) from starting.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=true
fi
trap '[ "$created_policy" = true ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
