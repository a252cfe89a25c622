/**
 * Declared access, run for real: the credentials Job's script creates the users' Secrets (with
 * ready-made URIs) against a fake API server, the access Job's script applies roles, databases,
 * grants and extensions to the primary over TLS (verify-full), and PgBouncer (Deployment, with
 * auth_query) routes an application to the leader, also after a switchover.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { FailoverTiming, PostgresCluster, PostgresClusterProps, SchemaPrivilege, UserOptions } from '../../src';
import { LoopbackCluster } from './harness/cluster';
import { loadManifests, objectsOfKind } from './harness/manifests';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { startEtcd } from './lib/etcd';
import { makeWorkDir } from './lib/fsutil';
import { findFreePort } from './lib/net';
import { switchover, waitForLeader } from './lib/patroni';
import { psql } from './lib/pg';
import { leftoverProcesses, stopAll, waitFor } from './lib/processes';

const NAME = 'pgacc';
let cluster: LoopbackCluster;
let ca: string;
let dir: string;

const PROPS: PostgresClusterProps = {
  failoverTiming: FailoverTiming.FAST,
  databases: [{ name: 'shop', owner: 'shop_owner', extensions: ['pgcrypto'] }, { name: 'other' }],
  users: [
    { name: 'shop_owner', login: false },
    { name: 'shop_app', memberOf: ['shop_owner'], databases: [{ database: 'shop' }], schemas: [{ database: 'shop', privileges: [SchemaPrivilege.USAGE, SchemaPrivilege.CREATE] }] },
  ],
  pooler: { instances: 1, defaultPoolSize: 5 },
};

/**
 * Synthesizes the declaration with addDatabase/addUser after construction (the props form is
 * checked by the 'props form' test).
 */
function synthAccess(outdir: string, extraUsers: UserOptions[] = []): string {
  const app = new App({ outdir });
  const chart = new Chart(app, 'e2e');
  const pg = new PostgresCluster(chart, NAME, { failoverTiming: PROPS.failoverTiming, pooler: PROPS.pooler });
  // addDatabase wants its owner declared first; addUser wants its databases declared first.
  pg.addUser(PROPS.users![0]);
  for (const db of PROPS.databases!) pg.addDatabase(db);
  for (const u of [...PROPS.users!.slice(1), ...extraUsers]) pg.addUser(u);
  app.synth();
  return path.join(outdir, 'e2e.k8s.yaml');
}

/** psql with a connection string (URI or key=value), the CA for verify-full; throws with stderr. */
function psqlUri(conninfo: string, sql: string, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/lib/postgresql/15/bin/psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-f', '-'], {
      env: { PATH: '/usr/bin:/bin', PGSSLROOTCERT: ca, PGCONNECT_TIMEOUT: '3', ...extraEnv },
      timeout: 15_000,
    }, (err, stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve(stdout.trim())));
    child.stdin?.end(sql);
  });
}

/** The shop_app URI of its Secret, pointed at another host and database, sslmode changed. */
function appUri(opts: { host?: string; dbname?: string; sslmode?: string } = {}): string {
  const u = new URL(cluster.secretValue(`${NAME}-user-shop-app`, 'uri'));
  if (opts.host) u.hostname = opts.host;
  if (opts.dbname) u.pathname = `/${opts.dbname}`;
  if (opts.sslmode) u.searchParams.set('sslmode', opts.sslmode);
  return u.toString();
}

const su = () => cluster.superuserVia(`${NAME}-primary`);
const poolerUri = () => appUri({ host: `${NAME}-pooler`, sslmode: 'require' });

async function roleState(): Promise<string> {
  return psql(su(), `select string_agg(rolname || ':' || rolcanlogin || ':' || rolsuper || ':' || rolcreaterole || ':' || rolcreatedb
    || ':' || rolconnlimit, ',' order by rolname) from pg_roles where rolname in ('shop_owner', 'shop_app', 'cdk8s_pgbouncer', 'shop_report')`);
}

beforeAll(async () => {
  const workDir = makeWorkDir('pg-e2e-access');
  const etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
  dir = path.join(workDir, NAME);
  fs.mkdirSync(dir, { recursive: true });
  const file = synthAccess(path.join(dir, 'manifests'));
  cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint: etcd.endpoint });
  ca = cluster.secretFile(`${NAME}-ca`, 'ca.crt');
  await cluster.startHealthy();
});

