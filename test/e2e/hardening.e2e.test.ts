/**
 * The hardening items of the manifests, proven on real Kubernetes (test/kube/cluster.sh): the
 * scheduler and admission act on the scheduling controls, the backup node is kept off the members'
 * nodes, the superuser is refused over TCP by default, the typed TLS minimum and WAL level reach
 * PostgreSQL, no password sits in the environment of PostgreSQL's processes, and a replica's
 * readiness does not hang on the leader's heartbeat sidecar.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupRepository, FailoverTiming, PostgresClusterProps, TlsVersion, WalLevel } from '../../src';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir } from './lib/fsutil';
import { PgTarget, psql } from './lib/pg';

const RUN = Date.now().toString(36).slice(-5);
const NS = `hd-${RUN}`;
const NAME = 'pgh';
const PRIORITY_CLASS = `cdk8s-e2e-hardening-${RUN}`;
const PRIORITY = 1234;
/** Members may only go to zone-a (node-a and node-c); the backup node is free to go anywhere. */
const ZONE = { 'topology.kubernetes.io/zone': 'zone-a' };

const PROPS: PostgresClusterProps = {
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: 1 },
  // Members on node-a and node-c (zone-a), so node-b is the one node without a member.
  requireSeparateNodes: true,
  config: {
    // The library's defaults, not the e2e harness's opt-in: postgres over TCP is refused.
    connection: { superuserNetworkAccess: false, tlsMinVersion: TlsVersion.TLS_1_2 },
    replication: { walLevel: WalLevel.LOGICAL },
  },
  databases: [{ name: 'shop', owner: 'shop_app' }],
  users: [{ name: 'shop_app', databases: [{ database: 'shop' }] }],
  scheduling: { nodeSelector: ZONE, priorityClassName: PRIORITY_CLASS },
  backup: {
    repositories: [BackupRepository.volume()],
    scheduling: { priorityClassName: PRIORITY_CLASS },
  },
};

let kube: KubeCluster;
let pg: KubePostgres;
let leader: Obj;
let workDir: string;

beforeAll(async () => {
  workDir = makeWorkDir('pg-kube-hardening');
  kube = KubeCluster.up();
  await kube.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
    apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: PRIORITY_CLASS }, value: PRIORITY,
  }));
  await kube.createNamespace(NS);
  await kube.apply(synthCluster(path.join(workDir, NS), NAME, PROPS), NS);
  pg = new KubePostgres(kube, NS, NAME);
  leader = await pg.waitHealthy(2, 420_000);
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  await kube?.kubectl(['delete', 'priorityclass', PRIORITY_CLASS, '--wait=false']).catch(() => undefined);
  kube?.down();
});

const nodeZone = async (node: string) => (await kube.get('node', node)).metadata.labels['topology.kubernetes.io/zone'];

test('scheduling controls: the members land only on the selected zone; admission resolves the PriorityClass on every pod the library makes', async () => {
  const members = await pg.pods();
  expect(await Promise.all(members.map((p) => nodeZone(p.spec.nodeName)))).toEqual(['zone-a', 'zone-a']);
  // Every pod of the cluster: members, backup node, the credentials / access / CA / backup-init Jobs.
  const pods = await kube.until('the backup init Job to succeed', 300_000, async () => {
    const all = await kube.list('pods', NS);
    const init = all.find((p) => p.metadata.name.startsWith(`${NAME}-backup-init-`));
    return init?.status?.phase === 'Succeeded' ? all : undefined;
  }, 1000);
  const byPriority = pods.map((p) => `${p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.name}:${p.spec.priorityClassName}:${p.spec.priority}`);
  expect(pods.length).toBeGreaterThanOrEqual(5);
  for (const line of byPriority) expect(line).toMatch(new RegExp(`:${PRIORITY_CLASS}:${PRIORITY}$`));
});

test('the backup node runs on a node with no member, when one is free', async () => {
  const repo = await kube.until('the backup node pod to be scheduled', 120_000, async () => {
    const pods = await kube.list('pods', NS, 'postgres.cdk8s.io/cluster=' + NAME);
    return pods.find((p) => p.metadata.name.startsWith(`${NAME}-repo-host`) && p.spec.nodeName);
  }, 500);
  const memberNodes = (await pg.pods()).map((p) => p.spec.nodeName);
  expect(new Set(memberNodes).size).toBe(2);
  expect(memberNodes).not.toContain(repo.spec.nodeName);
  expect(repo.spec.nodeName).toBe('node-b');
});

