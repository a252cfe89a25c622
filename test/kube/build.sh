#!/usr/bin/env bash
# Builds the real Kubernetes control plane the end-to-end suite runs, from Go modules:
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and kubectl from
# k8s.io/kubernetes at KUBE_VERSION (versions.env), and etcd at the version that release requires.
# The binaries are cached outside the repository, keyed by the version and the module files, and
# reused when present. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/kube/versions.env
. "$here/versions.env"
# shellcheck source=test/kube/cache.sh
. "$here/cache.sh"
key="$(cache_key_files "$here/go/go.mod" "$here/go/go.sum" "$here/go/cmd/etcd/main.go")"
out="$(cache_dir)/$KUBE_VERSION-$key"
commands=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)
if cache_has_executables "$out/bin" "${commands[@]}" etcd; then
  echo "$out/bin"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: Go is needed to build the Kubernetes components" >&2; exit 1; }
cache_begin "$out" .build
tmp="$CACHE_TMP"
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
start=$(date +%s)
cd "$here/go"
mkdir -p "$tmp/bin"
for c in "${commands[@]}"; do
  echo "build.sh: building $c $KUBE_VERSION" >&2
  CGO_ENABLED=0 go build -mod=readonly -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$tmp/bin/$c" "k8s.io/kubernetes/cmd/$c"
done
echo "build.sh: building etcd" >&2
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" ./cmd/etcd
cache_commit "$out"
echo "build.sh: built in $(( $(date +%s) - start )) s into $out" >&2
echo "$out/bin"
