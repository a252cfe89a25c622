#!/usr/bin/env bash
# The package as users meet it: `npm pack` from a clean tree (no lib/: packing must build it),
# installed into a fresh cdk8s app beside cdk8s, constructs and cdk8s-plus-27, required, then
# `cdk8s synth`; then its command line as users run it
# (`npx cdk8s-postgres-cluster …`): --help, synth from a spec, validate (clean and broken),
# diagram, and `init` in an empty folder followed by `cdk8s synth` there. Fails if the tarball
# misses a file, a dependency is undeclared, or any step does not give what it should.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/pkg-smoke-XXXXXX)"
trap 'rm -rf "$work"' EXIT
# Pack from a clean tree, as a fresh clone is: the repository's files with no lib/ and no
# tsconfig.tsbuildinfo, only node_modules shared. `npm pack` itself must build (prepack).
mkdir "$work/clone"
cd "$root"
git ls-files --cached --others --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && cp --parents -P "$f" "$work/clone/"
done
ln -s "$root/node_modules" "$work/clone/node_modules"
[ ! -e "$work/clone/lib" ] || { echo "package smoke: the clean tree already has lib/" >&2; exit 1; }
cd "$work/clone"
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
echo "packed $tarball from a clean tree ($(du -k "$work/$tarball" | cut -f1) KiB)"
mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$work/$tarball" cdk8s@^2 constructs@^10 cdk8s-plus-27@^2 cdk8s-cli@^2 >/dev/null
# The package can be required as installed, and exports what the README uses.
node -e "
const m = require('cdk8s-postgres-cluster');
for (const name of ['PostgresCluster', 'Resources', 'Tls', 'BackupRepository']) {
  if (typeof m[name] !== 'function') { console.error('package smoke: the package does not export ' + name); process.exit(1); }
}
"
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

# The command line from the installed package.
tar tzf "$work/$tarball" > files.txt
# With the programs the pods run (src/scripts, copied to lib/scripts by the compile task).
wanted=(package/bin/cdk8s-postgres-cluster package/bin/kubectl-pg package/lib/cli/main.js
  package/lib/cli/dashboard/page.html package/lib/cli/dashboard/page.js package/lib/cli/dashboard/page.css)
for s in "$root"/src/scripts/*.py "$root"/src/scripts/*.sh; do wanted+=("package/lib/scripts/${s##*/}"); done
for f in "${wanted[@]}"; do
  grep -qx "$f" files.txt || { echo "package smoke: $f missing from the tarball" >&2; exit 1; }
done
cli() { npx --no-install cdk8s-postgres-cluster "$@"; }
expect_exit() { # expect_exit CODE COMMAND...: runs the CLI, fails unless it exits with CODE
  local want="$1" got=0; shift
  cli "$@" > cli.log 2>&1 || got=$?
  [ "$got" -eq "$want" ] || { echo "package smoke: 'cdk8s-postgres-cluster $*' exited $got, expected $want" >&2; cat cli.log >&2; exit 1; }
}
expect_exit 0 --help
grep -q 'validate' cli.log || { echo "package smoke: --help does not list validate" >&2; exit 1; }
cat > orders.yaml <<'YAML'
apiVersion: postgres.cdk8s.io/v1alpha1
kind: PostgresCluster
metadata: { name: orders-db, namespace: orders }
spec:
  replicas: { count: 2, mode: synchronous }
  resources: { cpu: 1, memory: 2Gi }
  storage: { size: 20Gi }
YAML
expect_exit 0 synth orders.yaml -o from-spec
grep -q 'synchronous_mode: true' from-spec/orders-db.k8s.yaml || { echo "package smoke: synth from a spec lost the replication mode" >&2; exit 1; }
expect_exit 0 validate from-spec dist
sed 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' from-spec/orders-db.k8s.yaml > broken.k8s.yaml
expect_exit 1 validate broken.k8s.yaml
grep -q 'allowPrivilegeEscalation must be false' cli.log || { echo "package smoke: validate did not name the broken rule" >&2; cat cli.log >&2; exit 1; }
expect_exit 2 validate no-such-folder
sed 's/replicas:/replica:/' orders.yaml > typo.yaml
expect_exit 2 synth typo.yaml
grep -q 'did you mean replicas' cli.log || { echo "package smoke: synth did not name the unknown field" >&2; cat cli.log >&2; exit 1; }
expect_exit 0 diagram from-spec --out-dir pics
head -c 4 pics/topology.svg | grep -q '<svg' && head -c 15 pics/topology.html | grep -q '<!DOCTYPE html>' \
  || { echo "package smoke: diagram did not write SVG and HTML" >&2; exit 1; }
# The kubectl plugin: the same program, named `kubectl pg`; no kubeconfig is exit code 2.
npx --no-install kubectl-pg status --help > plugin.log 2>&1 && grep -q 'Usage: kubectl pg status' plugin.log \
  || { echo "package smoke: kubectl-pg status --help" >&2; cat plugin.log >&2; exit 1; }
expect_exit 2 status orders-db --kubeconfig no-such.kubeconfig
grep -q 'no kubeconfig: .*no-such.kubeconfig does not exist' cli.log || { echo "package smoke: status did not name the missing kubeconfig" >&2; cat cli.log >&2; exit 1; }
echo "package smoke: the CLI's --help, synth, validate (0, 1 and 2), diagram, status and the kubectl-pg plugin work from the installed package"

# init in an empty folder, then cdk8s synth there (the package from the tarball, the rest from the registry).
mkdir "$work/init-app" && cd "$work/init-app"
# As the README's Install section says: init run from the tarball with npx.
npx --yes --package "$work/$tarball" cdk8s-postgres-cluster init --name smoke-db > init.log
npm install --no-audit --no-fund --loglevel=error "$work/$tarball" >/dev/null
npx cdk8s synth > synth.log 2>&1 || { cat init.log synth.log >&2; exit 1; }
grep -q 'name: smoke-db-primary' dist/smoke-db.k8s.yaml || { echo "package smoke: init's app did not synthesize the cluster" >&2; exit 1; }
# dist/ holds only manifests (no construct-metadata.json), so `kubectl apply -f dist/` applies it.
[ "$(ls dist)" = "smoke-db.k8s.yaml" ] || { echo "package smoke: dist/ holds more than the manifests: $(ls dist | tr '\n' ' ')" >&2; exit 1; }
# init's cdk8s.yaml names the package's validation plugin: cdk8s synth ran the checks and they passed.
grep -q 'Validation Report (.*validation-plugin.js' synth.log && grep -q 'Validations ended succes' synth.log \
  || { echo "package smoke: cdk8s synth did not run the validation plugin" >&2; cat synth.log >&2; exit 1; }
npx --no-install cdk8s-postgres-cluster validate dist > validate.log 2>&1 || { cat validate.log >&2; exit 1; }
echo "package smoke: init + cdk8s synth wrote $(grep -c '^kind:' dist/smoke-db.k8s.yaml) objects; $(tail -1 validate.log)"
