/** The cdk8s validation plugin (src/cli/validation-plugin): the checks of `validate`, reported the cdk8s way. */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { exampleYaml } from './helpers/manifests';
import { PluginContext, PostgresClusterValidation } from '../src/cli/validation-plugin';

/** A context like cdk8s-cli's, recording what the plugin reports. */
function context(manifests: string[]) {
  const violations: any[] = [];
  const logs: string[] = [];
  let status: string | undefined;
  let metadata: Record<string, string> | undefined;
  const ctx: PluginContext = {
    manifests,
    report: {
      addViolation: (v) => violations.push(v),
      submit: (s, m) => { status = s; metadata = m; },
    },
    logger: { log: (m) => logs.push(m) },
  };
  return { ctx, violations, logs, result: () => ({ status, metadata }) };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'plugin-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('an example passes: success, no violation', async () => {
  const file = join(dir, 'basic.k8s.yaml');
  writeFileSync(file, exampleYaml('basic'));
  const c = context([file]);
  await new PostgresClusterValidation().validate(c.ctx);
  expect(c.violations).toEqual([]);
  expect(c.result().status).toBe('success');
  expect(Number(c.result().metadata!.objects)).toBeGreaterThan(10);
});

test('a broken object: failure, one violation per check naming the object, the rule and the file', async () => {
  const file = join(dir, 'broken.k8s.yaml');
  writeFileSync(file, exampleYaml('basic').replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true').replace(/name: db-pods$/m, 'name: DB-pods'));
  const c = context([file]);
  await new PostgresClusterValidation().validate(c.ctx);
  expect(c.result().status).toBe('failure');
  expect(c.violations.map((v) => v.ruleName)).toEqual(['cdk8s-postgres-cluster/restricted', 'cdk8s-postgres-cluster/names']);
  expect(c.violations[0].violatingResources).toEqual([{
    resourceName: expect.stringMatching(/^\w+\/\S+$/),
    locations: [expect.stringMatching(/allowPrivilegeEscalation must be false$/)],
    manifestPath: expect.stringMatching(/broken\.k8s\.yaml$/),
  }]);
});

test('properties.checks limits the checks', async () => {
  const file = join(dir, 'broken-only.k8s.yaml');
  writeFileSync(file, exampleYaml('basic').replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'));
  const c = context([file]);
  await new PostgresClusterValidation({ checks: ['schema'] }).validate(c.ctx);
  expect([c.result().status, c.violations]).toEqual(['success', []]);
});

test('logs what the manifests need in the cluster but do not contain', async () => {
  const file = join(dir, 'production.k8s.yaml');
  writeFileSync(file, exampleYaml('production'));
  const c = context([file]);
  await new PostgresClusterValidation().validate(c.ctx);
  expect(c.logs).toEqual(expect.arrayContaining([
    'needed in the cluster before kubectl apply: StorageClass standard (needed by StatefulSet/orders-db-repo-host)',
    expect.stringMatching(/^needed in the cluster before kubectl apply: Secret orders\/orders-db-s3 \(needed by /),
  ]));
});