afterAll(async () => {
  if (cluster) await cluster.shutdown();
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

// Regression: with users/databases given as props the access Job was once rendered before the
// pooler was known ("pooler": null), so PgBouncer's auth role and get_auth() were never created.
test('props form: the access Job of users/databases given as props also sets up the pooler role', () => {
  const file = synthCluster(path.join(makeWorkDir('pg-e2e-access-props'), 'manifests'), NAME, PROPS);
  const job = objectsOfKind(loadManifests(file), 'Job').find((j) => j.metadata.name.startsWith(`${NAME}-access-`))!;
  const env = job.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  expect(JSON.parse(env.find((e) => e.name === 'PGC_ACCESS')!.value!).pooler).toEqual({ user: 'cdk8s_pgbouncer', passwordEnv: 'PGC_POOLER_PASSWORD' });
});

test('the credentials Job (real script, fake API) creates full user Secrets and the pooler userlist', () => {
  const app = cluster.createdSecrets.get(`${NAME}-user-shop-app`)!;
  expect(app).toBeDefined();
  const pw = app.data.password;
  expect(app.data).toEqual({
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
  expect(cluster.createdSecrets.has(`${NAME}-user-shop-owner`)).toBe(false);
  const bouncer = cluster.createdSecrets.get(`${NAME}-pgbouncer`)!;
  expect(bouncer.data['userlist.txt']).toBe(`"cdk8s_pgbouncer" "${bouncer.data.password}"\n`);
});

test('the access Job applies roles, databases, extensions and grants', async () => {
  const run = await cluster.runJob(`${NAME}-access-`);
  expect({ exit: run.exitCode, log: run.log }).toEqual({ exit: 0, log: expect.stringContaining('access applied: 2 roles, 2 databases') });
  expect(run.log).not.toContain(cluster.secretValue(`${NAME}-user-shop-app`, 'password'));
  expect(await roleState()).toBe('cdk8s_pgbouncer:true:false:false:false:-1,shop_app:true:false:false:false:-1,shop_owner:false:false:false:false:-1');
  expect(await psql(su(), "select string_agg(datname || ':' || pg_get_userbyid(datdba), ',' order by datname) from pg_database where datname in ('shop', 'other')"))
    .toBe('other:postgres,shop:shop_owner');
  expect(await psql({ ...su(), database: 'shop' }, "select extname from pg_extension where extname = 'pgcrypto'")).toBe('pgcrypto');
  expect(await psql(su(), "select pg_has_role('shop_app', 'shop_owner', 'member')::text || ',' || has_database_privilege('shop_app', 'shop', 'CONNECT')::text || ',' || has_database_privilege('shop_app', 'other', 'CONNECT')::text"))
    .toBe('true,true,false');
  expect(await psql(su(), "select string_agg(rolname || ':' || (rolpassword like 'SCRAM-SHA-256$4096:%')::text, ',' order by rolname) from pg_authid where rolname in ('shop_app', 'cdk8s_pgbouncer')"))
    .toBe('cdk8s_pgbouncer:true,shop_app:true');
});

test('shop_app writes through the read-write Service with its Secret URI (verify-full)', async () => {
  expect(await psqlUri(appUri(), `create table orders (id int primary key, item text);
    insert into orders values (1, 'book');
    select current_user || ',' || (select ssl::text from pg_stat_ssl where pid = pg_backend_pid()) || ',' || count(*) from orders`))
    .toBe('shop_app,true,1');
});

test('shop_app writes through the pooler (PgBouncer, auth_query, TLS)', async () => {
  expect(await psqlUri(poolerUri(), "insert into orders values (2, 'pen'); select count(*) from orders")).toBe('2');
  // The pooler is a distinct TLS endpoint; server connections are made by PgBouncer.
  expect(await psql(su(), "select bool_and(s.ssl)::text from pg_stat_activity a join pg_stat_ssl s using (pid) where a.usename = 'shop_app' and a.datname = 'shop'"))
    .toBe('true');
});

test('shop_app cannot create roles nor connect to another database', async () => {
  await expect(psqlUri(appUri(), 'create role intruder')).rejects.toThrow(/permission denied to create role/);
  await expect(psqlUri(appUri({ dbname: 'other' }), 'select 1')).rejects.toThrow(/permission denied for database "other"/);
});

test('re-running the access Job changes nothing; a new declaration adds a user and keeps the data', async () => {
  const before = await roleState();
  const rerun = await cluster.runJob(`${NAME}-access-`);
  expect(rerun.exitCode).toBe(0);
  expect(await roleState()).toBe(before);
  expect(await psqlUri(appUri(), 'select count(*) from orders')).toBe('2');
  // The app password still works (same Secret: re-applied verifier of the same password).
  const file = synthAccess(path.join(dir, 'manifests2'), [{ name: 'shop_report', connectionLimit: 3, databases: [{ database: 'shop' }] }]);
  await cluster.apply(file);
  expect(cluster.createdSecrets.get(`${NAME}-user-shop-report`)?.data.dbname).toBe('shop');
  const changed = await cluster.runJob(`${NAME}-access-`);
  expect(changed.exitCode).toBe(0);
  expect(changed.job).not.toBe(rerun.job);
  expect(await roleState()).toBe(`${before},shop_report:true:false:false:false:3`);
  const report = new URL(cluster.secretValue(`${NAME}-user-shop-report`, 'uri')).toString();
  expect(await psqlUri(report, 'select current_user')).toBe('shop_report');
  expect(await psqlUri(appUri(), 'select string_agg(item, \',\' order by id) from orders')).toBe('book,pen');
});

test('after a switchover the pooler reaches the new leader', async () => {
  const leader = await waitForLeader(cluster.running());
  const candidate = cluster.running().find((m) => m.name !== leader.name && !m.name.includes('delayed'))!;
  // Timed from the switchover request (Patroni answers it once the new leader runs).
  const t0 = Date.now();
  const res = await switchover(cluster.member(leader.name), { leader: leader.name, candidate: candidate.name });
  expect(res.status).toBe(200);
  const answered = (Date.now() - t0) / 1000;
  let id = 100;
  await waitFor(async () => {
    try {
      await psqlUri(poolerUri(), `insert into orders values (${id++}, 'after switchover')`);
      return true;
    } catch {
      return undefined;
    }
  }, 60_000, 250, 'a write through the pooler after the switchover');
  const seconds = (Date.now() - t0) / 1000;
  record('pooler write after switchover (s)', Math.round(seconds * 10) / 10);
  record('switchover request answered after (s)', Math.round(answered * 10) / 10);
  expect((await waitForLeader(cluster.running())).name).toBe(candidate.name);
  expect(seconds).toBeLessThan(30);
});
