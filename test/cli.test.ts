/**
 * The command line as users run it: the bin spawned as a process (over src/ transpiled into a
 * package layout, see helpers/cli-build), checking stdout, stderr, exit codes and files written.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { buildCli, cliEnv } from './helpers/cli-build';
import { exampleYaml } from './helpers/manifests';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cdk8s-postgres-cluster <args>` in a folder. */
function cli(args: string[], cwd: string): Run {
  const r = spawnSync(process.execPath, [build.bin, ...args], { cwd, encoding: 'utf8', env: cliEnv(), timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The documents of a multi-document YAML text, as plain data. */
function parseAllDocs(text: string): any[] {
  return parseAllDocuments(text).map((d) => d.toJS()).filter((d) => d);
}

let work: string;
let build: { bin: string; dir: string };

beforeAll(() => {
  build = buildCli();
  work = mkdtempSync(join(tmpdir(), 'cli-test-'));
  mkdirSync(join(work, 'dist'));
  writeFileSync(join(work, 'dist', 'production.k8s.yaml'), exampleYaml('production'));
  writeFileSync(join(work, 'dist', 'basic.k8s.yaml'), exampleYaml('basic'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(build.dir, { recursive: true, force: true });
});

describe('help and usage', () => {
  test('--help lists the commands and the exit codes', () => {
    const r = cli(['--help'], work);
    expect(r.code).toBe(0);
    for (const c of ['init', 'synth', 'validate', 'diagram']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stdout).toContain('2  usage error');
  });

  test.each([
    ['init', /Scaffold a cdk8s app/],
    ['synth', /spec file .*\n[\s\S]*metadata: \{ name: orders-db/],
    ['validate', /Checks:\n {2}schema +Kubernetes OpenAPI schemas/],
    ['diagram', /SVG and as one self-contained HTML page/],
  ])('%s --help describes the command and the exit codes', (command, text) => {
    const r = cli([command, '--help'], work);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(text);
    expect(r.stdout).toContain('Exit codes:');
  });

  test.each([
    [['bogus'], /unknown command 'bogus'/],
    [['validate', '--nope', 'dist'], /unknown option '--nope'/],
    [['synth'], /missing required argument 'spec-file'/],
    [['diagram', '--format', 'png', 'dist'], /argument 'png' is invalid/],
  ])('%j is a usage error (exit 2)', (args, message) => {
    const r = cli(args, work);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('validate', () => {
  test('the examples pass: exit 0, a summary', () => {
    const r = cli(['validate', 'dist'], work);
    expect([r.code, r.stderr]).toEqual([0, '']);
    // Warnings (a Secret the user provides) do not fail; the invariant tests check which there may be.
    expect(r.stdout).toMatch(/(^|\n)ok: 0 errors, \d+ warnings? in 2 files \(\d+ objects, 9 checks\)\n$/);
    expect(r.stdout).not.toMatch(/^ {2}error/m);
  });

  test('a broken object: exit 1, the finding names the file, the check, the object and the rule', () => {
    const dir = join(work, 'broken');
    mkdirSync(dir, { recursive: true });
    const text = exampleYaml('basic').replace(/allowPrivilegeEscalation: false/, 'allowPrivilegeEscalation: true');
    writeFileSync(join(dir, 'basic.k8s.yaml'), text);
    const r = cli(['validate', 'broken'], work);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broken\/basic\.k8s\.yaml:\n {2}error {3}\[restricted\] \S+\/\S+ container \S+: allowPrivilegeEscalation must be false$/m);
    expect(r.stdout).toMatch(/^FAILED: 1 error, \d+ warnings? in 1 file/m);
    const json = JSON.parse(cli(['validate', '--json', 'broken'], work).stdout);
    expect(json).toMatchObject({ ok: false, errors: 1, findings: [{ file: 'broken/basic.k8s.yaml', check: 'restricted', severity: 'error' }] });
    const only = cli(['validate', '--check', 'schema,names', 'broken'], work);
    expect([only.code, only.stdout]).toEqual([0, expect.stringMatching(/^ok: .* 2 checks\)\n$/m)]);
  });

  test('a malformed object (a ConfigMap value that is a number, a list of containers that is a mapping): findings name the file, object and field; exit 1, not a crash', () => {
    const dir = join(work, 'malformed');
    mkdirSync(dir, { recursive: true });
    const docs = parseAllDocs(exampleYaml('production'));
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'orders-app-settings');
    cm.data.DATABASE_NAME = 7;
    const sts = docs.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'orders-db-replica');
    sts.spec.template.spec.containers = { postgres: {} };
    writeFileSync(join(dir, 'production.k8s.yaml'), docs.map((d) => stringify(d)).join('---\n'));
    const r = cli(['validate', 'malformed'], work);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^malformed\/production\.k8s\.yaml:$/m);
    expect(r.stdout).toMatch(/\[secrets\] ConfigMap\/orders-app-settings: field data\.DATABASE_NAME is number 7: the secrets check cannot read it/);
    expect(r.stdout).toMatch(/\[restricted\] StatefulSet\/orders-db-replica: field spec\.template\.spec\.containers is a mapping: the restricted check cannot read it/);
    // The other objects were still checked (the primary's missing S3 Secret is reported), and found clean.
    expect(r.stdout).toMatch(/warning \[references\] StatefulSet\/orders-db-primary -> Secret\/orders-db-s3:/);
    expect(r.stdout).not.toMatch(/error .*StatefulSet\/orders-db-primary/);
  });

  test('lists what the manifests need in the cluster but do not contain (text and JSON)', () => {
    const r = cli(['validate', 'dist/production.k8s.yaml'], work);
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf('needed in the cluster before kubectl apply'));
    for (const line of [
      'CustomResourceDefinition certificates.cert-manager.io',
      'CustomResourceDefinition podmonitors.monitoring.coreos.com (needed by PodMonitor/orders-db)',
      'StorageClass fast-ssd (needed by StatefulSet/orders-db-delayed and 2 more)',
      'Secret orders/orders-db-s3 (needed by CronJob/orders-db-repo1-full',
      'Secret orders/orders-db-s3-cipher',
    ]) expect(section).toContain(`  ${line}`);
    // The example creates its Namespace (createNamespace), so that is not listed.
    expect(section).not.toContain('Namespace orders');
    const json = JSON.parse(cli(['validate', '--json', 'dist/production.k8s.yaml'], work).stdout);
    expect(json.prerequisites).toEqual(expect.arrayContaining([
      { kind: 'StorageClass', name: 'standard', neededBy: ['StatefulSet/orders-db-repo-host'] },
    ]));
  });

  test('a missing path or a file that is not YAML: exit 2 naming it', () => {
    const missing = cli(['validate', 'nowhere'], work);
    expect([missing.code, missing.stderr]).toEqual([2, 'error: nowhere: no such file or folder\n']);
    writeFileSync(join(work, 'bad.yaml'), 'kind: [unclosed\n');
    const bad = cli(['validate', 'bad.yaml'], work);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: bad\.yaml: invalid YAML: /);
    writeFileSync(join(work, 'list.yaml'), '- a\n- b\n');
    expect(cli(['validate', 'list.yaml'], work).stderr).toBe('error: list.yaml: document 1 is not a Kubernetes object (it needs kind and metadata.name)\n');
    mkdirSync(join(work, 'empty'));
    expect(cli(['validate', 'empty'], work)).toMatchObject({ code: 2, stderr: 'error: empty: no Kubernetes objects found in .yaml, .yml or .json files\n' });
  });

  test('in a folder, files that hold no Kubernetes object (cdk8s.yaml, package.json) are skipped', () => {
    const dir = join(work, 'app-folder');
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'cdk8s.yaml'), 'language: typescript\napp: node main.js\n');
    writeFileSync(join(dir, 'package.json'), '{"name": "app"}\n');
    writeFileSync(join(dir, 'dist', 'basic.k8s.yaml'), exampleYaml('basic'));
    const r = cli(['validate', 'app-folder'], work);
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^ok: 0 errors, \d+ warnings? in 1 file /m)]);
  });
});

