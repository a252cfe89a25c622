# shellcheck shell=bash
# Sourced by the scripts in test/kube that build or fetch something into the cache outside the
# repository (build.sh, build-addons.sh, build-kube-router.sh, prometheus-operator-crds.sh). Each
# names its result "$(cache_dir)/<name>-<key>", reuses it when complete, else builds into a
# temporary directory next to it and moves that into place, so an interrupted build never leaves
# a directory that looks complete. The cache keys are how existing caches are found: changing how
# a key is computed makes every machine rebuild.

# The cache's root: KUBE_CACHE_DIR, else /var/cache/cdk8s-postgres-cluster/kube.
cache_dir() {
  echo "${KUBE_CACHE_DIR:-/var/cache/cdk8s-postgres-cluster/kube}"
}

# cache_key_files FILE...: the first 12 hex digits of the SHA-256 of the files' contents, concatenated.
cache_key_files() {
  cat "$@" | sha256sum | cut -c1-12
}

# cache_key_go_files DIR PATH...: the first 12 hex digits of the SHA-256 of the sha256sum listing of
# every go.mod, go.sum and *.go file under the PATHs (relative to DIR, sorted bytewise).
cache_key_go_files() {
  local dir="$1"
  shift
  (cd "$dir" && find "$@" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
}

# cache_has_executables DIR NAME...: whether every DIR/NAME is an executable file.
cache_has_executables() {
  local dir="$1" name
  shift
  for name in "$@"; do [ -x "$dir/$name" ] || return 1; done
}

# cache_has_files PATH...: whether the paths (typically a glob's expansion) exist.
cache_has_files() {
  ls "$@" >/dev/null 2>&1
}

# cache_begin OUT PREFIX: creates an empty temporary directory PREFIX-XXXXXX next to OUT (same file
# system, so cache_commit's move is atomic) in CACHE_TMP, removed when the script exits unless
# cache_commit moved it into place.
cache_begin() {
  local root
  root="$(dirname "$1")"
  mkdir -p "$root"
  CACHE_TMP="$(mktemp -d "$root/$2-XXXXXX")"
  trap 'rm -rf "$CACHE_TMP"' EXIT
}

# cache_commit OUT: replaces OUT with the finished CACHE_TMP.
cache_commit() {
  rm -rf "$1"
  mv "$CACHE_TMP" "$1"
  trap - EXIT
}
