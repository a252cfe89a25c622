#!/usr/bin/env bash
# Builds kube-network-policies (sigs.k8s.io/kube-network-policies, the NetworkPolicy
# implementation of SIG Network that decides in userspace through nfqueue) from its Go module:
# kube-network-policies/ holds a main of our own on the upstream controller package, because the
# module's cmd reads only the in-cluster config and can run only inside a pod.
# NOT wired into cluster.sh or test:e2e: its nftables rules cannot load on this sandbox's kernel
# (no nft "queue" expression; see nfqueue-check.sh and ADDONS.md). Cached outside the repository,
# keyed by the module files. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key="$(cd "$here" && find kube-network-policies -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
cache="${KUBE_CACHE_DIR:-/var/cache/cdk8s-postgres-cluster/kube}"
out="$cache/network-policies-$key"
if [ -x "$out/bin/kube-network-policies" ]; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-network-policies.sh: Go is needed" >&2; exit 1; }
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-network-policies-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
mkdir -p "$tmp/bin"
start=$(date +%s)
cd "$here/kube-network-policies"
echo "build-network-policies.sh: building kube-network-policies $(go list -m -f '{{.Version}}' sigs.k8s.io/kube-network-policies)" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/kube-network-policies" .
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-network-policies.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
