#!/usr/bin/env bash
# The Go smoke app: builds test/languages/go against the locally built Go module
# (dist/go/cdk8spostgrescluster) and the locally generated cdk8s / cdk8s-plus-27 Go bindings
# (replace directives in go.mod), then runs it. It writes OUTDIR/basic/basic.k8s.yaml and
# OUTDIR/production/production.k8s.yaml, which must equal dist/examples/*, and OUTDIR/errors.txt.
#   usage: bash test/languages/go/run.sh OUTDIR
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=test/languages/lib.sh
. "$here/../lib.sh"

if [ ! -f "$root/dist/go/cdk8spostgrescluster/go.mod" ]; then
  echo "go smoke: $root/dist/go/cdk8spostgrescluster is missing: run npx projen package:go first" >&2
  exit 1
fi
for binding in cdk8s/dist/go/cdk8s cdk8s-plus-27/dist/go/cdk8splus27; do
  if [ ! -f "$root/node_modules/$binding/go.mod" ]; then
    echo "go smoke: the Go binding node_modules/$binding is missing: run bash test/languages/dependency-bindings.sh first" >&2
    exit 1
  fi
done
command -v go >/dev/null || { echo "go smoke: go is not on PATH" >&2; exit 1; }
command -v node >/dev/null || { echo "go smoke: node is not on PATH (the jsii runtime needs it)" >&2; exit 1; }
mkdir -p "$1"
outdir="$(cd "$1" && pwd)"

# The binary goes to a temporary directory, so nothing is left in the repository.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$here"
go build -mod=readonly -o "$tmp/go-smoke" .
"$tmp/go-smoke" "$outdir"
echo "go smoke: wrote $outdir/basic, $outdir/production and $outdir/errors.txt"
