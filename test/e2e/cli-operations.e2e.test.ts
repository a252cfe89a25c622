/**
 * The operations commands (`status`, `switchover`, `backup`, `restart`) against the real API server of the local
 * cluster (test/kube/cluster.sh), with the admin kubeconfig and with a ServiceAccount token that
 * has no rights: output and exit codes as a user or a script sees them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { BackupRepository, FailoverTiming } from '../../src';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';
import { EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_OK } from '../../src/cli/exit';
import { main } from '../../src/cli/main';

const RUN = Date.now().toString(36).slice(-5);
const NS = `op-${RUN}`;
const NAME = 'pgop';
let kube: KubeCluster;
let pg: KubePostgres;
let leader: Obj;
let workDir: string;

/** Runs the CLI in-process as `cdk8s-postgres-cluster <args>`. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join(''), err: err.join('') };
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-kube-cli');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  await kube.apply(synthCluster(path.join(workDir, NS), NAME, {
    replicas: { count: 1 },
    failoverTiming: FailoverTiming.FAST,
    backup: { repositories: [BackupRepository.volume()] },
  }), NS);
  pg = new KubePostgres(kube, NS, NAME);
  leader = await pg.waitHealthy(2, 300_000);
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
});

test('status --output json: members, roles and lag as Patroni records them, the Services\' endpoints, the certificates', async () => {
  const r = await cli('status', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const s = JSON.parse(r.out);
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  expect(s.leader).toBe(leader.metadata.name);
  expect(s.members.map((m: any) => [m.name, m.role, m.ready, m.timeline >= 1, m.node])).toEqual([
    [leader.metadata.name, 'leader', true, true, leader.spec.nodeName],
    [replica.metadata.name, 'replica', true, true, replica.spec.nodeName],
  ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  expect(s.members.find((m: any) => m.name === replica.metadata.name)).toMatchObject({ state: 'streaming', lagBytes: expect.any(Number) });
  expect(s.services).toEqual(expect.arrayContaining([
    { name: `${NAME}-primary`, endpoints: [leader.metadata.name] },
    { name: `${NAME}-replicas`, endpoints: [replica.metadata.name] },
  ]));
  const server = s.certificates.find((c: any) => c.name === `${NAME}-server`);
  const issued = await kube.get('certificate', `${NAME}-server`, NS);
  expect(server).toEqual({ name: `${NAME}-server`, ready: true, notAfter: issued.status.notAfter, renewalTime: issued.status.renewalTime });
});

test('status as a table names the leader and each member\'s role', async () => {
  const r = await cli('status', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect(r.code).toBe(EXIT_OK);
  expect(r.out).toContain(`Cluster ${NAME} in namespace ${NS}: leader ${leader.metadata.name}`);
  expect(r.out).toMatch(new RegExp(`${leader.metadata.name}\\s+leader\\s+running\\s+yes`));
  expect(r.out).toMatch(/replica\s+streaming\s+yes/);
});

test('switchover --to the replica: Patroni moves the lock, the labels and the read-write Service follow', async () => {
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const r = await cli('switchover', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--to', replica.metadata.name, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const result = JSON.parse(r.out);
  expect(result).toMatchObject({ cluster: NAME, namespace: NS, from: leader.metadata.name, to: replica.metadata.name });
  record('cli switchover: seconds from the request to the new leader lock', result.seconds);
  const healthy = await pg.waitHealthy(2, 120_000);
  expect(healthy.metadata.name).toBe(replica.metadata.name);
  // Patroni consumed the request.
  const req = await kube.get('configmap', `${NAME}-failover`, NS);
  expect(req.metadata.annotations?.leader).toBeUndefined();
});

test('exit codes: a cluster or member that does not exist is 3; a token without rights is 5', async () => {
  const missing = await cli('status', 'nope', '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect([missing.code, missing.err.trim()]).toEqual([EXIT_NOT_FOUND, `error: no cluster nope in namespace ${NS}: no member pods labelled postgres.cdk8s.io/cluster=nope and no ConfigMap nope-leader`]);
  const member = await cli('switchover', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--to', `${NAME}-replica-7`);
  expect([member.code, member.err]).toEqual([EXIT_NOT_FOUND, expect.stringContaining(`has no member ${NAME}-replica-7`)]);

  await kube.kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
  const token = (await kube.kubectl(['create', 'token', 'nobody', '-n', NS, '--duration=10m'])).trim();
  const admin = JSON.parse(await kube.kubectl(['config', 'view', '--raw', '-o', 'json']));
  const cluster = admin.clusters[0];
  const file = path.join(workDir, 'nobody.kubeconfig');
  fs.writeFileSync(file, stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    'current-context': 'nobody',
    'clusters': [cluster],
    'users': [{ name: 'nobody', user: { token } }],
    'contexts': [{ name: 'nobody', context: { cluster: cluster.name, user: 'nobody', namespace: NS } }],
  }));
  const denied = await cli('status', NAME, '--kubeconfig', file);
  expect(denied.code).toBe(EXIT_NOT_ALLOWED);
  expect(denied.err).toMatch(new RegExp(`^error: not allowed to list pods in namespace ${NS}: .*system:serviceaccount:${NS}:nobody.* cannot list resource "pods"`));
});

test('backup: a Job from the repository\'s CronJob runs the type asked for, and the repository records it', async () => {
  await kube.until('the backup init Job to complete (the first full backup)', 300_000, async () => {
    const jobs = await kube.list('jobs', NS);
    return jobs.some((j) => j.metadata.name.startsWith(`${NAME}-backup-init-`) && j.status?.succeeded === 1);
  }, 1000);
  // The default schedules are full and incr: incr comes from its own CronJob, diff from another with its type changed.
  for (const [type, from, label] of [['incr', `${NAME}-repo1-incr`, 'I'], ['diff', `${NAME}-repo1-full`, 'D']]) {
    const r = await cli('backup', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--type', type, '-o', 'json');
    expect([r.code, r.err]).toEqual([EXIT_OK, '']);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ cluster: NAME, repo: 1, type, fromCronJob: from, outcome: 'succeeded' });
    record(`cli backup ${type}: seconds from the Job's creation to its completion`, result.seconds);
    const job = await kube.get('job', result.job, NS);
    expect(job.metadata.ownerReferences[0]).toMatchObject({ kind: 'CronJob', name: from });
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    const [pod] = await kube.list('pods', NS, `job-name=${result.job}`);
    const log = fs.readFileSync(path.join(kube.podLogDir(NS, pod), 'pgbackrest.log'), 'utf8');
    expect(log).toMatch(new RegExp(`--type=${type}`));
    expect(log).toMatch(new RegExp(`new backup label = \\d{8}-\\d{6}F_\\d{8}-\\d{6}${label}`));
  }
  const missing = await cli('backup', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--repo', '2');
  expect([missing.code, missing.err.trim()]).toEqual([EXIT_NOT_FOUND, `error: cluster ${NAME} has no backup schedule for repository 2; its repositories: 1`]);
});

test('restart: every member\'s PostgreSQL restarted, the replica first, the leader last; no pod replaced', async () => {
  await pg.waitHealthy(2, 120_000);
  const pods = await pg.pods();
  const started = new Map<string, string>();
  for (const pod of pods) started.set(pod.metadata.name, await psql(await pg.superuserAt(pod), 'select pg_postmaster_start_time()'));
  const uids = pods.map((p) => p.metadata.uid).sort();
  const current = (await pg.labelledLeader())!.metadata.name;
  const r = await cli('restart', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const result = JSON.parse(r.out);
  expect(result).toMatchObject({ cluster: NAME, fromCronJob: `${NAME}-restart`, outcome: 'succeeded' });
  record('cli restart: seconds from the Job\'s creation to its completion (2 members)', result.seconds);
  const [jobPod] = await kube.list('pods', NS, `job-name=${result.job}`);
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, jobPod), 'apply-config.log'), 'utf8');
  expect([...log.matchAll(/^restarting (\S+)/gm)].map((m) => m[1])).toEqual([...started.keys()].filter((m) => m !== current).concat(current));
  await pg.waitHealthy(2, 120_000);
  for (const pod of await pg.pods()) {
    expect({ m: pod.metadata.name, restarted: (await psql(await pg.superuserAt(pod), 'select pg_postmaster_start_time()')) !== started.get(pod.metadata.name) })
      .toEqual({ m: pod.metadata.name, restarted: true });
  }
  expect((await pg.pods()).map((p) => p.metadata.uid).sort()).toEqual(uids);
  const missing = await cli('restart', 'nosuch', '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect(missing.code).toBe(EXIT_NOT_FOUND);
});
