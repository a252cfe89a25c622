#!/usr/bin/env bash
# Builds kube-router's network policy controller (github.com/cloudnativelabs/kube-router/v2, iptables +
# ipset) from its Go module: kube-router/ holds a main of our own on the upstream netpol package (only
# the firewall, a --namespace scope, cleanup of its chains and ipsets on exit; see its main.go and
# ADDONS.md). Cached outside the repository, keyed by the module files. Prints the bin directory on
# stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key="$(cd "$here" && find kube-router -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
cache="${KUBE_CACHE_DIR:-/var/cache/cdk8s-postgres-cluster/kube}"
out="$cache/kube-router-$key"
if [ -x "$out/bin/kube-router-netpol" ]; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-kube-router.sh: Go is needed" >&2; exit 1; }
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-kube-router-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
mkdir -p "$tmp/bin"
start=$(date +%s)
cd "$here/kube-router"
echo "build-kube-router.sh: building kube-router $(go list -m -f '{{.Version}}' github.com/cloudnativelabs/kube-router/v2) netpol" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/kube-router-netpol" .
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-kube-router.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
