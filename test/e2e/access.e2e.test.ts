/**
 * Declared access on real Kubernetes (test/kube/cluster.sh): the Job controller runs the
 * credentials Job as its own ServiceAccount, which creates the users' Secrets (with ready-made
 * URIs) through the API server; the access Job applies roles, databases, grants and extensions
 * to the primary over TLS (verify-full); client pods of the library's image use the Secrets as
 * env and as a volume, by the Services' names through cluster DNS; PgBouncer runs as the
 * Deployment behind its Services (auth_query, TLS), rolls out a changed configuration and follows
 * a switchover; an application user's password is rotated by a higher passwordRotation in the
 * code, with the other users and the members untouched. Only the kubelet is emulated (test/kube/node-agent/differences.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { FailoverTiming, PoolerOptions, PostgresCluster, PostgresClusterProps, SchemaPrivilege, UserOptions } from '../../src';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { clientPod, connValue, jobComplete, jobPods, jobsNamed, psqlConn, runPod } from './harness/kube-access';
import { loadManifests, objectsOfKind } from './harness/manifests';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';
import { waitFor } from './lib/processes';

const NAME = 'pgacc';
/** A suffix per run: nothing left by an earlier run can answer for this one. */
const RUN = Date.now().toString(36).slice(-5);
const NS = `ac-access-${RUN}`;
const SA_PREFIX = `system:serviceaccount:${NS}:`;
const CA_MOUNT = { name: 'ca', mountPath: '/etc/postgres-ca', readOnly: true };
const CA_VOLUME = { name: 'ca', configMap: { name: `${NAME}-ca-cert`, items: [{ key: 'ca.crt', path: 'ca.crt' }] } };

const POOLER: PoolerOptions = { instances: 1, defaultPoolSize: 5, readOnly: true };
const PROPS: PostgresClusterProps = {
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: 1 },
  databases: [{ name: 'shop', owner: 'shop_owner', extensions: ['pgcrypto'] }, { name: 'other' }],
  users: [
    { name: 'shop_owner', login: false },
    { name: 'shop_app', memberOf: ['shop_owner'], databases: [{ database: 'shop' }], schemas: [{ database: 'shop', privileges: [SchemaPrivilege.USAGE, SchemaPrivilege.CREATE] }] },
    { name: 'other_app', databases: [{ database: 'other' }] },
  ],
  pooler: POOLER,
};
const REPORT: UserOptions = { name: 'shop_report', connectionLimit: 3, databases: [{ database: 'shop' }] };

let kube: KubeCluster;
let pg: KubePostgres;
let workDir: string;
let file: string;
let image: string;
let psqlBin: string;

/**
 * Synthesizes the declaration with addDatabase/addUser after construction (the props form is
 * checked by the 'props form' test). The tests' host client connects as `postgres`, so
 * superuserNetworkAccess is on.
 */
function synthAccess(outdir: string, extraUsers: UserOptions[] = [], pooler: PoolerOptions = POOLER, rotations: Record<string, number> = {}): string {
  const app = new App({ outdir });
  const chart = new Chart(app, 'e2e');
  const c = new PostgresCluster(chart, NAME, {
    failoverTiming: PROPS.failoverTiming,
    replicas: PROPS.replicas,
    pooler,
    config: { connection: { superuserNetworkAccess: true } },
  });
  // addDatabase wants its owner declared first; addUser wants its databases declared first.
  c.addUser(PROPS.users![0]);
  for (const db of PROPS.databases!) c.addDatabase(db);
  for (const u of [...PROPS.users!.slice(1), ...extraUsers]) c.addUser(rotations[u.name] ? { ...u, passwordRotation: rotations[u.name] } : u);
  app.synth();
  return path.join(outdir, 'e2e.k8s.yaml');
}

const su = () => pg.superuserVia(`${NAME}-primary`);
/** SQL as the superuser through the read-write Service. */
const suSql = async (sql: string, database?: string) => psql({ ...(await su()), database }, sql, { connectTimeoutSec: 10 });

/** A connection string verifying the server by `name` (not resolved on the host) at the Service's ClusterIP. */
async function byName(service: string, user: string, password: string, dbname: string, name = service): Promise<string> {
  const ip = (await kube.get('service', service, NS)).spec.clusterIP;
  return [`host=${name}`, `hostaddr=${ip}`, 'port=5432', `user=${user}`, `password=${connValue(password)}`, `dbname=${dbname}`, 'sslmode=verify-full'].join(' ');
}

/** The CA certificate the publisher Job put in `<cluster>-ca-cert`, as a file on the host. */
let caFile: string;
const hostEnv = () => ({ PGSSLROOTCERT: caFile });

async function appSecret(user: string): Promise<Record<string, string>> {
  return kube.secret(`${NAME}-user-${user.replace(/_/g, '-')}`, NS);
}

async function roleState(): Promise<string> {
  return suSql(`select string_agg(rolname || ':' || rolcanlogin || ':' || rolsuper || ':' || rolcreaterole || ':' || rolcreatedb
    || ':' || rolconnlimit, ',' order by rolname) from pg_roles where rolname in ('shop_owner', 'shop_app', 'other_app', 'cdk8s_pgbouncer', 'shop_report')`);
}

