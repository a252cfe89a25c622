#!/usr/bin/env bash
# Python smoke test: in a fresh virtual environment, install from PyPI the cdk8s, constructs and
# cdk8s-plus-27 versions that node_modules holds (so the same JavaScript runs as in the TypeScript
# synth), the jsii runtime of node_modules/jsii-pacmak (the generator of the binding), and the
# locally built wheel from dist/python; then run app.py, which synthesizes the examples to
# OUTDIR/basic and OUTDIR/production and writes OUTDIR/errors.txt.
#
#   bash test/languages/python/run.sh OUTDIR
#
# OUTDIR/basic and OUTDIR/production must equal dist/examples/basic and dist/examples/production.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
outdir="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=test/languages/lib.sh
. "$here/../lib.sh"

shopt -s nullglob
wheels=("$root"/dist/python/cdk8s_postgres_cluster-*.whl)
shopt -u nullglob
if [ "${#wheels[@]}" -eq 0 ]; then
  echo "python smoke: no wheel in $root/dist/python: run npx projen package:python first" >&2
  exit 1
fi
if [ "${#wheels[@]}" -gt 1 ]; then
  echo "python smoke: more than one wheel in $root/dist/python: ${wheels[*]}" >&2
  exit 1
fi
wheel="${wheels[0]}"

cdk8s_version="$(node_module_version cdk8s)"
constructs_version="$(node_module_version constructs)"
plus_version="$(node_module_version cdk8s-plus-27)"
jsii_version="$(node_module_version jsii-pacmak)"

venv="$(mktemp -d "${TMPDIR:-/tmp}/cdk8s-pg-python.XXXXXX")"
trap 'rm -rf "$venv"' EXIT

start="$(date +%s.%N)"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "cdk8s==$cdk8s_version" \
  "constructs==$constructs_version" \
  "cdk8s-plus-27==$plus_version" \
  "jsii==$jsii_version" \
  "$wheel"
installed="$(date +%s.%N)"

mkdir -p "$outdir"
"$venv/bin/python" "$here/app.py" "$outdir"
done_at="$(date +%s.%N)"

echo "python smoke: cdk8s $cdk8s_version, constructs $constructs_version, cdk8s-plus-27 $plus_version, jsii $jsii_version, $(basename "$wheel")" >&2
awk -v a="$start" -v b="$installed" -v c="$done_at" \
  'BEGIN { printf "python smoke: venv+install %.1fs, synth %.1fs\n", b - a, c - b }' >&2