test('postgres is refused over TCP by default; the application user gets in over TLS 1.2 and sees the typed settings', async () => {
  const rw = await pg.superuserVia(`${NAME}-primary`);
  await expect(psql(rw, 'select 1')).rejects.toThrow(/pg_hba\.conf rejects connection|no pg_hba\.conf entry/);
  const secret = await kube.secret(`${NAME}-user-shop-app`, NS);
  const app: PgTarget = { host: rw.host, port: 5432, user: 'shop_app', password: secret.password, database: 'shop', sslmode: 'require' };
  // libpq takes a conninfo string where a database name goes: here one that caps TLS at 1.2.
  const tls12: PgTarget = { ...app, database: 'dbname=shop ssl_max_protocol_version=TLSv1.2' };
  // A client that cannot go above TLS 1.2 (an older JDBC stack) is let in: tlsMinVersion reached PostgreSQL.
  const row = await psql(tls12, "select version, current_setting('wal_level') from pg_stat_ssl where pid = pg_backend_pid()");
  expect(row).toBe('TLSv1.2|logical');
  // wal_level logical: the owner of a table publishes it.
  expect(await psql(app, 'create table orders (id int primary key); create publication orders_pub for table orders; select pubname from pg_publication')).toBe('orders_pub');
});

/** The pids of a container of a pod, from the node agent's cgroup. */
function containerPids(pod: Obj, container: string): number[] {
  const id = pod.metadata.uid.replace(/-/g, '').slice(0, 8);
  const procs = path.join('/sys/fs/cgroup/unified/pgk', id, container, 'cgroup.procs');
  return fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number);
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

test('no password is in the environment of PostgreSQL\'s processes (postmaster, backends, archiver); only Patroni and the wrapper that starts it hold the container\'s', async () => {
  const names = ['superuser', 'replication', 'rewind', 'monitoring', 'access'];
  const secrets = await kube.list('secrets', NS);
  const passwords = secrets.flatMap((s) => Object.entries<string>(s.data ?? {}))
    .filter(([k]) => k === 'password').map(([, v]) => Buffer.from(v, 'base64').toString('utf8')).filter((p) => p.length >= 12);
  expect(passwords.length).toBeGreaterThanOrEqual(names.length);
  let postgresProcesses = 0;
  let patroniHolding = 0;
  let wrapperHolding = 0;
  for (const pod of await pg.pods()) {
    for (const pid of containerPids(pod, 'postgres')) {
      const cmd = cmdline(pid);
      let env: string;
      try {
        env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        continue; // exited between the listing and the read
      }
      if (/reload-on-change\.sh/.test(cmd)) {
        // The container's first process, the reload wrapper that starts Patroni: the runtime gives
        // it the container's environment. It starts no other process (test_reload_on_change.py).
        if (passwords.some((p) => env.includes(p))) wrapperHolding++;
        continue;
      }
      if (/patroni/.test(cmd)) {
        // The control: the same read finds Patroni's own PATRONI_* passwords in its environment.
        if (passwords.some((p) => env.includes(p))) patroniHolding++;
        continue;
      }
      if (/^postgres/.test(cmd)) postgresProcesses++;
      const leaked = passwords.filter((p) => env.includes(p));
      expect({ pod: pod.metadata.name, cmd, leaked: leaked.length }).toEqual({ pod: pod.metadata.name, cmd, leaked: 0 });
    }
  }
  // The postmaster and its auxiliary processes of both members were looked at.
  expect(postgresProcesses).toBeGreaterThanOrEqual(10);
  expect([patroniHolding, wrapperHolding]).toEqual([2, 2]);
});

test('a stopped heartbeat sidecar on the leader does not turn the streaming replica unready', async () => {
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const env = Object.fromEntries(replica.spec.containers.find((c: any) => c.name === 'heartbeat').env.map((e: any) => [e.name, e.value]));
  const maxLagSeconds = Number(env.HB_MAX_LAG_SECONDS);
  const leaderHeartbeat = containerPids(leader, 'heartbeat');
  expect(leaderHeartbeat.length).toBeGreaterThan(0);
  for (const pid of leaderHeartbeat) process.kill(pid, 'SIGSTOP');
  const watchedMs = (maxLagSeconds * 2 + 5) * 1000;
  const t0 = Date.now();
  const unready: string[] = [];
  try {
    while (Date.now() - t0 < watchedMs) {
      const r = await kube.get('pod', replica.metadata.name, NS);
      if (!KubeCluster.isReady(r)) unready.push(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  } finally {
    for (const pid of leaderHeartbeat) process.kill(pid, 'SIGCONT');
  }
  record('hardening: seconds a replica was watched (all Ready) with the leader heartbeat stopped', watchedMs / 1000);
  expect(unready).toEqual([]);
  expect(await kube.readyEndpoints(`${NAME}-replicas`, NS)).toEqual([replica.status.podIP]);
});
