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
modules=(coredns cert-manager)
key="$(cd "$here" && find "${modules[@]}" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
cache="${KUBE_CACHE_DIR:-/var/cache/cdk8s-postgres-cluster/kube}"
out="$cache/addons-$key"
commands=(coredns cert-manager-controller)
complete=true
for c in "${commands[@]}"; do [ -x "$out/bin/$c" ] || complete=false; done
ls "$out"/cert-manager-crds/*.yaml >/dev/null 2>&1 || complete=false
if [ "$complete" = true ]; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-addons.sh: Go is needed to build the add-ons" >&2; exit 1; }
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-addons-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
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

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-addons.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
