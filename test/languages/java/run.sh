#!/usr/bin/env bash
# Java smoke app: builds test/languages/java against the locally built Maven package
# (dist/java, from `npx projen package:java`) and the locally generated cdk8s-plus-27 binding
# (node_modules/cdk8s-plus-27/dist/java, from test/languages/dependency-bindings.sh), then runs it:
#   bash test/languages/java/run.sh <outdir>
# writes <outdir>/basic/basic.k8s.yaml, <outdir>/production/production.k8s.yaml (Java
# translations of examples/basic and examples/production) and <outdir>/errors.txt (the messages
# Java receives for two invalid props). Nothing is installed into ~/.m2 and nothing is written to
# the repository: Maven uses its own local repository under the cache directory, and the build
# output goes to a temporary directory.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: bash test/languages/java/run.sh <outdir>" >&2
  exit 2
fi
mkdir -p "$1"
outdir="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
# shellcheck source=test/languages/lib.sh
. "$here/../lib.sh"

version=0.0.0 # the cdk8s-postgres-cluster version pom.xml pins
pg_repo="$root/dist/java"
plus_repo="$root/node_modules/cdk8s-plus-27/dist/java"
if [ ! -f "$pg_repo/io/github/cdk8s-postgres-cluster/cdk8s-postgres-cluster/$version/cdk8s-postgres-cluster-$version.jar" ]; then
  echo "java smoke: no cdk8s-postgres-cluster $version artifact in $pg_repo: run npx projen package:java first" >&2
  exit 1
fi
if [ -z "$(find -L "$plus_repo/org/cdk8s/cdk8s-plus-27" -name 'cdk8s-plus-27-*.jar' ! -name '*-sources.jar' ! -name '*-javadoc.jar' 2>/dev/null)" ]; then
  echo "java smoke: the cdk8s-plus-27 Java binding is missing ($plus_repo): run bash test/languages/dependency-bindings.sh first" >&2
  exit 1
fi

# The YAML is only comparable with the TypeScript synth if Java runs the same cdk8s, cdk8s-plus-27
# and constructs JavaScript, and the jsii-runtime of the jsii-pacmak that generated the bindings:
# the versions pom.xml pins must be the ones in node_modules.
for pkg in cdk8s cdk8s-plus-27 constructs jsii-pacmak; do
  want="$(node_module_version "$pkg")"
  pinned="$(sed -n "s|.*<$pkg\.version>\(.*\)</$pkg\.version>.*|\1|p" "$here/pom.xml")"
  if [ "$want" != "$pinned" ]; then
    echo "java smoke: pom.xml pins $pkg $pinned but node_modules has $want: update pom.xml" >&2
    exit 1
  fi
done

cache="${CDK8S_PG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-postgres-cluster}"
m2="$cache/m2"
# Both local artifacts keep their version while their contents change (0.0.0 is rebuilt, the
# binding regenerated): drop the cached copies so Maven takes the current ones every run.
rm -rf "$m2/io/github/cdk8s-postgres-cluster" "$m2/org/cdk8s/cdk8s-plus-27"
mkdir -p "$m2"

build="$(mktemp -d "${TMPDIR:-/tmp}/cdk8s-pg-java-smoke.XXXXXX")"
trap 'rm -rf "$build"' EXIT

# Maven 3.8's -q still prints bare colour resets (ESC[0m) to stdout: keep its output for failures.
mvn -B -q -f "$here/pom.xml" \
  -Dmaven.repo.local="$m2" -Dstyle.color=never \
  -Dsmoke.build.dir="$build/target" \
  -Dcdk8s.pg.repo="file://$pg_repo" \
  -Dcdk8s.plus.repo="file://$plus_repo" \
  -Dmdep.outputFile="$build/classpath.txt" \
  compile dependency:build-classpath >"$build/mvn.log" 2>&1 \
  || { cat "$build/mvn.log" >&2; echo "java smoke: the Maven build failed" >&2; exit 1; }

java -cp "$build/target/classes:$(cat "$build/classpath.txt")" \
  io.github.cdk8spostgrescluster.smoke.Main "$outdir"
echo "java smoke: wrote $outdir/basic, $outdir/production and $outdir/errors.txt" >&2
