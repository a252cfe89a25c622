#!/usr/bin/env bash
# Builds kube-router's network policy controller (github.com/cloudnativelabs/kube-router/v2, iptables +
# ipset) from its Go module: kube-router/ holds a main of our own on the upstream netpol package (only
# the firewall, a --namespace scope, cleanup of its chains and ipsets on exit; see its main.go and
# ADDONS.md). Cached outside the repository, keyed by the module files. Prints the bin directory on
# stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/kube/cache.sh
. "$here/cache.sh"
key="$(cache_key_go_files "$here" kube-router)"
out="$(cache_dir)/kube-router-$key"
if cache_has_executables "$out/bin" kube-router-netpol; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-kube-router.sh: Go is needed" >&2; exit 1; }
cache_begin "$out" .build-kube-router
tmp="$CACHE_TMP"
chmod 0755 "$tmp"
mkdir -p "$tmp/bin"
start=$(date +%s)
cd "$here/kube-router"
echo "build-kube-router.sh: building kube-router $(go list -m -f '{{.Version}}' github.com/cloudnativelabs/kube-router/v2) netpol" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/kube-router-netpol" .
cache_commit "$out"
echo "build-kube-router.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
