#!/usr/bin/env bash
# Builds the cluster add-ons the end-to-end suite runs next to the control plane, from Go modules:
# - coredns: CoreDNS (coredns/), a main of our own with only the plugins a cluster DNS needs;
# - cert-manager-controller: a main of our own (cert-manager/) that runs cert-manager's CA and
#   SelfSigned issuers and Certificate controllers, with the upstream module as a library.
# Next to bin/ it puts cert-manager-crds/: the CRDs from that module's deploy/crds at the version
# cert-manager/go.mod pins, read from the Go module cache (kubectl apply -f that directory).
# Everything is cached outside the repository, keyed by the module files, and reused when
# present. Prints the bin directory on stdout (the CRDs are in "$(dirname bin)/cert-manager-crds");
# progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/kube/cache.sh
. "$here/cache.sh"
key="$(cache_key_go_files "$here" coredns cert-manager)"
out="$(cache_dir)/addons-$key"
if cache_has_executables "$out/bin" coredns cert-manager-controller && cache_has_files "$out"/cert-manager-crds/*.yaml; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-addons.sh: Go is needed to build the add-ons" >&2; exit 1; }
cache_begin "$out" .build-addons
tmp="$CACHE_TMP"
chmod 0755 "$tmp"
mkdir -p "$tmp/bin"
start=$(date +%s)

cd "$here/coredns"
echo "build-addons.sh: building coredns $(go list -m -f '{{.Version}}' github.com/coredns/coredns)" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/coredns" .

cd "$here/cert-manager"
cm_version="$(go list -m -f '{{.Version}}' github.com/cert-manager/cert-manager)"
echo "build-addons.sh: building cert-manager-controller $cm_version" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath \
  -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$cm_version" \
  -o "$tmp/bin/cert-manager-controller" .
# The CRDs ship in the module itself (deploy/crds); take them from the module cache at the pinned
# version rather than keeping copies in the repository.
go mod download github.com/cert-manager/cert-manager
cm_dir="$(go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)"
[ -d "$cm_dir/deploy/crds" ] || { echo "build-addons.sh: no deploy/crds in '$cm_dir'" >&2; exit 1; }
mkdir -p "$tmp/cert-manager-crds"
cp "$cm_dir"/deploy/crds/*.yaml "$tmp/cert-manager-crds/"
chmod 0644 "$tmp"/cert-manager-crds/*.yaml

cache_commit "$out"
echo "build-addons.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
