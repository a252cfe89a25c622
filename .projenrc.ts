import { cdk8s, javascript } from 'projen';

// jsii 6 prints an end-of-life banner on Node 20, the Node these machines run.
const quietJsii = { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };

const project = new cdk8s.ConstructLibraryCdk8s({
  name: 'cdk8s-postgres-cluster',
  description:
    'A highly available PostgreSQL cluster (Patroni, streaming replication, pgBackRest) as plain Kubernetes YAML, with no operator.',
  author: 'cdk8s-postgres-cluster maintainers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/cdk8s-postgres-cluster/cdk8s-postgres-cluster.git',
  keywords: ['cdk8s', 'postgres', 'postgresql', 'patroni', 'kubernetes', 'high-availability', 'pgbackrest'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  cdk8sVersion: '2.70.0',
  constructsVersion: '10.4.2',
  jsiiVersion: '~6.0.0',
  // cdk8s-plus-27 is a peer: users bring the one their app already uses.
  peerDeps: ['cdk8s-plus-27@^2.9.5'],
  // The CLI's runtime dependencies (src/cli, src/validate). A jsii library ships its runtime
  // dependencies bundled in its tarball.
  bundledDeps: [
    // The command line: subcommands, --help, option parsing.
    'commander@^14',
    // Official Kubernetes OpenAPI schemas (CommonJS line): `validate` and the tests check every object.
    'kubernetes-models@^4.5.1',
    // Upstream Prometheus Operator and cert-manager schemas, for the PodMonitor and Certificates the library emits.
    '@kubernetes-models/prometheus-operator@^4.4.4',
    '@kubernetes-models/cert-manager@^4.4.4',
    // Reads spec files and synthesized YAML (CLI, tests, end-to-end harness).
    'yaml@^2',
  ],
  devDeps: [
    'cdk8s-plus-27@^2.9.5',
    'fast-check@^3',
    // The diagram's end-to-end test: Debian's headless Chromium driven over DevTools, its screenshot decoded.
    'puppeteer-core@^24',
    'pngjs@^7',
    '@types/pngjs@^6',
    // An S3-compatible server (TLS) the end-to-end backup suite backs up to and restores from.
    's3rver@^3',
  ],
  // One package per cdk8s language, named as each ecosystem's users look for them (cdk8s-plus does
  // the same). NuGet is not reachable from these machines, so there is no .NET package.
  publishToPypi: { distName: 'cdk8s-postgres-cluster', module: 'cdk8s_postgres_cluster' },
  publishToMaven: {
    javaPackage: 'io.github.cdk8spostgrescluster',
    mavenGroupId: 'io.github.cdk8s-postgres-cluster',
    mavenArtifactId: 'cdk8s-postgres-cluster',
  },
  publishToGo: { moduleName: 'github.com/cdk8s-postgres-cluster/cdk8s-postgres-cluster-go' },
  // Releases as construct libraries do them: `npx projen release` bumps the version from the
  // conventional commits since the last tag, writes the changelog and builds every package; the
  // GitHub release workflow then publishes them (npm, PyPI, Maven Central, the Go module repository).
  // The CI of this repository is .ci/run, so GitHub's build, upgrade and merge workflows are off.
  github: true,
  release: true,
  buildWorkflow: false,
  depsUpgrade: false,
  pullRequestTemplate: false,
  githubOptions: { mergify: false },
  // The release build runs the unit tests, which lint and test the pods' programs in their own
  // languages and check the alert rules with promtool.
  workflowBootstrapSteps: [{
    name: 'Install the Debian packages the unit tests run',
    run: 'sudo apt-get update && sudo apt-get install -y shellcheck python3-pyflakes python3-psycopg2 prometheus',
  }],
  jestOptions: {
    // Snapshots must be able to fail: `npm test` never rewrites them (`npm run test:update` does).
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
      testTimeout: 60_000,
    },
  },
  tsconfigDev: {
    include: ['../examples/**/*.ts', '../bench/**/*.ts'],
    compilerOptions: {},
  },
  eslintOptions: {
    dirs: ['src', 'test', 'examples', 'bench'],
  },
  gitignore: ['/bench/results/', '/.e2e/', '__pycache__/', '/.jsii.tabl.json'],
});

