/**
 * Statements of README.md checked against the code, so they cannot drift: the error examples,
 * the objects `validate` times, the ConfigMap of scripts, the credentials Job's objects, what
 * `init` writes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart, Duration, Size } from 'cdk8s';
import * as cdk8sModule from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as ts from 'typescript';
import { FailoverTiming, PostgresCluster, PostgresClusterProps, ReplicationMode, Resources, StorageType } from '../src';
import * as library from '../src';
import { exampleManifests } from './helpers/manifests';
import { initFiles } from '../src/cli/commands/init';
import { tuneFromLimits } from '../src/render/memory-tuning';
import { parseManifests, runChecks } from '../src/validate';
import { prerequisites } from '../src/validate/prerequisites';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The lines of the first fenced block (``` with no language) after a marker text. */
function blockAfter(marker: string, fence = '```'): string[] {
  const at = readme.indexOf(marker);
  expect(at).toBeGreaterThanOrEqual(0);
  const open = readme.indexOf(`${fence}\n`, at);
  const close = readme.indexOf('\n```', open + fence.length + 1);
  return readme.slice(open + fence.length + 1, close).split('\n');
}

/** The message a cluster `db` in chart `orders` throws with these props. */
function errorOf(props: PostgresClusterProps): string {
  try {
    new PostgresCluster(new Chart(new App(), 'orders', { namespace: 'orders' }), 'db', props);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('no error');
}

test('the README\'s example errors are the messages these props give', () => {
  const shown = blockAfter('Bad input fails at synth');
  const cases: PostgresClusterProps[] = [
    { replicas: { count: 0 }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } },
    { failoverTiming: FailoverTiming.of({ ttl: Duration.seconds(20), loopWait: Duration.seconds(10), retryTimeout: Duration.seconds(10) }) },
    { config: { parameters: { listen_addresses: '*' } } },
    { config: { resources: Resources.of({ cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(256) }), connection: { maxConnections: 1000 } } },
  ];
  expect(shown).toHaveLength(cases.length);
  for (const [i, props] of cases.entries()) {
    // "..." in the README elides the rest of a long breakdown.
    const pattern = new RegExp(`^${shown[i].split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    expect(errorOf(props)).toMatch(pattern);
  }
});

test('the object count of the validate timing is the examples\' own', () => {
  const total = exampleManifests('basic').length + exampleManifests('production').length;
  expect(readme).toMatch(new RegExp(`On the two examples \\(${total} objects\\)`));
});

test('the scripts ConfigMap row lists every file it holds', () => {
  const row = readme.split('\n').find((l) => l.startsWith('| ConfigMap | `db-scripts`'))!;
  const listed = [...row.matchAll(/`([\w-]+\.(?:sh|py|yaml))`/g)].map((m) => m[1]).sort();
  const held = new Set<string>();
  for (const example of ['basic', 'production']) {
    for (const m of exampleManifests(example)) if (m.kind === 'ConfigMap' && /-scripts$/.test(m.metadata.name)) Object.keys(m.data).forEach((k) => held.add(k));
  }
  expect(listed).toEqual([...held].sort());
});

test('the credentials row names the Job and its ServiceAccount, Role and RoleBinding as synthesized', () => {
  const row = readme.split('\n').find((l) => l.startsWith('| Job') && l.includes('db-credentials'))!;
  const names = exampleManifests('basic').filter((m) => /-credentials/.test(m.metadata.name)).map((m) => `${m.kind} ${m.metadata.name.replace(/-[0-9a-f]{8}$/, '-<hash>')}`).sort();
  expect(names).toEqual(['Job db-credentials-<hash>', 'Role db-credentials', 'RoleBinding db-credentials', 'ServiceAccount db-credentials']);
  expect(row).toContain('`db-credentials-<hash>`');
  expect(row).toMatch(/ServiceAccount, Role, RoleBinding `db-credentials`/);
});

test('the files init lists are the files it writes', () => {
  const line = readme.split('\n').find((l) => l.startsWith('- `init [--dir .]'))!;
  const next = readme.split('\n')[readme.split('\n').indexOf(line) + 1];
  const listed = [...`${line} ${next}`.matchAll(/`([\w.-]+\.(?:ts|yaml|json)|\.gitignore)`/g)].map((m) => m[1]).sort();
  expect(listed).toEqual(Object.keys(initFiles({ name: 'db', language: 'typescript', spec: false, appName: 'a' })).sort());
});

test('the cdk8s.yaml validations block is what init writes', () => {
  const shown = blockAfter('`init` writes this into the app\'s `cdk8s.yaml`', '```yaml').join('\n');
  const written = initFiles({ name: 'db', language: 'typescript', spec: false, appName: 'a' })['cdk8s.yaml'];
  const validations = written.slice(written.indexOf('validations:')).trimEnd().replace(/version: .*/, 'version: <the installed version>');
  expect(shown).toBe(validations);
});

test('work_mem is derived as the README\'s table says', () => {
  const MiB = 1024 * 1024;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  for (const [memory, cpus, maxConnections] of [[1024, 0.5, 100], [4096, 2, 200], [256, 1, 1000], [65536, 16, 500], [2048, 3.5, 50]]) {
    const limit = memory * MiB;
    const sharedBuffers = Math.floor(Math.max(32 * MiB, limit / 8) / MiB) * MiB;
    const baseShm = Math.floor(clamp(limit / 8, 64 * MiB, 1024 * MiB) / MiB) * MiB;
    const cores = Math.max(1, Math.floor(cpus));
    const stated = Math.max(MiB, Math.floor((limit * 0.75 - sharedBuffers - baseShm) / (3 * maxConnections + cores + 1) / MiB) * MiB);
    expect(tuneFromLimits({ memoryBytes: limit, cpus, maxConnections, disk: StorageType.NETWORK_SSD }).workMem).toBe(stated);
  }
});

test('the namespace comes from the Chart: without one, the hosts are bare Service names', () => {
  const cluster = (namespace?: string) => new PostgresCluster(new Chart(new App(), 'c', { namespace }), 'db');
  expect(readme).toMatch(/hosts are bare Service names \(`db-primary`\)/);
  expect(cluster().primaryHost).toBe('db-primary');
  expect(cluster('orders').primaryHost).toBe('db-primary.orders.svc');
});

test('the first snippet, run as shown, writes one file whose objects need only cert-manager\'s CRDs, its Namespace first', () => {
  const code = readme.slice(readme.indexOf('```ts\n') + 6, readme.indexOf('\n```', readme.indexOf('```ts\n')));
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const outdir = mkdtempSync(join(tmpdir(), 'readme-app-'));
  const saved = process.env.CDK8S_OUTDIR;
  process.env.CDK8S_OUTDIR = outdir;
  try {
    const modules: Record<string, unknown> = { 'cdk8s': cdk8sModule, 'cdk8s-postgres-cluster': library };
    const req = (id: string) => {
      if (!(id in modules)) throw new Error(`the first snippet imports ${id}, which this test does not provide`);
      return modules[id];
    };
    new Function('require', 'exports', js)(req, {});
  } finally {
    if (saved === undefined) delete process.env.CDK8S_OUTDIR;
    else process.env.CDK8S_OUTDIR = saved;
  }
  expect(readdirSync(outdir)).toEqual(['orders.k8s.yaml']);
  const ms = parseManifests(readFileSync(join(outdir, 'orders.k8s.yaml'), 'utf8'));
  rmSync(outdir, { recursive: true, force: true });
  expect([ms[0].kind, ms[0].metadata.name]).toEqual(['Namespace', 'orders']);
  expect(prerequisites(ms).map((p) => `${p.kind} ${p.name}`)).toEqual([
    'CustomResourceDefinition certificates.cert-manager.io', 'CustomResourceDefinition issuers.cert-manager.io',
  ]);
  expect(runChecks(ms).filter((f) => f.severity === 'error')).toEqual([]);
});

test('the README names everything the production example needs before it is applied', () => {
  const paragraph = readme.slice(readme.indexOf('Each example is its own folder'), readme.indexOf('## What gets synthesized'));
  const needs = prerequisites(exampleManifests('production'));
  expect(needs.length).toBeGreaterThan(0);
  for (const p of needs) expect(paragraph).toContain(`\`${p.namespace ? `${p.namespace}/` : ''}${p.name}\``);
});
