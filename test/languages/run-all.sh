#!/usr/bin/env bash
# The library as users of every cdk8s language meet it. Builds the four packages with the
# project's own tasks (jsii-pacmak: npm, PyPI wheel and sdist, Maven repository, Go module into
# dist/), then a fresh app per language (test/languages/<language>/run.sh) installs its package
# from dist/ beside cdk8s, constructs and cdk8s-plus-27 of that ecosystem and synthesizes the
# zero-prop cluster (examples/basic), the production example and the README's first example in
# its own language. Every YAML
# file must be byte-identical to the TypeScript synth of the same app, and the errors two bad
# props raise must reach the app with the TypeScript message. Last, the release check
# (release.sh). Prints how long each step took (BENCHMARKS.md, "Packages for every language").
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
work="$(mktemp -d /tmp/languages-XXXXXX)"
trap 'rm -rf "$work"' EXIT
timings=()
step() { # step NAME COMMAND...: runs COMMAND with its output in a log, shown if it fails; records its time
  local name="$1" start end log="$work/${1//[^a-z0-9]/-}.log"; shift
  start=$(date +%s.%N)
  "$@" > "$log" 2>&1 || { tail -60 "$log" >&2; echo "languages: '$name' failed (above: the end of its output)" >&2; exit 1; }
  end=$(date +%s.%N)
  timings+=("$(awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "%-28s %6.1f s", n, e - s }')")
}

step 'dependency bindings' bash test/languages/dependency-bindings.sh
step 'compile (jsii)' npx projen compile
rm -rf dist/js dist/python dist/java dist/go
for target in js python java go; do
  step "package:$target" npx projen "package:$target"
done

# The reference: the same apps synthesized in TypeScript, and the messages the bad props give there.
mkdir -p "$work/typescript"
npx ts-node --transpile-only test/languages/typescript-reference.ts "$work/typescript"

for lang in python java go; do
  step "$lang app" bash "test/languages/$lang/run.sh" "$work/$lang"
  for example in basic production readme; do
    diff -r "$work/typescript/$example" "$work/$lang/$example" \
      || { echo "languages: the $lang synth of $example differs from the TypeScript one (above)" >&2; exit 1; }
  done
  diff "$work/typescript/errors.txt" "$work/$lang/errors.txt" \
    || { echo "languages: the errors the $lang app received differ from the TypeScript messages (above)" >&2; exit 1; }
  echo "languages: $lang: basic, production and readme byte-identical to TypeScript ($(cat "$work/$lang"/*/*.k8s.yaml | wc -c) bytes), $(wc -l < "$work/$lang/errors.txt") error messages identical"
done
step 'release check' bash test/languages/release.sh
echo "languages: packages in dist/:" dist/js/*.tgz dist/python/*.whl dist/python/*.tar.gz dist/java/io/github/cdk8s-postgres-cluster/cdk8s-postgres-cluster/*/*.jar dist/go/*/go.mod
printf '%s\n' "${timings[@]}"
