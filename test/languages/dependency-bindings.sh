#!/usr/bin/env bash
# The jsii bindings of cdk8s and cdk8s-plus-27 that the registries these machines reach do not
# serve: Maven Central here has org.cdk8s:cdk8s but not org.cdk8s:cdk8s-plus-27, and the Go module
# proxy refuses github.com/cdk8s-team/cdk8s-core-go and cdk8s-plus-go (403). They are generated
# with jsii-pacmak (the generator their own releases use) from the very npm packages in
# node_modules, once per version (cached outside the repository), and placed where jsii-pacmak
# looks for a dependency's local build: node_modules/<package>/dist/<language>. Then the project's
# own `package:java` and `package:go` tasks build against them unchanged, and so do the smoke
# apps (test/languages/smoke.sh). Users get these packages from Maven Central and the Go proxy.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
pacmak="$(node -p "require('jsii-pacmak/package.json').version")"
cache="${CDK8S_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-postgres-cluster}/bindings"

# bind PACKAGE LANGUAGE: generate (or reuse) PACKAGE's LANGUAGE binding and link it into node_modules.
bind() {
  local pkg="$1" lang="$2" version out
  version="$(node -p "require('$pkg/package.json').version")"
  out="$cache/$pkg-$version-pacmak-$pacmak"
  if [ ! -e "$out/$lang.done" ]; then
    echo "dependency-bindings: generating the $lang binding of $pkg@$version (jsii-pacmak $pacmak)" >&2
    rm -rf "${out:?}/$lang"
    mkdir -p "$out"
    npx jsii-pacmak --no-npmignore --no-fingerprint --target "$lang" -o "$out" "node_modules/$pkg" >"$out/$lang.log" 2>&1 \
      || { tail -40 "$out/$lang.log" >&2; echo "dependency-bindings: jsii-pacmak failed for $pkg ($lang); log: $out/$lang.log" >&2; exit 1; }
    touch "$out/$lang.done"
  fi
  mkdir -p "node_modules/$pkg/dist"
  ln -sfn "$out/$lang" "node_modules/$pkg/dist/$lang"
}

# Go: cdk8s-plus-27's module builds against the local cdk8s one, so cdk8s comes first.
bind cdk8s go
bind cdk8s-plus-27 go
bind cdk8s-plus-27 java