describe('synth', () => {
  const spec = `apiVersion: postgres.cdk8s.io/v1alpha1
kind: PostgresCluster
metadata: { name: orders-db, namespace: orders }
spec:
  replicas: { count: 2, mode: synchronous }
  resources: { cpu: 2, memory: 4Gi }
  storage: { size: 20Gi, storageClassName: fast-ssd }
`;

  test('writes <name>.k8s.yaml from a spec; the output validates', () => {
    writeFileSync(join(work, 'orders.yaml'), spec);
    const r = cli(['synth', 'orders.yaml', '-o', 'out'], work);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^wrote out\/orders-db\.k8s\.yaml \(\d+ objects\)\n$/);
    const yaml = readFileSync(join(work, 'out', 'orders-db.k8s.yaml'), 'utf8');
    expect(yaml).toContain('synchronous_mode: true');
    expect(yaml).toContain('namespace: orders');
    expect(yaml).toContain('storageClassName: fast-ssd');
    expect(cli(['validate', 'out'], work).code).toBe(0);
    expect(cli(['synth', 'orders.yaml', '--stdout'], work).stdout).toBe(yaml);
  });

  test.each<[string, number, string, RegExp]>([
    ['an unknown field', 2, spec.replace('replicas:', 'replica:'),
      /^error: spec\.yaml: spec\.replica: invalid value .*: unknown field; did you mean replicas\? known fields here: postgresVersion, /],
    ['a bad value', 2, spec.replace('count: 2', 'count: two'), /^error: spec\.yaml: spec\.replicas\.count: invalid value "two": must be a whole number\n$/],
    ['a bad size', 2, spec.replace('20Gi', '20GB'), /^error: spec\.yaml: spec\.storage\.size: invalid value "20GB": must be a size with a binary unit/],
    ['YAML that does not parse', 2, 'metadata: { name: x\n', /^error: spec\.yaml: not valid YAML or JSON \(line 2, column 1\): /],
    ['a value the construct refuses', 1, spec.replace('count: 2', 'count: 50'),
      /^error: spec\.yaml: spec\.replicas\.count: invalid value 50: must be a whole number from 0 to \d+\n$/],
  ])('%s: exit %i', (_what, code, text, message) => {
    writeFileSync(join(work, 'spec.yaml'), text);
    const r = cli(['synth', 'spec.yaml', '--stdout'], work);
    expect([r.code, r.stdout]).toEqual([code, '']);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('a missing spec file: exit 2', () => {
    const r = cli(['synth', 'missing.yaml'], work);
    expect([r.code, r.stderr]).toEqual([2, 'error: missing.yaml: no such file\n']);
  });
});

describe('diagram', () => {
  test('writes topology.svg and topology.html; a second run writes the same bytes', () => {
    const r = cli(['diagram', 'dist/production.k8s.yaml', '--out-dir', 'pics'], work);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'wrote pics/topology.svg, pics/topology.html\n', '']);
    const svg = readFileSync(join(work, 'pics', 'topology.svg'), 'utf8');
    const html = readFileSync(join(work, 'pics', 'topology.html'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('data-id="StatefulSet/orders-db-primary"');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(cli(['diagram', 'dist/production.k8s.yaml', '--out-dir', 'pics'], work).code).toBe(0);
    expect(readFileSync(join(work, 'pics', 'topology.svg'), 'utf8')).toBe(svg);
    expect(readFileSync(join(work, 'pics', 'topology.html'), 'utf8')).toBe(html);
  });

  test('--format svg writes only the SVG, under --name', () => {
    const r = cli(['diagram', 'dist', '--out-dir', 'only', '--name', 'db', '--format', 'svg'], work);
    expect([r.code, r.stdout]).toEqual([0, 'wrote only/db.svg\n']);
    expect(existsSync(join(work, 'only', 'db.html'))).toBe(false);
  });
});

describe('init', () => {
  test('scaffolds a TypeScript cdk8s app; refuses to overwrite without --force', () => {
    const dir = join(work, 'app');
    const r = cli(['init', '--dir', 'app', '--name', 'orders-db'], work);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('next: cd app && npm install && npx cdk8s synth');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['cdk8s', 'cdk8s-plus-27', 'cdk8s-postgres-cluster', 'constructs']);
    const own = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    expect(parse(readFileSync(join(dir, 'cdk8s.yaml'), 'utf8'))).toEqual({
      language: 'typescript',
      app: 'npx ts-node main.ts',
      validations: [{ package: './node_modules/cdk8s-postgres-cluster/lib/cli/validation-plugin.js', version: own.version, class: 'PostgresClusterValidation' }],
    });
    expect(readFileSync(join(dir, 'main.ts'), 'utf8')).toContain("new PostgresCluster(chart, 'orders-db', {");
    const again = cli(['init', '--dir', 'app'], work);
    expect([again.code, again.stderr]).toEqual([2, expect.stringMatching(/^error: app: main\.ts, cdk8s\.yaml, package\.json, \.gitignore, tsconfig\.json already exist; use --force/)]);
    expect(cli(['init', '--dir', 'app', '--force'], work).code).toBe(0);
  });

  test('--spec writes a spec file that synth builds', () => {
    const r = cli(['init', '--spec', '--name', 'billing', '--dir', 'specs'], work);
    expect([r.code, r.stdout]).toEqual([0, 'wrote specs/billing.yaml\nnext: cdk8s-postgres-cluster synth specs/billing.yaml\n']);
    const s = cli(['synth', 'specs/billing.yaml', '-o', 'specs/out'], work);
    expect([s.code, s.stderr]).toEqual([0, '']);
    expect(existsSync(join(work, 'specs', 'out', 'billing.k8s.yaml'))).toBe(true);
  });

  test('a name that is not a DNS label is a usage error', () => {
    expect(cli(['init', '--name', 'Orders_DB', '--dir', 'x'], work)).toMatchObject({ code: 2, stderr: expect.stringContaining('must be a DNS label') });
  });
});