/** Secrets of the namespace created through the API, by name, with who created them (the audit log). */
function secretCreators(): Map<string, Array<{ user: string; pod?: string; code: number }>> {
  const out = new Map<string, Array<{ user: string; pod?: string; code: number }>>();
  for (const e of kube.auditEvents()) {
    // Created: a create, or a server-side apply answered 201 (cert-manager applies its Secrets).
    if (e.stage !== 'ResponseComplete' || !['create', 'patch'].includes(e.verb) || e.objectRef?.resource !== 'secrets' || e.objectRef?.namespace !== NS) continue;
    if (e.objectRef.subresource) continue;
    if (e.verb === 'patch' && e.responseStatus?.code !== 201) continue;
    const list = out.get(e.objectRef.name) ?? [];
    list.push({ user: e.user.username, pod: e.user.extra?.['authentication.kubernetes.io/pod-name']?.[0], code: e.responseStatus?.code });
    out.set(e.objectRef.name, list);
  }
  return out;
}

/** The one Job of a name prefix, once the Job controller reports it Complete. */
async function onlyJob(prefix: string): Promise<Obj> {
  const jobs = await kube.until(`a Job ${prefix}*`, 120_000, async () => {
    const js = await jobsNamed(kube, NS, prefix);
    return js.length > 0 ? js : undefined;
  });
  expect(jobs).toHaveLength(1);
  return jobComplete(kube, NS, jobs[0].metadata.name);
}

