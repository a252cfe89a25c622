/** What `init` scaffolds (src/cli/commands/init), per language. */
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildCli, cliEnv } from './helpers/cli-build';
import { initFiles, ownPackage } from '../src/cli/commands/init';

describe('init files', () => {
  test('typescript: main.ts with imports, ts-node in cdk8s.yaml, a tsconfig, TypeScript dev dependencies', () => {
    const files = initFiles({ name: 'orders-db', language: 'typescript', spec: false, appName: 'my-app' });
    expect(Object.keys(files).sort()).toEqual(['.gitignore', 'cdk8s.yaml', 'main.ts', 'package.json', 'tsconfig.json']);
    expect(files['main.ts']).toMatch(/^import \{ App, Chart, Size \} from 'cdk8s';/);
    expect(files['cdk8s.yaml']).toContain('app: npx ts-node main.ts\n');
    const pkg = JSON.parse(files['package.json']);
    expect(pkg.name).toBe('my-app');
    expect(pkg.dependencies['cdk8s-postgres-cluster']).toBe(`^${ownPackage().version}`);
    expect(pkg.dependencies.cdk8s).toBe(ownPackage().peerDependencies.cdk8s);
    expect(Object.keys(pkg.devDependencies).sort()).toEqual(['@types/node', 'cdk8s-cli', 'ts-node', 'typescript']);
  });

  test('javascript: main.js with require, node in cdk8s.yaml, no TypeScript', () => {
    const files = initFiles({ name: 'db', language: 'javascript', spec: false, appName: 'app' });
    expect(Object.keys(files).sort()).toEqual(['.gitignore', 'cdk8s.yaml', 'main.js', 'package.json']);
    expect(files['main.js']).toMatch(/^const \{ App, Chart, Size \} = require\('cdk8s'\);/);
    expect(files['main.js']).toContain("new PostgresCluster(chart, 'db', {");
    expect(files['cdk8s.yaml']).toContain('app: node main.js\n');
    expect(Object.keys(JSON.parse(files['package.json']).devDependencies)).toEqual(['cdk8s-cli']);
  });

  test('--spec: one spec file named after the cluster', () => {
    expect(Object.keys(initFiles({ name: 'billing', language: 'typescript', spec: true, appName: 'x' }))).toEqual(['billing.yaml']);
  });
});

describe("init's app as cdk8s synth runs it", () => {
  let build: { bin: string; dir: string };
  let work: string;
  beforeAll(() => {
    build = buildCli();
    work = mkdtempSync(join(tmpdir(), 'init-app-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(build.dir, { recursive: true, force: true });
  });

  test('dist/ holds only manifests, so `kubectl apply -f dist/` applies them all', () => {
    const files = initFiles({ name: 'orders-db', language: 'javascript', spec: false, appName: 'app' });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(work, name), text);
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(build.dir, join(work, 'node_modules', 'cdk8s-postgres-cluster'), 'dir');
    // cdk8s-cli sets this when cdk8s.yaml lists validations (init's does): the app would then
    // write dist/construct-metadata.json beside the manifests.
    const r = spawnSync(process.execPath, ['main.js'], {
      cwd: work, encoding: 'utf8', env: { ...cliEnv(), CDK8S_RECORD_CONSTRUCT_METADATA: 'true' }, timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(join(work, 'dist'))).toEqual(['orders-db.k8s.yaml']);
  });
});
