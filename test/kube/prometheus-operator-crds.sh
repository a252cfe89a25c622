#!/usr/bin/env bash
# The Prometheus Operator's CRDs (PodMonitor, ServiceMonitor, Prometheus, ...) from the Go module
# github.com/prometheus-operator/prometheus-operator at the version versions.env pins: its
# example/prometheus-operator-crd/*.yaml, read from the Go module cache (`go mod download`, which
# checks the module against the Go checksum database) the way build-addons.sh takes cert-manager's
# CRDs. Nothing is built and no copy is kept in the repository. Cached outside the repository,
# keyed by the version; prints the directory (`kubectl apply --server-side -f <dir>`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=test/kube/versions.env
. "$here/versions.env"
# shellcheck source=test/kube/cache.sh
. "$here/cache.sh"
version="${PROMETHEUS_OPERATOR_VERSION:?versions.env sets PROMETHEUS_OPERATOR_VERSION}"
out="$(cache_dir)/prometheus-operator-crds-$version"
if cache_has_files "$out"/monitoring.coreos.com_podmonitors.yaml; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "prometheus-operator-crds.sh: Go is needed to fetch the module" >&2; exit 1; }
cache_begin "$out" .prometheus-operator-crds
tmp="$CACHE_TMP"
module=github.com/prometheus-operator/prometheus-operator
echo "prometheus-operator-crds.sh: $module@$version from the module cache" >&2
# Outside any module: `go mod download` of an explicit version needs no go.mod.
dir="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module@$version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
src="$dir/example/prometheus-operator-crd"
ls "$src"/*.yaml >/dev/null 2>&1 || { echo "prometheus-operator-crds.sh: no CRDs in '$src'" >&2; exit 1; }
cp "$src"/*.yaml "$tmp/"
chmod 0755 "$tmp"
chmod 0644 "$tmp"/*.yaml
cache_commit "$out"
echo "$out"