/** A client pod of the library's image: psql from where the image has it, the CA mounted. */
function psqlPod(name: string, script: string, env: any[], extraVolumes: any[] = [], extraMounts: any[] = []): Obj {
  return clientPod(name, {
    image,
    command: ['/bin/sh', '-c', script],
    env: [{ name: 'PGSSLROOTCERT', value: '/etc/postgres-ca/ca.crt' }, { name: 'PGCONNECT_TIMEOUT', value: '5' }, ...env],
    volumeMounts: [CA_MOUNT, ...extraMounts],
  }, [CA_VOLUME, ...extraVolumes]);
}
const fromSecret = (envName: string, user: string, key: string) =>
  ({ name: envName, valueFrom: { secretKeyRef: { name: `${NAME}-user-${user.replace(/_/g, '-')}`, key } } });

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-access');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  file = synthAccess(path.join(workDir, 'manifests'));
  const applied = Date.now();
  await kube.apply(file, NS);
  pg = new KubePostgres(kube, NS, NAME);
  await pg.waitHealthy(2);
  record('kube_access_bootstrap_seconds', Math.round((Date.now() - applied) / 100) / 10);
  // kube-proxy programs the Service from the slice within its sync period: the first connection
  // through the ClusterIP waits for that (connection failures only).
  const t0 = Date.now();
  const target = await su();
  for (;;) {
    try {
      await psql(target, 'select 1', { connectTimeoutSec: 2 });
      break;
    } catch (err) {
      if (!/timeout expired|Connection refused|No route to host/.test(String((err as Error).message)) || Date.now() - t0 > 60_000) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  record('kube_access_first_connection_after_healthy_seconds', Math.round((Date.now() - t0) / 100) / 10);
  const sts = await kube.get('statefulset', `${NAME}-primary`, NS);
  image = sts.spec.template.spec.containers.find((c: any) => c.name === 'postgres').image;
  psqlBin = `/usr/pgsql-${/:(\d+)\./.exec(image)![1]}/bin/psql`;
  const ca = await kube.until(`${NAME}-ca-cert filled by the publisher Job`, 120_000, async () =>
    (await kube.get('configmap', `${NAME}-ca-cert`, NS)).data?.['ca.crt'] as string | undefined);
  caFile = path.join(workDir, 'ca.crt');
  fs.writeFileSync(caFile, ca);
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

// Regression: with users/databases given as props the access Job was once rendered before the
// pooler was known ("pooler": null), so PgBouncer's auth role and get_auth() were never created.
test('props form: the access Job of users/databases given as props also sets up the pooler role', () => {
  const f = synthCluster(path.join(workDir, 'props-form'), NAME, PROPS);
  const job = objectsOfKind(loadManifests(f), 'Job').find((j) => j.metadata.name.startsWith(`${NAME}-access-`))!;
  const env = job.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  expect(JSON.parse(env.find((e) => e.name === 'PGC_ACCESS')!.value!).pooler).toEqual({ user: 'cdk8s_pgbouncer', passwordEnv: 'PGC_POOLER_PASSWORD' });
});

test('the credentials Job runs as its own ServiceAccount and creates the Secrets through the API server', async () => {
  const job = await onlyJob(`${NAME}-credentials-`);
  const pods = await jobPods(kube, NS, job);
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) expect(p.spec.serviceAccountName).toBe(`${NAME}-credentials`);
  expect(pods.some((p) => p.status.phase === 'Succeeded')).toBe(true);
  // The API server's audit log: every user Secret and the pooler's userlist was created by that
  // ServiceAccount, with the token bound to one of the Job's pods, and by nobody else.
  const creators = secretCreators();
  const podNames = pods.map((p) => p.metadata.name);
  for (const s of [`${NAME}-user-shop-app`, `${NAME}-user-other-app`, `${NAME}-pgbouncer`, `${NAME}-superuser`, `${NAME}-replication`]) {
    const created = (creators.get(s) ?? []).filter((c) => c.code === 201);
    expect({ s, created: created.map((c) => c.user) }).toEqual({ s, created: [`${SA_PREFIX}${NAME}-credentials`] });
    expect(podNames).toContain(created[0].pod);
  }
  const app = await appSecret('shop_app');
  const pw = app.password;
  expect(pw).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  expect(app).toEqual({
    'username': 'shop_app',
    'password': pw,
    'host': `${NAME}-primary`,
    'ro-host': `${NAME}-replicas`,
    'port': '5432',
    'dbname': 'shop',
    'uri': `postgresql://shop_app:${pw}@${NAME}-primary:5432/shop?sslmode=verify-full`,
    'ro-uri': `postgresql://shop_app:${pw}@${NAME}-replicas:5432/shop?sslmode=verify-full`,
    'jdbc-uri': `jdbc:postgresql://${NAME}-primary:5432/shop?sslmode=verify-full&user=shop_app&password=${pw}`,
    'ro-jdbc-uri': `jdbc:postgresql://${NAME}-replicas:5432/shop?sslmode=verify-full&user=shop_app&password=${pw}`,
  });
  // No Secret for a role without login.
  expect(await kube.getOptional('secret', `${NAME}-user-shop-owner`, NS)).toBeUndefined();
  const bouncer = await kube.secret(`${NAME}-pgbouncer`, NS);
  expect(bouncer['userlist.txt']).toBe(`"cdk8s_pgbouncer" "${bouncer.password}"\n`);
});

test('the access Job (no API token: it talks only to PostgreSQL) applies roles, databases, extensions and grants', async () => {
  const job = await onlyJob(`${NAME}-access-`);
  const pods = await jobPods(kube, NS, job);
  const done = pods.find((p) => p.status.phase === 'Succeeded')!;
  expect(done.spec.automountServiceAccountToken).toBe(false);
  expect(done.spec.volumes ?? []).not.toContainEqual(expect.objectContaining({ projected: expect.anything() }));
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, done), 'apply-access.log'), 'utf8');
  expect(log).toContain('access applied: 3 roles, 2 databases');
  expect(log).not.toContain((await appSecret('shop_app')).password);
  // Nothing in the namespace called the API server as its ServiceAccount (default).
  expect(kube.auditEvents().filter((e) => e.user?.username === `${SA_PREFIX}default`)).toEqual([]);
  expect(await roleState()).toBe('cdk8s_pgbouncer:true:false:false:false:-1,other_app:true:false:false:false:-1,shop_app:true:false:false:false:-1,shop_owner:false:false:false:false:-1');
  expect(await suSql("select string_agg(datname || ':' || pg_get_userbyid(datdba), ',' order by datname) from pg_database where datname in ('shop', 'other')"))
    .toBe('other:cdk8s_access,shop:shop_owner');
  expect(await suSql("select extname from pg_extension where extname = 'pgcrypto'", 'shop')).toBe('pgcrypto');
  expect(await suSql("select pg_has_role('shop_app', 'shop_owner', 'member')::text || ',' || has_database_privilege('shop_app', 'shop', 'CONNECT')::text || ',' || has_database_privilege('shop_app', 'other', 'CONNECT')::text || ',' || has_database_privilege('other_app', 'other', 'CONNECT')::text"))
    .toBe('true,true,false,true');
  expect(await suSql("select string_agg(rolname || ':' || (rolpassword like 'SCRAM-SHA-256$4096:%')::text, ',' order by rolname) from pg_authid where rolname in ('shop_app', 'other_app', 'cdk8s_pgbouncer')"))
    .toBe('cdk8s_pgbouncer:true,other_app:true,shop_app:true');
});

