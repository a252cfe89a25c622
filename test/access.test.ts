/**
 * Access control for applications: the access Job that applies the declared roles, databases,
 * grants and extensions (its PGC_ACCESS declaration, the Secrets its passwords come from, TLS,
 * security, resources, a name that follows the declaration), and the connection Secrets the
 * credentials Job is asked to create for login users (SECRET_CONNECTIONS).
 */
import { Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  DatabasePrivilege, PostgresCluster, PostgresClusterProps, SchemaPrivilege, TablePrivilege, Tls,
} from '../src';
import { Manifest, find, ofKind, synthCluster, synthWith } from './helpers/manifests';
import { APPLY_ACCESS_SCRIPT } from '../src/render/access-script';
import { RESTRICTED_CONTAINER, restrictedViolations } from '../src/validate/pod-security';

/** The access Job of cluster `name`, or undefined. */
function accessJobOf(m: Manifest[], name = 'db'): Manifest | undefined {
  const jobs = ofKind(m, 'Job').filter((j) => j.metadata.name.startsWith(`${name}-access-`));
  if (jobs.length > 1) throw new Error(`${jobs.length} access Jobs`);
  return jobs[0];
}

function accessJob(m: Manifest[], name = 'db'): Manifest {
  const job = accessJobOf(m, name);
  if (!job) throw new Error(`no access Job in ${m.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return job;
}

function credentialsJob(m: Manifest[], name = 'db'): Manifest {
  const jobs = ofKind(m, 'Job').filter((j) => j.metadata.name.startsWith(`${name}-credentials-`));
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

const container = (job: Manifest) => job.spec.template.spec.containers[0];
const envOf = (job: Manifest, name: string): any => container(job).env.find((e: any) => e.name === name);
const envValue = (job: Manifest, name: string): string | undefined => envOf(job, name)?.value;
const declaration = (job: Manifest): any => JSON.parse(envValue(job, 'PGC_ACCESS')!);
const secretRef = (name: string) => ({ valueFrom: { secretKeyRef: { name, key: 'password' } } });
const connections = (m: Manifest[], name = 'db'): any => {
  const v = envValue(credentialsJob(m, name), 'SECRET_CONNECTIONS');
  return v === undefined ? undefined : JSON.parse(v);
};
const secretsOf = (m: Manifest[], name = 'db') => envValue(credentialsJob(m, name), 'SECRETS')!.split(' ');

/** The props of a cluster with two databases, a group role and two login users. */
const DECLARED: PostgresClusterProps = {
  databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pgcrypto', 'pg_trgm'] }, { name: 'reports' }],
  users: [
    { name: 'orders_owner', login: false },
    {
      name: 'orders_app',
      connectionLimit: 50,
      memberOf: ['orders_owner'],
      databases: [{ database: 'orders', privileges: [DatabasePrivilege.CONNECT, DatabasePrivilege.TEMPORARY] }],
      schemas: [
        { database: 'orders', schema: 'sales', privileges: [SchemaPrivilege.USAGE, SchemaPrivilege.CREATE], tables: [TablePrivilege.SELECT, TablePrivilege.UPDATE] },
      ],
    },
    { name: 'reporter', databases: [{ database: 'reports' }], schemas: [{ database: 'reports', tables: [TablePrivilege.SELECT] }] },
  ],
};

describe('nothing declared', () => {
  const m = synthCluster();

  test('no access Job; the Jobs are the credentials, CA publisher and config Jobs', () => {
    expect(accessJobOf(m)).toBeUndefined();
    expect(ofKind(m, 'Job').map((j) => j.metadata.name)).toEqual([
      expect.stringMatching(/^db-credentials-[0-9a-f]{8}$/), expect.stringMatching(/^db-publish-ca-[0-9a-f]{8}$/), expect.stringMatching(/^db-config-[0-9a-f]{8}$/),
    ]);
  });

  test('the credentials Job gets no SECRET_CONNECTIONS and no SECRET_USERLISTS; only the cluster\'s own Secrets', () => {
    expect(envOf(credentialsJob(m), 'SECRET_CONNECTIONS')).toBeUndefined();
    expect(envOf(credentialsJob(m), 'SECRET_USERLISTS')).toBeUndefined();
    expect(secretsOf(m)).toEqual(['db-superuser=postgres', 'db-replication=replicator', 'db-monitoring=cdk8s_monitor', 'db-rewind=cdk8s_rewind', 'db-access=cdk8s_access']);
  });
});

describe('the declaration (PGC_ACCESS)', () => {
  const m = synthCluster(DECLARED);
  const job = accessJob(m);

  test('users, with every default filled in and a password variable for login users only', () => {
    expect(declaration(job).users).toEqual([
      { name: 'orders_owner', login: false, connectionLimit: -1, memberOf: [], databases: [], schemas: [] },
      {
        name: 'orders_app',
        login: true,
        connectionLimit: 50,
        memberOf: ['orders_owner'],
        passwordEnv: 'PGC_PASSWORD_1',
        databases: [{ database: 'orders', privileges: ['CONNECT', 'TEMPORARY'] }],
        schemas: [{ database: 'orders', schema: 'sales', privileges: ['USAGE', 'CREATE'], tables: ['SELECT', 'UPDATE'] }],
      },
      {
        name: 'reporter',
        login: true,
        connectionLimit: -1,
        memberOf: [],
        passwordEnv: 'PGC_PASSWORD_2',
        databases: [{ database: 'reports', privileges: ['CONNECT'] }],
        schemas: [{ database: 'reports', schema: 'public', privileges: ['USAGE'], tables: ['SELECT'] }],
      },
    ]);
  });

  test('databases, owned by the access role unless said otherwise, with their extensions', () => {
    expect(declaration(job).databases).toEqual([
      { name: 'orders', owner: 'orders_owner', extensions: ['pgcrypto', 'pg_trgm'] },
      { name: 'reports', owner: 'cdk8s_access', extensions: [] },
    ]);
  });

  test('no pooler', () => {
    expect(declaration(job).pooler).toBeNull();
    expect(envOf(job, 'PGC_POOLER_PASSWORD')).toBeUndefined();
  });

  test('each login user\'s password comes from its own Secret (key password); the group role has none', () => {
    expect(envOf(job, 'PGC_PASSWORD_0')).toBeUndefined();
    expect(envOf(job, 'PGC_PASSWORD_1')).toEqual({ name: 'PGC_PASSWORD_1', ...secretRef('db-user-orders-app') });
    expect(envOf(job, 'PGC_PASSWORD_2')).toEqual({ name: 'PGC_PASSWORD_2', ...secretRef('db-user-reporter') });
    const passwords = container(job).env.filter((e: any) => /PASSWORD/.test(e.name));
    for (const e of passwords) expect(e.value).toBeUndefined();
  });

  test('no password, verifier or superuser credential is in the declaration', () => {
    expect(envValue(job, 'PGC_ACCESS')).not.toMatch(/SCRAM|"password"/i);
  });
});

describe('the Job', () => {
  const m = synthCluster(DECLARED);
  const job = accessJob(m);
  const pod = job.spec.template.spec;

  test('named <cluster>-access-<hash>, labelled for the jobs NetworkPolicy and outside the member selectors', () => {
    expect(job.metadata.name).toMatch(/^db-access-[0-9a-f]{8}$/);
    const labels = { 'app.kubernetes.io/name': 'postgresql-access', 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/instance': 'db' };
    expect(job.metadata.labels).toMatchObject(labels);
    expect(job.spec.template.metadata.labels).toMatchObject(labels);
  });

  test('runs the access script with /usr/bin/python3 -c', () => {
    expect(container(job).command).toEqual(['/usr/bin/python3', '-c', APPLY_ACCESS_SCRIPT]);
    expect(container(job).image).toBe(find(m, 'StatefulSet', 'db-primary').spec.template.spec.containers[0].image);
  });

  test('connects to the read-write Service as cdk8s_access (no superuser), the password from its Secret', () => {
    expect(envValue(job, 'PGHOST')).toBe('db-primary');
    expect(envValue(job, 'PGPORT')).toBe('5432');
    expect(envValue(job, 'PGUSER')).toBe('cdk8s_access');
    expect(envOf(job, 'PGPASSWORD')).toEqual({ name: 'PGPASSWORD', ...secretRef('db-access') });
  });

  test('as postgres, from the superuser Secret, only when the superuser may log in over the network', () => {
    const open = synthCluster({ ...DECLARED, config: { connection: { superuserNetworkAccess: true } } });
    expect(envValue(accessJob(open), 'PGUSER')).toBe('postgres');
    expect(envOf(accessJob(open), 'PGPASSWORD')).toEqual({ name: 'PGPASSWORD', ...secretRef('db-superuser') });
  });

  test('with TLS (the default): verify-full against the cluster CA, mounted read-only from the published CA ConfigMap', () => {
    expect(envValue(job, 'PGSSLMODE')).toBe('verify-full');
    expect(envValue(job, 'PGSSLROOTCERT')).toBe('/etc/postgres-ca/ca.crt');
    expect(container(job).volumeMounts).toEqual([{ name: 'ca', mountPath: '/etc/postgres-ca', readOnly: true }]);
    expect(pod.volumes).toEqual([{ name: 'ca', configMap: { name: 'db-ca-cert', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }]);
  });

  test('restricted security: no ServiceAccount token, non-root, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    expect(restrictedViolations(job, pod)).toEqual([]);
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.securityContext).toEqual({ runAsUser: 26, runAsGroup: 26, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container(job).securityContext).toEqual(RESTRICTED_CONTAINER);
  });

  test('retried until the primary answers: restartPolicy OnFailure, backoffLimit 20', () => {
    expect(pod.restartPolicy).toBe('OnFailure');
    expect(job.spec.backoffLimit).toBe(20);
  });

  test('cpu and memory requests and limits', () => {
    expect(container(job).resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } });
  });
});

describe('TLS variants', () => {
  test('without TLS: sslmode prefer, no CA variable, no volume', () => {
    const job = accessJob(synthCluster({ ...DECLARED, tls: Tls.disabled() }));
    expect(envValue(job, 'PGSSLMODE')).toBe('prefer');
    expect(envOf(job, 'PGSSLROOTCERT')).toBeUndefined();
    expect(container(job).volumeMounts).toBeUndefined();
    expect(job.spec.template.spec.volumes).toBeUndefined();
  });

  test('TLS from user Secrets: the CA comes from the published CA ConfigMap, not from a Secret', () => {
    const m = synthWith((chart) => {
      new PostgresCluster(chart, 'db', {
        ...DECLARED,
        tls: Tls.fromSecrets({
          server: kplus.Secret.fromSecretName(chart, 'server', 'my-server-tls'),
          replicationClient: kplus.Secret.fromSecretName(chart, 'repl', 'my-replication-tls'),
        }),
      });
    });
    const job = accessJob(m);
    expect(envValue(job, 'PGSSLMODE')).toBe('verify-full');
    expect(job.spec.template.spec.volumes[0].configMap.name).toBe('db-ca-cert');
  });

  test('a user-supplied superuser Secret is the one PGPASSWORD reads (superuser network access on)', () => {
    const m = synthWith((chart) => {
      new PostgresCluster(chart, 'db', {
        ...DECLARED, superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser'), config: { connection: { superuserNetworkAccess: true } },
      });
    });
    expect(envOf(accessJob(m), 'PGPASSWORD')).toEqual({ name: 'PGPASSWORD', ...secretRef('my-superuser') });
  });

  test('a custom port and cluster name', () => {
    const m = synthCluster({ ...DECLARED, clusterName: 'shop', config: { database: { port: 6543 } } });
    const job = accessJob(m, 'shop');
    expect(job.metadata.name).toMatch(/^shop-access-[0-9a-f]{8}$/);
    expect(envValue(job, 'PGHOST')).toBe('shop-primary');
    expect(envValue(job, 'PGPORT')).toBe('6543');
    expect(envOf(job, 'PGC_PASSWORD_1')).toEqual({ name: 'PGC_PASSWORD_1', ...secretRef('shop-user-orders-app') });
  });
});

describe('with a pooler', () => {
  test('a pooler alone creates the access Job, which creates the auth_query role with the pgbouncer Secret\'s password', () => {
    const job = accessJob(synthCluster({ pooler: {} }));
    expect(declaration(job)).toEqual({ users: [], databases: [], pooler: { user: 'cdk8s_pgbouncer', passwordEnv: 'PGC_POOLER_PASSWORD' } });
    expect(envOf(job, 'PGC_POOLER_PASSWORD')).toEqual({ name: 'PGC_POOLER_PASSWORD', ...secretRef('db-pgbouncer') });
  });

  // Issue requirement: with users or databases declared AND a pooler, the access Job must still
  // create cdk8s_pgbouncer and its get_auth() function, or PgBouncer cannot authenticate anyone.
  test('users, databases and a pooler: the declaration still carries the pooler', () => {
    const job = accessJob(synthCluster({ ...DECLARED, pooler: {} }));
    expect(declaration(job).pooler).toEqual({ user: 'cdk8s_pgbouncer', passwordEnv: 'PGC_POOLER_PASSWORD' });
    expect(envOf(job, 'PGC_POOLER_PASSWORD')).toEqual({ name: 'PGC_POOLER_PASSWORD', ...secretRef('db-pgbouncer') });
  });

  test('the credentials Job creates the pgbouncer Secret with a userlist.txt', () => {
    const m = synthCluster({ pooler: {} });
    expect(secretsOf(m)).toContain('db-pgbouncer=cdk8s_pgbouncer');
    expect(envValue(credentialsJob(m), 'SECRET_USERLISTS')).toBe('db-pgbouncer');
    expect(envOf(credentialsJob(m), 'SECRET_CONNECTIONS')).toBeUndefined();
  });
});

describe('the name follows the declaration', () => {
  const nameOf = (props: PostgresClusterProps) => accessJob(synthCluster(props)).metadata.name;
  const base = nameOf(DECLARED);

  test('stable across syntheses and for changes that do not touch it', () => {
    expect(nameOf(DECLARED)).toBe(base);
    expect(nameOf({ ...DECLARED, replicas: { count: 3 } })).toBe(base);
    expect(nameOf({ ...DECLARED, monitoring: { metrics: { enabled: false } } })).toBe(base);
  });

  test.each<[string, PostgresClusterProps]>([
    ['a user added', { ...DECLARED, users: [...DECLARED.users!, { name: 'another' }] }],
    ['a privilege changed', { ...DECLARED, users: [DECLARED.users![0], { ...DECLARED.users![1], databases: [{ database: 'orders' }] }, DECLARED.users![2]] }],
    ['a connection limit changed', { ...DECLARED, users: [DECLARED.users![0], { ...DECLARED.users![1], connectionLimit: 51 }, DECLARED.users![2]] }],
    ['an extension added', { ...DECLARED, databases: [{ ...DECLARED.databases![0], extensions: ['pgcrypto', 'pg_trgm', 'hstore'] }, DECLARED.databases![1]] }],
    ['a database owner changed', { ...DECLARED, databases: [{ ...DECLARED.databases![0], owner: 'orders_app' }, DECLARED.databases![1]] }],
    // The declaration carries the pooler even when users and databases created the Job first.
    ['a pooler added', { ...DECLARED, pooler: { readOnly: true } }],
    ['TLS turned off', { ...DECLARED, tls: Tls.disabled() }],
    ['the port changed', { ...DECLARED, config: { database: { port: 6543 } } }],
  ])('changes with %s', (_what, props) => {
    expect(nameOf(props)).not.toBe(base);
  });
});

describe('addUser() and addDatabase() after construction', () => {
  function build(extra: (cluster: PostgresCluster) => void, props: PostgresClusterProps = {}, namespace?: string): Manifest[] {
    return synthWith((chart: Chart) => extra(new PostgresCluster(chart, 'db', props)), namespace ? { namespace } : undefined);
  }

  test('returns the role name and its Secret name (underscores turned into dashes)', () => {
    const cluster = new PostgresCluster(Testing.chart(), 'db', { clusterName: 'orders' });
    expect(cluster.addUser({ name: 'orders_app' })).toEqual({ name: 'orders_app', secretName: 'orders-user-orders-app' });
    expect(cluster.addUser({ name: 'reader' })).toEqual({ name: 'reader', secretName: 'orders-user-reader' });
    expect(cluster.addUser({ name: 'group_role', login: false })).toEqual({ name: 'group_role', secretName: 'orders-user-group-role' });
  });

  test('a user added later creates the access Job and is in its declaration, with its password variable', () => {
    const m = build((c) => c.addUser({ name: 'late', databases: [{ database: 'app' }] }));
    const job = accessJob(m);
    expect(declaration(job).users.map((u: any) => u.name)).toEqual(['late']);
    expect(envOf(job, 'PGC_PASSWORD_0')).toEqual({ name: 'PGC_PASSWORD_0', ...secretRef('db-user-late') });
  });

  test('users added later join those of the props, in order, and get their Secrets', () => {
    const m = build((c) => {
      c.addUser({ name: 'second' });
      c.addDatabase({ name: 'extra', owner: 'second' });
    }, { users: [{ name: 'first' }] });
    const job = accessJob(m);
    expect(declaration(job).users.map((u: any) => u.name)).toEqual(['first', 'second']);
    expect(declaration(job).databases.map((d: any) => d.name)).toEqual(['extra']);
    expect(secretsOf(m)).toEqual(expect.arrayContaining(['db-user-first=first', 'db-user-second=second']));
    expect(Object.keys(connections(m))).toEqual(['db-user-first', 'db-user-second']);
    expect(ofKind(m, 'Job').filter((j) => j.metadata.name.startsWith('db-access-'))).toHaveLength(1);
  });

  test('a database added later creates the access Job', () => {
    const job = accessJob(build((c) => c.addDatabase({ name: 'late_db' })));
    expect(declaration(job).databases).toEqual([{ name: 'late_db', owner: 'cdk8s_access', extensions: [] }]);
  });

  test('adding a user later changes the credentials Job\'s name too (it has a new Secret to create)', () => {
    const before = credentialsJob(build(() => undefined)).metadata.name;
    const after = credentialsJob(build((c) => c.addUser({ name: 'late' }))).metadata.name;
    expect(after).not.toBe(before);
  });
});

describe('user Secrets (SECRET_CONNECTIONS of the credentials Job)', () => {
  test('only login users get a Secret, with the read-write and read-only hosts, the port, the database and verify-full', () => {
    const m = synthCluster(DECLARED);
    expect(secretsOf(m)).toEqual([
      'db-superuser=postgres', 'db-replication=replicator', 'db-monitoring=cdk8s_monitor', 'db-rewind=cdk8s_rewind', 'db-access=cdk8s_access',
      'db-user-orders-app=orders_app', 'db-user-reporter=reporter',
    ]);
    expect(connections(m)).toEqual({
      'db-user-orders-app': { host: 'db-primary', roHost: 'db-replicas', port: 5432, dbname: 'orders', sslmode: 'verify-full' },
      'db-user-reporter': { host: 'db-primary', roHost: 'db-replicas', port: 5432, dbname: 'reports', sslmode: 'verify-full' },
    });
  });

  test('in a namespaced chart, the hosts are the Services\' namespace names', () => {
    const m = synthCluster({ ...DECLARED, config: { database: { port: 6543 } } }, { namespace: 'apps' });
    expect(connections(m)['db-user-orders-app']).toEqual({
      host: 'db-primary.apps.svc', roHost: 'db-replicas.apps.svc', port: 6543, dbname: 'orders', sslmode: 'verify-full',
    });
  });

  test('without TLS: sslmode prefer', () => {
    const m = synthCluster({ ...DECLARED, tls: Tls.disabled() });
    for (const conn of Object.values<any>(connections(m))) expect(conn.sslmode).toBe('prefer');
  });

  // Users of the props are declared before the props' databases: the owned database is still found.
  test('dbname: the first granted database, else the database the user owns, else the application database', () => {
    const m = synthCluster({
      config: { database: { name: 'shop' } },
      databases: [{ name: 'owned', owner: 'owner_user' }, { name: 'granted' }, { name: 'second' }],
      users: [
        { name: 'granted_user', databases: [{ database: 'granted' }, { database: 'second' }] },
        { name: 'owner_user' },
        { name: 'plain_user' },
      ],
    });
    const c = connections(m);
    expect(c['db-user-granted-user'].dbname).toBe('granted');
    expect(c['db-user-owner-user'].dbname).toBe('owned');
    expect(c['db-user-plain-user'].dbname).toBe('shop');
  });

  test('the user Secrets are Secrets the credentials Job may read, and none is emitted in the YAML', () => {
    const m = synthCluster(DECLARED);
    expect(find(m, 'Role', 'db-credentials').rules[1].resourceNames).toEqual(expect.arrayContaining(['db-user-orders-app', 'db-user-reporter']));
    expect(ofKind(m, 'Secret')).toEqual([]);
  });
});