// The command line (src/cli): small bins that require the compiled lib/cli/main.js; kubectl-pg is the
// same program as a kubectl plugin (kubectl finds kubectl-<name> on PATH).
project.addBins({ 'cdk8s-postgres-cluster': 'bin/cdk8s-postgres-cluster', 'kubectl-pg': 'bin/kubectl-pg' });

project.addPackageIgnore('/examples/');
project.addPackageIgnore('/bench/');
project.addPackageIgnore('/.ci/');
project.addPackageIgnore('/BENCHMARKS.md');
project.addPackageIgnore('/.e2e/');
// The API reference of the other languages is for the repository's readers; each package carries its own docs.
project.addPackageIgnore('/docs/api/');

// The programs the pods run are real files in src/scripts (read at synth by src/render/script-files.ts,
// relative to the compiled module): jsii compiles only TypeScript, so the compile task copies them next
// to lib/render, where the package ships them. Python byte code is never copied.
project.compileTask.exec(
  'node -e "require(\'fs\').cpSync(\'src/scripts\', \'lib/scripts\', { recursive: true, filter: (f) => !f.includes(\'__pycache__\') })"',
);
// The `dashboard` command's page (HTML, script and style), served from lib/cli/dashboard.
project.compileTask.exec('node -e "require(\'fs\').cpSync(\'src/cli/dashboard\', \'lib/cli/dashboard\', { recursive: true })"');

for (const [k, v] of Object.entries(quietJsii)) project.tasks.addEnvironment(k, v);

// examples/ and bench/ get their own type-check-only configs so the editor and eslint's project
// service find one next to each file (the test config type-checks them too).
for (const dir of ['examples', 'bench']) {
  const cfg = new javascript.TypescriptConfig(project, {
    fileName: `${dir}/tsconfig.json`,
    include: ['**/*.ts'],
    exclude: ['node_modules'],
    compilerOptions: { noEmit: true, rootDir: '..', isolatedModules: true },
  });
  cfg.addExtends(project.tsconfig!);
}

// Benchmarks and examples are dev-only code: they may import devDependencies.
project.eslint?.allowDevDeps('bench/**');
project.eslint?.allowDevDeps('examples/**');

// The Python, Java and Go packages carry the docs' TypeScript examples translated into their
// language: jsii-rosetta compiles the examples into a tablet that jsii-pacmak reads.
for (const target of ['python', 'java', 'go']) project.tasks.tryFind(`package:${target}`)?.prependExec('jsii-rosetta extract');

// The API reference in the other languages (API.md is TypeScript's), from the same assembly.
project.tasks.tryFind('docgen')!.exec('jsii-docgen --language python --language java --language go --output docs/api/API.md');

// Type-check tests, examples and benchmarks (ts-jest only transpiles them).
const typecheck = project.addTask('typecheck', {
  description: 'Type-check src, test, examples and bench',
  exec: 'tsc --noEmit -p test/tsconfig.json',
});
project.testTask.prependSpawn(typecheck);

// `npm pack` (and `npm publish`, and npm installing the repository as a git dependency) must
// always produce a working package: the npm lifecycle's prepack compiles lib/ first. jsii-pacmak
// (the `package` tasks) runs `npm pack` on a tree `build` has just compiled, so it skips that step.
const packedByPacmak = 'PG_CLUSTER_PACKED_BY_PACMAK';
project.addTask('prepack', {
  description: 'Compile lib/ before npm packs the package (npm lifecycle script)',
  condition: `node -e "if (process.env.${packedByPacmak}) process.exit(1)"`,
  steps: [{ spawn: project.compileTask.name }],
});
for (const name of ['package:js', 'package-all']) project.tasks.tryFind(name)?.env(packedByPacmak, '1');

