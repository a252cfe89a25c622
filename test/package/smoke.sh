#!/usr/bin/env bash
# The package as users meet it: `npm pack`, installed into a fresh cdk8s app beside cdk8s,
# constructs and cdk8s-plus-27, then `cdk8s synth`. Fails if the tarball misses a file, a
# dependency is undeclared, or the synthesized cluster is not there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/pkg-smoke-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$root"
npx projen compile >/dev/null
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"
mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$work/$tarball" cdk8s@^2 constructs@^10 cdk8s-plus-27@^2 cdk8s-cli@^2 >/dev/null
cat > main.js <<'JS'
const { App, Chart } = require('cdk8s');
const { PostgresCluster, ReplicationMode } = require('cdk8s-postgres-cluster');
const app = new App();
const chart = new Chart(app, 'smoke');
const db = new PostgresCluster(chart, 'db', { replicas: { count: 2 }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } });
console.error(`read-write host: ${db.primaryHost}`);
app.synth();
JS
printf 'language: typescript\napp: node main.js\n' > cdk8s.yaml
npx cdk8s synth > synth.log 2>&1 || { cat synth.log >&2; exit 1; }
out=dist/smoke.k8s.yaml
for want in 'kind: StatefulSet' 'name: db-primary' 'name: db-replica' 'synchronous_mode: true' 'kind: PodDisruptionBudget'; do
  grep -q "$want" "$out" || { echo "package smoke: '$want' missing from $out" >&2; exit 1; }
done
echo "package smoke: cdk8s synth of the packed library wrote $(grep -c '^kind:' "$out") objects to $out"