test('a client pod connects with the Secret\'s URI (env) by the Service name through cluster DNS, verify-full, and writes and reads', async () => {
  const run = await runPod(kube, NS, psqlPod('client-env', `exec ${psqlBin} -X -A -t -q -v ON_ERROR_STOP=1 -d "$APP_URI"`
    + ' -c "create table orders (id int primary key, item text)" -c "insert into orders values (1, \'book\')"'
    + ' -c "select current_user || \',\' || host(inet_server_addr()) || \',\' || (select ssl::text from pg_stat_ssl where pid = pg_backend_pid()) || \',\' || count(*) from orders"',
  [fromSecret('APP_URI', 'shop_app', 'uri')]));
  const leader = (await pg.labelledLeader())!;
  expect({ phase: run.phase, exit: run.exitCode, log: run.log.trim() }).toEqual({ phase: 'Succeeded', exit: 0, log: `shop_app,${leader.status.podIP},true,1` });
  expect(run.pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
});

test('a client pod reads through the read-only Service with the Secret mounted as a volume (ro-uri)', async () => {
  const replica = await kube.until('a member labelled replica', 60_000, async () =>
    (await pg.pods()).find((p) => p.metadata.labels?.['postgres.cdk8s.io/role'] === 'replica'));
  await waitFor(async () => (await psql({ ...(await pg.superuserAt(replica)), database: 'shop' }, 'select count(*) from orders where id = 1')) === '1', 30_000, 250, 'orders on the replica');
  const run = await runPod(kube, NS, psqlPod('client-volume', `exec ${psqlBin} -X -A -t -q -v ON_ERROR_STOP=1 -d "$(cat /etc/app/ro-uri)"`
    + ' -c "select pg_is_in_recovery()::text || \',\' || host(inet_server_addr()) || \',\' || string_agg(item, \',\') from orders"',
  [], [{ name: 'app', secret: { secretName: `${NAME}-user-shop-app` } }], [{ name: 'app', mountPath: '/etc/app', readOnly: true }]));
  expect({ phase: run.phase, exit: run.exitCode, log: run.log.trim() }).toEqual({ phase: 'Succeeded', exit: 0, log: `true,${replica.status.podIP},book` });
});

test('a client pod without the CA certificate cannot connect: the URI asks for verify-full', async () => {
  const pod = psqlPod('client-no-ca', `exec ${psqlBin} -X -A -t -d "$APP_URI" -c "select 1"`, [fromSecret('APP_URI', 'shop_app', 'uri')]);
  pod.spec.containers[0].env = pod.spec.containers[0].env.filter((e: any) => e.name !== 'PGSSLROOTCERT');
  const run = await runPod(kube, NS, pod);
  expect({ phase: run.phase, exit: run.exitCode }).toEqual({ phase: 'Failed', exit: 2 });
  expect(run.log).toMatch(/root certificate file .* does not exist/);
});

test('PgBouncer runs as the Deployment behind its Services: auth_query, TLS both ways, every database it forwards to', async () => {
  for (const d of [`${NAME}-pooler`, `${NAME}-pooler-ro`]) {
    await kube.until(`Deployment ${d} available`, 120_000, async () => {
      const dep = await kube.get('deployment', d, NS);
      return dep.status?.availableReplicas === 1 && dep.status?.updatedReplicas === 1;
    });
  }
  const poolerPods = (await kube.list('pods', NS, 'app.kubernetes.io/component=pgacc-pooler')).filter(KubeCluster.isReady);
  expect(poolerPods).toHaveLength(1);
  expect(await kube.readyEndpoints(`${NAME}-pooler`, NS)).toEqual([poolerPods[0].status.podIP]);
  // The userlist holds only the auth_query role: every application user is looked up through it.
  expect((await kube.secret(`${NAME}-pgbouncer`, NS))['userlist.txt']).not.toMatch(/shop_app|other_app/);
  const conn = (svc: string, prefix: string, db: string) =>
    `"host=${svc} port=5432 dbname=${db} user=$${prefix}_USER password=$${prefix}_PASSWORD sslmode=verify-full"`;
  const sh = (svc: string, prefix: string, db: string, sql: string) => `${psqlBin} -X -A -t -q -v ON_ERROR_STOP=1 -d ${conn(svc, prefix, db)} -c "${sql}"`;
  const script = ['set -e',
    sh(`${NAME}-pooler`, 'SHOP', 'shop', "insert into orders values (2, 'pen') returning 'shop:' || current_user || ':' || host(inet_server_addr())"),
    sh(`${NAME}-pooler`, 'OTHER', 'other', "select 'other:' || current_user || ':' || current_database() || ':' || pg_is_in_recovery()"),
    sh(`${NAME}-pooler-ro`, 'SHOP', 'shop', "select 'ro:' || pg_is_in_recovery() || ':' || count(*) from orders where id = 1")].join('\n');
  const run = await runPod(kube, NS, psqlPod('client-pooler', script, [
    fromSecret('SHOP_USER', 'shop_app', 'username'), fromSecret('SHOP_PASSWORD', 'shop_app', 'password'),
    fromSecret('OTHER_USER', 'other_app', 'username'), fromSecret('OTHER_PASSWORD', 'other_app', 'password'),
  ]));
  const leader = (await pg.labelledLeader())!;
  expect({ phase: run.phase, exit: run.exitCode, log: run.log.trim().split('\n') })
    .toEqual({ phase: 'Succeeded', exit: 0, log: [`shop:shop_app:${leader.status.podIP}`, 'other:other_app:other:false', 'ro:true:1'] });
  // PgBouncer's own connections to PostgreSQL come from its pod and use TLS.
  const rows = await suSql(`select distinct a.usename || ':' || host(a.client_addr) || ':' || s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
    where a.usename in ('shop_app', 'other_app') order by 1`);
  expect(rows.split('\n')).toEqual([`other_app:${poolerPods[0].status.podIP}:true`, `shop_app:${poolerPods[0].status.podIP}:true`]);
});

test('shop_app cannot create roles nor connect to another database (directly or through the pooler)', async () => {
  const pw = (await appSecret('shop_app')).password;
  await expect(psqlConn(await byName(`${NAME}-primary`, 'shop_app', pw, 'shop'), 'create role intruder', hostEnv())).rejects.toThrow(/permission denied to create role/);
  await expect(psqlConn(await byName(`${NAME}-primary`, 'shop_app', pw, 'other'), 'select 1', hostEnv())).rejects.toThrow(/permission denied for database "other"/);
  await expect(psqlConn(await byName(`${NAME}-pooler`, 'shop_app', pw, 'other'), 'select 1', hostEnv())).rejects.toThrow(/permission denied for database "other"/);
});

test('re-running the access Job changes nothing; a new declaration adds a user and keeps the data', async () => {
  const before = await roleState();
  const first = (await jobsNamed(kube, NS, `${NAME}-access-`))[0];
  // Run it again the way an operator would: delete the finished Job and re-apply the same manifests.
  await kube.kubectl(['delete', 'job', '-n', NS, first.metadata.name, '--cascade=foreground']);
  await kube.apply(file, NS);
  const rerun = await onlyJob(`${NAME}-access-`);
  expect(rerun.metadata.name).toBe(first.metadata.name);
  expect(rerun.metadata.uid).not.toBe(first.metadata.uid);
  expect(await roleState()).toBe(before);
  const pw = (await appSecret('shop_app')).password;
  expect(await psqlConn(await byName(`${NAME}-primary`, 'shop_app', pw, 'shop'), 'select count(*) from orders', hostEnv())).toBe('2');
  // A new user: a new credentials Job creates its Secret, a new access Job its role.
  const creds = (await jobsNamed(kube, NS, `${NAME}-credentials-`)).map((j) => j.metadata.name);
  file = synthAccess(path.join(workDir, 'manifests-report'), [REPORT]);
  await kube.apply(file, NS);
  const newCreds = await kube.until('a second credentials Job', 60_000, async () => {
    const js = (await jobsNamed(kube, NS, `${NAME}-credentials-`)).filter((j) => !creds.includes(j.metadata.name));
    return js.length === 1 ? js[0] : undefined;
  });
  await jobComplete(kube, NS, newCreds.metadata.name);
  const changed = await kube.until('a new access Job', 60_000, async () => {
    const js = (await jobsNamed(kube, NS, `${NAME}-access-`)).filter((j) => j.metadata.name !== first.metadata.name);
    return js.length === 1 ? js[0] : undefined;
  });
  await jobComplete(kube, NS, changed.metadata.name);
  expect((await appSecret('shop_report')).dbname).toBe('shop');
  expect(secretCreators().get(`${NAME}-user-shop-report`)!.filter((c) => c.code === 201).map((c) => c.user)).toEqual([`${SA_PREFIX}${NAME}-credentials`]);
  expect(await roleState()).toBe(`${before},shop_report:true:false:false:false:3`.split(',').sort().join(','));
  const report = await appSecret('shop_report');
  expect(await psqlConn(await byName(`${NAME}-primary`, 'shop_report', report.password, 'shop'), 'select current_user', hostEnv())).toBe('shop_report');
  // The existing Secret is unchanged and its password still works.
  expect((await appSecret('shop_app')).password).toBe(pw);
  expect(await psqlConn(await byName(`${NAME}-primary`, 'shop_app', pw, 'shop'), "select string_agg(item, ',' order by id) from orders", hostEnv())).toBe('book,pen');
});

test('a changed pooler setting, re-applied, rolls the Deployment: new pods replace the old ones and serve', async () => {
  const dep = await kube.get('deployment', `${NAME}-pooler`, NS);
  const oldPods = await kube.list('pods', NS, 'app.kubernetes.io/component=pgacc-pooler');
  const generations = await Promise.all(['primary', 'replica'].map(async (s) => (await kube.get('statefulset', `${NAME}-${s}`, NS)).metadata.generation));
  const accessJobs = (await jobsNamed(kube, NS, `${NAME}-access-`)).map((j) => j.metadata.name);
  const t0 = Date.now();
  file = synthAccess(path.join(workDir, 'manifests-pool'), [REPORT], { ...POOLER, defaultPoolSize: 7 });
  await kube.apply(file, NS);
  const newPod = await kube.until('the Deployment rolled out: one new pod Ready behind the Service, the old one gone', 180_000, async () => {
    const d = await kube.get('deployment', `${NAME}-pooler`, NS);
    const pods = await kube.list('pods', NS, 'app.kubernetes.io/component=pgacc-pooler');
    const fresh = pods.filter((p) => !oldPods.some((o) => o.metadata.uid === p.metadata.uid));
    if (d.status?.observedGeneration !== d.metadata.generation || d.status?.updatedReplicas !== 1) return undefined;
    if (pods.length !== 1 || fresh.length !== 1 || !KubeCluster.isReady(fresh[0])) return undefined;
    const eps = await kube.readyEndpoints(`${NAME}-pooler`, NS);
    return eps.join() === fresh[0].status.podIP ? fresh[0] : undefined;
  }, 500);
  record('kube_pooler_rollout_seconds', Math.round((Date.now() - t0) / 100) / 10);
  expect((await kube.get('deployment', `${NAME}-pooler`, NS)).metadata.generation).toBe(dep.metadata.generation + 1);
  // A new ReplicaSet of the Deployment owns the new pod.
  const owner = newPod.metadata.ownerReferences.find((o: any) => o.kind === 'ReplicaSet');
  expect(owner.name).not.toBe(oldPods[0].metadata.ownerReferences.find((o: any) => o.kind === 'ReplicaSet').name);
  expect((await kube.get('configmap', `${NAME}-pooler`, NS)).data['pgbouncer.ini']).toMatch(/^default_pool_size = 7$/m);
  // Only the pooler changed: the members and the access Job are untouched.
  expect(await Promise.all(['primary', 'replica'].map(async (s) => (await kube.get('statefulset', `${NAME}-${s}`, NS)).metadata.generation))).toEqual(generations);
  expect((await jobsNamed(kube, NS, `${NAME}-access-`)).map((j) => j.metadata.name)).toEqual(accessJobs);
  // The new pod serves, through the Service and at its own address.
  const pw = (await appSecret('shop_app')).password;
  expect(await psqlConn(await byName(`${NAME}-pooler`, 'shop_app', pw, 'shop'), "insert into orders values (3, 'ink') returning id", hostEnv())).toBe('3');
  const direct = (await byName(`${NAME}-pooler`, 'shop_app', pw, 'shop')).replace(/hostaddr=\S+/, `hostaddr=${newPod.status.podIP}`);
  expect(await psqlConn(direct, 'select count(*) from orders', hostEnv())).toBe('3');
});

test('after a switchover the pooler reaches the new leader', async () => {
  const leader = (await pg.labelledLeader())!;
  const candidate = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const pw = (await appSecret('shop_app')).password;
  const viaPooler = await byName(`${NAME}-pooler`, 'shop_app', pw, 'shop');
  // Timed from the switchover request (Patroni answers it once the new leader runs).
  const t0 = Date.now();
  const res = await pg.switchover(leader, candidate);
  expect(res.status).toBe(200);
  const answered = (Date.now() - t0) / 1000;
  // Writes through the pooler fail while the leader changes (its server connections to the old
  // leader end with the demotion); the first that commits must commit on the candidate.
  let id = 100;
  const server = await waitFor(async () => psqlConn(viaPooler, `insert into orders values (${id++}, 'after switchover') returning host(inet_server_addr())`, hostEnv()),
    60_000, 250, 'a write through the pooler after the switchover');
  const seconds = (Date.now() - t0) / 1000;
  record('kube_pooler_write_after_switchover_seconds', Math.round(seconds * 10) / 10);
  record('kube_switchover_request_answered_seconds', Math.round(answered * 10) / 10);
  expect(server).toBe((await kube.get('pod', candidate.metadata.name, NS)).status.podIP);
  expect((await pg.waitHealthy(2)).metadata.name).toBe(candidate.metadata.name);
  expect(seconds).toBeLessThan(30);
});

test('a higher passwordRotation rotates shop_app\'s password: old refused, the Secret has the new one, a re-reading client reconnects, nothing else changes', async () => {
  const POOL = { ...POOLER, defaultPoolSize: 7 };
  const secretName = `${NAME}-user-shop-app`;
  const old = await appSecret('shop_app');
  // Everything that must not change: the other Secrets (all keys), the members and pooler pods.
  const others = [`${NAME}-user-other-app`, `${NAME}-user-shop-report`, `${NAME}-pgbouncer`, `${NAME}-superuser`, `${NAME}-replication`,
    `${NAME}-monitoring`, `${NAME}-rewind`, `${NAME}-access`];
  const othersBefore = await Promise.all(others.map((n) => kube.secret(n, NS)));
  const podState = async () => (await kube.list('pods', NS)).filter((p) => !p.metadata.ownerReferences?.some((o: any) => o.kind === 'Job') && p.metadata.labels?.['app.kubernetes.io/name'] !== 'e2e-client')
    .map((p) => `${p.metadata.name}:${p.metadata.uid}:${(p.status.containerStatuses ?? []).map((c: any) => c.restartCount).join('/')}`).sort();
  const podsBefore = await podState();
  expect(podsBefore.filter((p) => p.startsWith(`${NAME}-primary-`) || p.startsWith(`${NAME}-replica-`))).toHaveLength(2);
  const generations = async () => Promise.all(['statefulset/pgacc-primary', 'statefulset/pgacc-replica', 'deployment/pgacc-pooler', 'deployment/pgacc-pooler-ro']
    .map(async (r) => (await kube.get(r.split('/')[0], r.split('/')[1], NS)).metadata.generation));
  const generationsBefore = await generations();
  const primary = async (pw: string) => psqlConn(await byName(`${NAME}-primary`, 'shop_app', pw, 'shop'), 'select current_user', hostEnv());
  expect(await primary(old.password)).toBe('shop_app');
  const jobsBefore = (await kube.list('jobs', NS)).map((j) => j.metadata.name);

  // A client that re-reads its mounted Secret before each connection, as an app would on an
  // authentication error: it must end up connected with the rotated password.
  const reader = psqlPod('client-rereads', [
    'n=0',
    'while [ $n -lt 240 ]; do',
    '  if [ "$(cat /etc/app/password-rotation 2>/dev/null)" = 1 ] &&'
    + ` ${psqlBin} -X -A -t -q -d "$(cat /etc/app/uri)" -c "select 'reconnected:' || current_user" 2>/dev/null; then exit 0; fi`,
    '  n=$((n+1)); sleep 0.5',
    'done',
    'exit 1',
  ].join('\n'), [], [{ name: 'app', secret: { secretName } }], [{ name: 'app', mountPath: '/etc/app', readOnly: true }]);
  // A client that took the password from its environment when it started: it keeps the old one.
  const envClient = psqlPod('client-env-password', [
    'n=0',
    'while [ $n -lt 240 ]; do',
    `  out=$(${psqlBin} -X -A -t -q -d "host=${NAME}-primary dbname=shop user=shop_app sslmode=verify-full" -c "select 1" 2>&1) || break`,
    '  n=$((n+1)); sleep 0.5',
    'done',
    'case "$out" in *"password authentication failed"*) echo refused;; *) echo "unexpected: $out"; exit 1;; esac',
    // The kubelet refreshes the mounted copy of the Secret a little later.
    'n=0; while [ $n -lt 120 ] && [ "$(cat /etc/app/password-rotation 2>/dev/null)" != 1 ]; do n=$((n+1)); sleep 0.5; done',
    '[ "$PGPASSWORD" != "$(cat /etc/app/password)" ] && [ "$(cat /etc/app/password-rotation)" = 1 ] && echo env-still-old-password',
  ].join('\n'),
  [fromSecret('PGPASSWORD', 'shop_app', 'password')], [{ name: 'app', secret: { secretName } }], [{ name: 'app', mountPath: '/etc/app', readOnly: true }]);
  for (const pod of [reader, envClient]) await kube.kubectl(['apply', '--server-side', '--field-manager=cdk8s-e2e', '-n', NS, '-f', '-'], JSON.stringify(pod));
  // Both running (and the env one connected once with the old password) before the rotation.
  await kube.until('the client pods running', 60_000, async () =>
    (await Promise.all(['client-rereads', 'client-env-password'].map(async (n) => (await kube.get('pod', n, NS)).status?.phase === 'Running'))).every(Boolean), 500);

  file = synthAccess(path.join(workDir, 'manifests-rotated'), [REPORT], POOL, { shop_app: 1 });
  const t0 = Date.now();
  await kube.apply(file, NS);
  // From the host, as often as it can: when the Secret changes, when its new password first
  // logs in, when the old one is first refused.
  let secretChanged: number | undefined;
  let newWorks: number | undefined;
  let oldRefused: number | undefined;
  let rotated: Record<string, string> = old;
  await waitFor(async () => {
    rotated = await appSecret('shop_app');
    if (rotated.password !== old.password) {
      secretChanged ??= Date.now();
      if (newWorks === undefined && await primary(rotated.password).then(() => true, () => false)) newWorks = Date.now();
    }
    if (oldRefused === undefined) {
      await primary(old.password).catch((err: Error) => {
        expect(err.message).toMatch(/password authentication failed for user "shop_app"/);
        oldRefused = Date.now();
      });
    }
    return newWorks !== undefined && oldRefused !== undefined;
  }, 180_000, 200, 'the new password working and the old one refused');
  const s = (t: number) => Math.round((t - t0) / 100) / 10;
  record('kube_rotation_secret_changed_seconds', s(secretChanged!));
  record('kube_rotation_new_password_works_seconds', s(newWorks!));
  record('kube_rotation_old_password_refused_seconds', s(oldRefused!));
  // The new password is set when the old one stops working (one ALTER ROLE), never before the Secret has it.
  expect(secretChanged!).toBeLessThanOrEqual(newWorks!);

  // Two new Jobs (credentials and access), both Complete; the access Job waited for the rotation.
  // Not counted: a run of the reconcile CronJob, which starts every five minutes on its own.
  const newJobs = (await kube.list('jobs', NS)).map((j) => j.metadata.name)
    .filter((n) => !jobsBefore.includes(n) && !n.startsWith(`${NAME}-reconcile-`)).sort();
  expect(newJobs).toEqual([expect.stringMatching(new RegExp(`^${NAME}-access-`)), expect.stringMatching(new RegExp(`^${NAME}-credentials-`))]);
  for (const j of newJobs) await jobComplete(kube, NS, j);

  // The Secret: a new password in every key that holds one, the rotation recorded, the rest as before.
  const pw = rotated.password;
  expect(pw).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  expect(rotated).toEqual({
    ...old,
    'password': pw,
    'password-rotation': '1',
    'uri': old.uri.replace(old.password, pw),
    'ro-uri': old['ro-uri'].replace(old.password, pw),
    'jdbc-uri': old['jdbc-uri'].replace(old.password, pw),
    'ro-jdbc-uri': old['ro-jdbc-uri'].replace(old.password, pw),
  });
  expect((await kube.get('secret', secretName, NS)).metadata.annotations?.['postgres.cdk8s.io/password-rotation']).toBe('1');
  await expect(primary(old.password)).rejects.toThrow(/password authentication failed for user "shop_app"/);
  expect(await primary(pw)).toBe('shop_app');
  // Through the pooler too (auth_query reads the new verifier; PgBouncer was not restarted).
  expect(await psqlConn(await byName(`${NAME}-pooler`, 'shop_app', pw, 'shop'), 'select count(*) > 0 from orders', hostEnv())).toBe('t');

  // The client that re-reads its Secret reconnected.
  const readerDone = await kube.until('the re-reading client finished', 180_000, async () => {
    const p = await kube.get('pod', 'client-rereads', NS);
    return ['Succeeded', 'Failed'].includes(p.status?.phase) ? p : undefined;
  }, 500);
  const readerLog = fs.readFileSync(path.join(kube.podLogDir(NS, readerDone), 'client.log'), 'utf8');
  expect({ phase: readerDone.status.phase, log: readerLog.trim() }).toEqual({ phase: 'Succeeded', log: 'reconnected:shop_app' });
  record('kube_rotation_rereading_client_done_seconds', s(Date.parse(readerDone.status.containerStatuses[0].state.terminated.finishedAt)));
  // The client with the password in its environment is refused from then on: it needs a restart.
  const envDone = await kube.until('the env client finished', 180_000, async () => {
    const p = await kube.get('pod', 'client-env-password', NS);
    return ['Succeeded', 'Failed'].includes(p.status?.phase) ? p : undefined;
  }, 500);
  const envLog = fs.readFileSync(path.join(kube.podLogDir(NS, envDone), 'client.log'), 'utf8');
  expect({ phase: envDone.status.phase, log: envLog.trim() }).toEqual({ phase: 'Succeeded', log: 'refused\nenv-still-old-password' });
  // Whether the access Job started before the Secret had the rotation and waited for it (a race: logged, not asserted).
  const accessJob = (await jobsNamed(kube, NS, `${NAME}-access-`)).find((j) => !jobsBefore.includes(j.metadata.name))!;
  const accessPod = (await jobPods(kube, NS, accessJob)).find((p) => p.status.phase === 'Succeeded')!;
  const accessLog = fs.readFileSync(path.join(kube.podLogDir(NS, accessPod), 'apply-access.log'), 'utf8');
  expect(accessLog).not.toContain(pw);
  record('kube_rotation_access_job_waited_for_secret', /waiting for the Secret of shop_app/.test(accessLog) ? 1 : 0);

  // Nothing else changed: the other Secrets and their passwords, no pod restarted or replaced,
  // no StatefulSet or Deployment changed.
  expect(await Promise.all(others.map((n) => kube.secret(n, NS)))).toEqual(othersBefore);
  expect(await psqlConn(await byName(`${NAME}-primary`, 'other_app', othersBefore[0].password, 'other'), 'select current_user', hostEnv())).toBe('other_app');
  expect(await psqlConn(await byName(`${NAME}-primary`, 'shop_report', othersBefore[1].password, 'shop'), 'select current_user', hostEnv())).toBe('shop_report');
  expect(await podState()).toEqual(podsBefore);
  expect(await generations()).toEqual(generationsBefore);

  // The same rotation applied again (the finished credentials Job deleted, as a GitOps prune
  // would, and the manifests re-applied) never rotates again.
  const creds = newJobs.find((n) => n.startsWith(`${NAME}-credentials-`))!;
  await kube.kubectl(['delete', 'job', '-n', NS, creds, '--cascade=foreground']);
  await kube.apply(file, NS);
  await kube.until(`Job ${creds} re-created`, 60_000, async () => kube.getOptional('job', creds, NS));
  await jobComplete(kube, NS, creds);
  expect(await appSecret('shop_app')).toEqual(rotated);
  expect(await primary(pw)).toBe('shop_app');

  // A second rotation: now the access Job's pod can mount the Secret at once (the key
  // password-rotation exists, at 1), so it is its wait for rotation 2 that keeps it from setting
  // the password the Secret is about to lose.
  const jobsBeforeSecond = (await kube.list('jobs', NS)).map((j) => j.metadata.name);
  file = synthAccess(path.join(workDir, 'manifests-rotated-2'), [REPORT], POOL, { shop_app: 2 });
  const t1 = Date.now();
  await kube.apply(file, NS);
  const second = await waitFor(async () => {
    const now = await appSecret('shop_app');
    if (now.password === pw || !(await primary(now.password).then(() => true, () => false))) return undefined;
    return now;
  }, 180_000, 200, 'the second rotation\'s password working');
  record('kube_rotation_2_new_password_works_seconds', Math.round((Date.now() - t1) / 100) / 10);
  expect(second['password-rotation']).toBe('2');
  await expect(primary(pw)).rejects.toThrow(/password authentication failed for user "shop_app"/);
  const secondAccess = (await jobsNamed(kube, NS, `${NAME}-access-`)).find((j) => !jobsBeforeSecond.includes(j.metadata.name))!;
  await jobComplete(kube, NS, secondAccess.metadata.name);
  const secondPod = (await jobPods(kube, NS, secondAccess)).find((p) => p.status.phase === 'Succeeded')!;
  const secondLog = fs.readFileSync(path.join(kube.podLogDir(NS, secondPod), 'apply-access.log'), 'utf8');
  record('kube_rotation_2_access_job_waited_for_secret', /waiting for the Secret of shop_app to reach password rotation 2/.test(secondLog) ? 1 : 0);
  expect(await Promise.all(others.map((n) => kube.secret(n, NS)))).toEqual(othersBefore);
  expect(await podState()).toEqual(podsBefore);
});
