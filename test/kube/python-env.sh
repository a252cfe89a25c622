#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment with Patroni 4 from PyPI that the node agent
# binds where the image has `patroni`. Cached outside the repository, keyed by requirements.txt.
# Prints the venv directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key="$(sha256sum "$here/requirements.txt" | cut -c1-12)"
# Readable by the pods' unprivileged users: not under $HOME.
cache="${KUBE_CACHE_DIR:-/var/cache/cdk8s-postgres-cluster/kube}"
venv="$cache/patroni-$key"
if [ -f "$venv/.complete" ]; then echo "$venv"; exit 0; fi
mkdir -p "$cache"
# The venv lives at its final path (scripts record it in their shebang lines).
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt" >&2
"$venv/bin/patroni" --version >&2
touch "$venv/.complete"
chmod -R a+rX "$venv"
echo "$venv"
