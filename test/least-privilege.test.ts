/**
 * Each remote need has its own least-privilege role (issue 20, item 19): pg_rewind as
 * cdk8s_rewind, the access Job as cdk8s_access, and the superuser only over the local socket
 * unless the user opts in.
 */
import { parse } from 'yaml';
import { Manifest, find, synthCluster } from './helpers/manifests';

function postgresContainer(m: Manifest[], sts = 'db-primary'): any {
  return find(m, 'StatefulSet', sts).spec.template.spec.containers.find((c: any) => c.name === 'postgres');
}
function envOf(ctr: any): Record<string, any> {
  return Object.fromEntries((ctr.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
}
function patroniOf(m: Manifest[], sts = 'db-primary'): any {
  return parse(find(m, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);
}

describe('pg_rewind between members', () => {
  const m = synthCluster();

  test('connects as cdk8s_rewind with the password of its own generated Secret, never as the superuser', () => {
    expect(patroniOf(m).postgresql.authentication.rewind.username).toBe('cdk8s_rewind');
    expect(envOf(postgresContainer(m)).PATRONI_REWIND_PASSWORD).toEqual({ secretKeyRef: { name: 'db-rewind', key: 'password' } });
    const job = m.find((x) => x.kind === 'Job' && x.metadata.name.startsWith('db-credentials-'))!;
    const secrets = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'SECRETS').value.split(' ');
    expect(secrets).toContain('db-rewind=cdk8s_rewind');
  });
});

describe('the access role', () => {
  test('post-bootstrap.sh gets its name and its password as a file (never a variable), and the roles it may grant', () => {
    const m = synthCluster();
    const ctr = postgresContainer(m);
    const env = envOf(ctr);
    expect(env.PGC_ACCESS_USER).toBe('cdk8s_access');
    expect(env.PGC_ACCESS_PASSWORD_FILE).toBe('/etc/postgres-access/password');
    expect(env.PGC_ACCESS_GRANTABLE_ROLES.split(' ')).toContain('pg_monitor');
    expect(env.PGC_POOLER_USER).toBe('cdk8s_pgbouncer');
    expect(Object.values(env).filter((v: any) => v?.secretKeyRef?.name === 'db-access')).toEqual([]);
    expect(ctr.volumeMounts).toContainEqual({ name: 'access-secret', mountPath: '/etc/postgres-access', readOnly: true });
    expect(find(m, 'StatefulSet', 'db-primary').spec.template.spec.volumes).toContainEqual({
      name: 'access-secret', secret: { secretName: 'db-access', items: [{ key: 'password', path: 'password' }], defaultMode: 0o440 },
    });
  });

  test('preloaded pg_stat_statements is created in template1 at bootstrap (the access role may not create it)', () => {
    const preload = synthCluster({ config: { parameters: { shared_preload_libraries: 'auto_explain, pg_stat_statements' } } });
    expect(envOf(postgresContainer(preload)).PGC_TEMPLATE_EXTENSIONS).toBe('pg_stat_statements');
    expect(envOf(postgresContainer(synthCluster())).PGC_TEMPLATE_EXTENSIONS).toBeUndefined();
    expect(envOf(postgresContainer(synthCluster({ config: { parameters: { shared_preload_libraries: 'auto_explain' } } }))).PGC_TEMPLATE_EXTENSIONS).toBeUndefined();
  });
});

describe('the superuser over TCP', () => {
  test('refused by default on every member, before any other network rule', () => {
    const m = synthCluster();
    for (const sts of ['db-primary', 'db-replica']) {
      const hba: string[] = patroniOf(m, sts).postgresql.pg_hba;
      const reject = hba.indexOf('hostssl all postgres 0.0.0.0/0 reject');
      expect(reject).toBeGreaterThan(-1);
      expect(hba.indexOf('hostssl all postgres ::/0 reject')).toBe(reject + 1);
      expect(reject).toBeLessThan(hba.indexOf('hostssl all all 0.0.0.0/0 scram-sha-256'));
    }
  });

  test('superuserNetworkAccess: true admits it again', () => {
    const m = synthCluster({ config: { connection: { superuserNetworkAccess: true } } });
    expect(patroniOf(m).postgresql.pg_hba.filter((l: string) => /^host\w* all postgres /.test(l))).toEqual([]);
  });
});