// The programs in src/scripts, in their own languages. Needs what CI must install (Debian):
// `apt-get install -y shellcheck python3-pyflakes python3-psycopg2` (psycopg2: the heartbeat
// imports it, as in the postgres images). Nothing is installed at test time.
const lintScripts = project.addTask('lint:scripts', {
  description: 'shellcheck the shell programs and pyflakes the Python programs of src/scripts and their tests',
  steps: [
    { exec: 'shellcheck --severity=style src/scripts/*.sh' },
    // The local Kubernetes cluster's scripts and the e2e installer (run from the repository root).
    { exec: 'shellcheck -x --severity=style test/kube/*.sh test/kube/node-agent/*.sh test/e2e/install-deps.sh' },
    // The packages' checks in every language (test:languages).
    { exec: 'shellcheck -x --severity=style test/languages/*.sh test/languages/*/run.sh' },
    // The benchmarks' shell programs.
    { exec: 'shellcheck -x --severity=style bench/*.sh' },
    { exec: '/usr/bin/python3 -m pyflakes src/scripts test/scripts test/languages/python' },
    // The dashboard page's script runs in the browser as written (no build step): it must parse.
    { exec: 'node --check src/cli/dashboard/page.js' },
  ],
});
const testScripts = project.addTask('test:scripts', {
  description: 'Unit tests of the Python programs of src/scripts (python unittest, test/scripts/test_*.py)',
  env: { PYTHONDONTWRITEBYTECODE: '1' },
  exec: '/usr/bin/python3 -m unittest discover -s test/scripts -p "test_*.py"',
});
project.testTask.prependSpawn(testScripts);
project.testTask.prependSpawn(lintScripts);

project.addTask('synth', {
  description: 'Synthesize every example under examples/ to dist/examples/<example>/*.k8s.yaml',
  exec: 'ts-node --transpile-only examples/synth.ts',
});

project.addTask('spec-docs', {
  description: 'Write docs/spec.md, the reference of the CLI\'s spec file, from src/cli/spec/cluster-spec.ts',
  exec: 'ts-node --transpile-only -e "require(\'fs\').writeFileSync(\'docs/spec.md\', require(\'./src/cli/spec/cluster-spec\').specDocument())"',
});

project.addTask('test:package', {
  description:
    'The package as users meet it: npm pack from a clean tree (no lib/), installed into a fresh cdk8s app, required, cdk8s synth, the CLI',
  exec: 'bash test/package/smoke.sh',
});

project.addTask('test:languages', {
  description:
    'The Python, Java and Go packages as their users meet them: built by jsii-pacmak, installed into a fresh app per language, the examples synthesized byte-identical to TypeScript (Java 17, Maven, Go, python3-venv)',
  exec: 'bash test/languages/run-all.sh',
});

project.addTask('test:e2e', {
  description:
    'End-to-end: the synthesized cluster on a local Kubernetes of real components (test/kube) and with real PostgreSQL, Patroni and pgBackRest (root, Debian packages, Go)',
  steps: [
    { exec: 'bash test/e2e/install-deps.sh' },
    // The package as users meet it: npm pack, installed into a fresh cdk8s app, cdk8s synth.
    { spawn: 'test:package' },
    // The same in Python, Java and Go: the jsii packages, each in a fresh app of its language.
    { spawn: 'test:languages' },
    // The local Kubernetes cluster's programs: built once from Go modules and PyPI, then cached.
    { exec: 'bash test/kube/build.sh >/dev/null && bash test/kube/build-addons.sh >/dev/null && bash test/kube/build-kube-router.sh >/dev/null && bash test/kube/python-env.sh >/dev/null' },
    { exec: 'jest --config test/e2e/jest.config.json --runInBand --ci' },
  ],
});

// A local Kubernetes cluster of real components (only the kubelet emulated), for people and the e2e suite.
project.addTask('kube:up', {
  description: 'Start the local Kubernetes cluster (builds its components from Go modules once) and print the KUBECONFIG to use (root)',
  exec: 'bash test/kube/cluster.sh up',
});
project.addTask('kube:down', {
  description: 'Stop the local Kubernetes cluster and remove everything it made',
  exec: 'bash test/kube/cluster.sh down',
});

project.addTask('import', {
  description: 'Regenerate the typed CRD classes in src/imports/ from crds/ (cdk8s import)',
  exec: 'npx -y cdk8s-cli@2 import crds/podmonitors.monitoring.coreos.com.yaml crds/cert-manager.io.yaml --language typescript --output src/imports',
});

const bench = project.addTask('bench', {
  description: 'Synthesis benchmarks from the compiled library (see BENCHMARKS.md)',
});
bench.spawn(project.compileTask);
bench.exec('ts-node --transpile-only bench/synth-bench.ts');

project.synth();
